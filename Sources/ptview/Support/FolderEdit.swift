import ArgumentParser
import Dispatch
import PTViewCore
import PTViewEdit
import PTViewFiles
import PTViewPipeline
import PTViewZip

#if canImport(Glibc)
  import Glibc
#endif

/// `remap`/`edit` of a checkpoint folder: every torch file written as the single-file
/// pipeline writes it (torch's own layout, verified), every other file (index, config,
/// tokenizer) copied byte for byte, all into a temporary folder beside OUT that is renamed
/// into place only when everything is written and synced.
enum FolderEdit {
  static func run(
    folder: OpenedFolder, output: String, force: Bool, json: Bool, noProgress: Bool, verb: String,
    operations: [EditOperation]
  ) throws {
    if AtomicOutput.sameFile(folder.path, output) {
      Diagnostics.stderr(
        "ptview: \(output) is the input folder; write the fixed folder elsewhere with -o")
      throw ExitCode(1)
    }
    if AtomicOutput.exists(output) && !force {
      Diagnostics.stderr("ptview: \(output) already exists; use --force to replace it")
      throw ExitCode(1)
    }
    let members = folder.checkpoint.members
    // Selections by key are per model, and a folder's model is spread over files: planned
    // per file they would refuse every file that lacks the key. Not yet.
    if operations.contains(where: {
      switch $0 {
      case .drop, .keep, .extract, .fromError: true
      default: false
      }
    }) {
      Diagnostics.stderr(
        "ptview: \(folder.path): --drop, --keep, --extract and --from-error work on single files only (not yet on folders); edit the shards one by one"
      )
      throw ExitCode(1)
    }
    // safetensors shards store no device, so a device move copies them as they are; other
    // edits would have to rewrite them, which ptview does not do yet.
    if members.contains(where: { $0.file.isWeights && $0.file.reading == .safetensors }),
      !operations.allSatisfy({ if case .moveDevices = $0 { true } else { false } })
    {
      Diagnostics.stderr(
        "ptview: \(folder.path): editing safetensors shards is not supported yet; only a device move (which copies them unchanged) is"
      )
      throw ExitCode(1)
    }
    // Plan every file first: a refusal anywhere leaves nothing behind.
    var plans: [String: EditPlan] = [:]
    for (member, checkpoint) in folder.checkpoint.readMembers {
      guard member.file.reading == .torch,
        checkpoint.format != .safetensors && checkpoint.format != .pickle
      else { continue }
      // A file whose tensors could not be interpreted (a pickled TrainingArguments) holds
      // nothing to move: it is copied as it is.
      guard checkpoint.problem == nil else { continue }
      do { plans[member.file.name] = try EditPipeline.plan(checkpoint, operations) } catch {
        Diagnostics.stderr("ptview: \(folder.path(of: member.file.name)): \(error.message)")
        throw ExitCode(error.exitCode)
      }
    }
    let temporary: String
    do {
      temporary = try FolderOutput.makeTemporary(near: output)
      FolderOutput.copyMode(from: folder.path, to: temporary)
    } catch {
      Diagnostics.stderr("ptview: \(error.message)")
      throw ExitCode(1)
    }
    let total = members.reduce(Int64(0)) { $0 + $1.size }
    let bar = ProgressBar(
      enabled: !noProgress && !json && Diagnostics.isTerminal(2), label: "writing")
    let progress = FolderProgress(total: total, bar: bar)
    let results = FolderResults(count: members.count)
    // Subfolders first (DeepSpeed's tag folder), then the files, two at a time: one reads
    // while the other syncs, and memory stays at two files' pickles.
    for member in members where member.file.name.contains("/") {
      let sub = String(member.file.name.prefix(while: { $0 != "/" }))
      do { try FolderOutput.makeFolder(temporary + "/" + sub) } catch {
        results.fail(error.message)
      }
    }
    let planned = plans
    // Edits that rename, drop or cast tensors make the index stale: it is written anew from
    // the shards as written. A device move leaves keys and sizes alone: the index is copied.
    let rebuilt: String? =
      operations.allSatisfy({ if case .moveDevices = $0 { true } else { false } })
      ? nil : folder.checkpoint.index?.name
    DispatchQueue.concurrentPerform(iterations: 2) { worker in
      for i in stride(from: worker, to: members.count, by: 2) where !results.failed {
        let member = members[i]
        let source = folder.path(of: member.file.name)
        let destination = temporary + "/" + member.file.name
        if member.file.name == rebuilt { continue }
        if let plan = planned[member.file.name], let checkpoint = member.checkpoint {
          do {
            let outcome = try EditPipeline.write(
              checkpoint: checkpoint, inputPath: source, plan: plan, outputPath: destination,
              overwrite: false,
              progress: { done, _ in progress.set(i, done) })
            progress.set(i, member.size)
            results.set(i, outcome.report)
          } catch {
            results.fail((error as? WriteFailure)?.message ?? "\(error)")
          }
        } else {
          do {
            try FolderOutput.copy(source, to: destination) { n in progress.add(i, n) }
          } catch {
            results.fail("\(error)")
          }
        }
      }
    }
    bar.finish()
    if let failure = results.failure {
      FolderOutput.removeTree(temporary)
      Diagnostics.stderr("ptview: \(failure)")
      throw ExitCode(1)
    }
    if let rebuilt, results.failure == nil {
      do {
        let text = try rebuiltIndex(folder: folder, temporary: temporary)
        try FolderOutput.write(Array(text.utf8), to: temporary + "/" + rebuilt)
      } catch {
        results.fail("\(error)")
      }
    }
    if let failure = results.failure {
      FolderOutput.removeTree(temporary)
      Diagnostics.stderr("ptview: \(failure)")
      throw ExitCode(1)
    }
    FolderOutput.sync(folder: temporary)
    if let sub = members.first(where: { $0.file.name.contains("/") }) {
      FolderOutput.sync(folder: temporary + "/" + sub.file.name.prefix(while: { $0 != "/" }))
    }
    do { try FolderOutput.commit(temporary, to: output, replace: force) } catch {
      FolderOutput.removeTree(temporary)
      Diagnostics.stderr("ptview: \(error.message)")
      throw ExitCode(1)
    }
    report(
      folder: folder, output: output, results: results, rebuilt: rebuilt, json: json, verb: verb)
  }

  /// The index of the shards as written, in the layout transformers writes
  /// (`metadata.total_size`, then `weight_map` sorted by key, two-space indents).
  private static func rebuiltIndex(folder: OpenedFolder, temporary: String) throws(WriteError)
    -> String
  {
    var map: [(String, String)] = []
    var total: Int64 = 0
    for member in folder.checkpoint.members where member.file.isWeights {
      guard member.checkpoint != nil else { continue }
      let path = temporary + "/" + member.file.name
      let checkpoint: Checkpoint
      do {
        let source = try FileSource(path: path)
        checkpoint = try CheckpointReader(decompressor: Loading.LazyLibzip(path: path)).read(source)
      } catch {
        throw WriteError("cannot read back \(path) to write the index: \(error)")
      }
      // total_size counts each storage once, as huggingface_hub's splitter does (tied
      // weights share one).
      var counted: Set<String> = []
      for entry in checkpoint.entries where entry.inStateDict {
        map.append((entry.key, member.file.name))
        let storages = entry.tensor.allStorages
        if storages.isEmpty { total = total.addingSaturated(entry.tensor.nbytes) }
        for storage in storages where counted.insert(storage.record).inserted {
          total = total.addingSaturated(storage.byteCount)
        }
      }
    }
    map.sort { $0.0 < $1.0 }
    var text = "{\n  \"metadata\": {\n    \"total_size\": \(total)\n  },\n  \"weight_map\": {\n"
    text += map.map { "    \(JSONWriter.quoted($0.0)): \(JSONWriter.quoted($0.1))" }.joined(
      separator: ",\n")
    text += "\n  }\n}\n"
    return text
  }

  private static func report(
    folder: OpenedFolder, output: String, results: FolderResults, rebuilt: String?, json: Bool,
    verb: String
  ) {
    let members = folder.checkpoint.members
    var rewritten = 0
    var moved = 0
    var lines: [String] = []
    var objects: [String] = []
    for (i, member) in members.enumerated() {
      if let report = results.report(i) {
        rewritten += 1
        let changed = report.plan.edits.count
        moved += changed
        lines.append("  \(member.file.name): rewritten, \(report.verifiedTensors) tensors verified")
        objects.append(
          "{\"file\": \(JSONWriter.quoted(member.file.name)), \"action\": \"rewritten\", \"output_size\": \(report.outputSize), \"verified_tensors\": \(report.verifiedTensors)}"
        )
      } else if member.file.name == rebuilt {
        lines.append("  \(member.file.name): written anew from the shards as written")
        objects.append(
          "{\"file\": \(JSONWriter.quoted(member.file.name)), \"action\": \"index rewritten\"}")
      } else if member.file.reading == .safetensors {
        lines.append("  \(member.file.name): copied unchanged (safetensors stores no devices)")
        objects.append(
          "{\"file\": \(JSONWriter.quoted(member.file.name)), \"action\": \"copied\", \"reason\": \"safetensors stores no devices\"}"
        )
      } else {
        lines.append("  \(member.file.name): copied unchanged")
        objects.append(
          "{\"file\": \(JSONWriter.quoted(member.file.name)), \"action\": \"copied\"}")
      }
    }
    if json {
      Diagnostics.out(
        "{\"verb\": \(JSONWriter.quoted(verb)), \"input\": \(JSONWriter.quoted(folder.path)), \"output\": \(JSONWriter.quoted(output)), \"files\": [\n  "
          + objects.joined(separator: ",\n  ") + "\n]}\n")
    } else {
      Diagnostics.out(
        "wrote \(output): \(rewritten) checkpoint file\(rewritten == 1 ? "" : "s") rewritten and verified, \(members.count - rewritten) copied unchanged\n"
          + lines.joined(separator: "\n") + "\n")
    }
  }
}

/// Bytes done per file, summed for the bar (files written by two workers at once).
private final class FolderProgress: @unchecked Sendable {
  private let lock = NSLockLike()
  private var done: [Int: Int64] = [:]
  private let total: Int64
  private let bar: ProgressBar
  init(total: Int64, bar: ProgressBar) {
    self.total = total
    self.bar = bar
  }
  func set(_ file: Int, _ bytes: Int64) {
    lock.locked { done[file] = bytes }
    update()
  }
  func add(_ file: Int, _ bytes: Int64) {
    lock.locked { done[file, default: 0] += bytes }
    update()
  }
  private func update() {
    let sum = lock.locked { done.values.reduce(0, +) }
    bar.update(min(sum, total), total)
  }
}

/// Each file's write report, and the first failure.
private final class FolderResults: @unchecked Sendable {
  private let lock = NSLockLike()
  private var reports: [Int: WriteReport] = [:]
  private(set) var failure: String?
  init(count: Int) {}
  var failed: Bool { lock.locked { failure != nil } }
  func set(_ i: Int, _ report: WriteReport) { lock.locked { reports[i] = report } }
  func report(_ i: Int) -> WriteReport? { lock.locked { reports[i] } }
  func fail(_ message: String) { lock.locked { if failure == nil { failure = message } } }
}

/// A pthread mutex (Foundation is not linked).
private final class NSLockLike: @unchecked Sendable {
  private var mutex = pthread_mutex_t()
  init() { pthread_mutex_init(&mutex, nil) }
  deinit { pthread_mutex_destroy(&mutex) }
  func locked<T>(_ body: () -> T) -> T {
    pthread_mutex_lock(&mutex)
    defer { pthread_mutex_unlock(&mutex) }
    return body()
  }
}
