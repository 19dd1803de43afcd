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
    let bar = ProgressBar(
      enabled: !noProgress && !json && Diagnostics.isTerminal(2), label: "writing")
    let outcome: Outcome
    do {
      outcome = try write(
        folder: folder, output: output, replace: force, operations: operations,
        progress: { done, total in bar.update(done, total) })
      bar.finish()
    } catch {
      bar.finish()
      Diagnostics.stderr("ptview: \(error.message)")
      throw ExitCode(error.exitCode)
    }
    report(
      folder: folder, output: output, results: outcome.results, rebuilt: outcome.rebuilt,
      json: json, verb: verb)
  }

  /// Why a folder write stopped; nothing was left at the output.
  struct Failure: Error {
    var message: String
    var exitCode: Int32 = 1
  }

  /// What a folder write did: each file's report, and the index written anew (if any).
  struct Outcome: @unchecked Sendable {
    fileprivate var results: FolderResults
    var rebuilt: String?
    /// Files rewritten and verified, and files copied as they were.
    var rewritten: Int
    var copied: Int
  }

  /// Writes `folder` with `operations` applied to OUT (the refusals of `ptview edit` on a
  /// folder first), as `remap`/`edit` and the explorer's `w` do. `progress` gets the bytes
  /// done of all files, from the writer threads (it must lock what it touches).
  static func write(
    folder: OpenedFolder, output: String, replace: Bool, operations: [EditOperation],
    progress: @escaping @Sendable (Int64, Int64) -> Void
  ) throws(Failure) -> Outcome {
    let members = folder.checkpoint.members
    // Selections by key are per model, and a folder's model is spread over files: planned
    // per file they would refuse every file that lacks the key. Not yet.
    if operations.contains(where: {
      switch $0 {
      case .drop, .keep, .extract, .fromError: true
      default: false
      }
    }) {
      throw Failure(
        message:
          "\(folder.path): --drop, --keep, --extract and --from-error work on single files only (not yet on folders); edit the shards one by one"
      )
    }
    // safetensors shards store no device, so a device move copies them as they are; other
    // edits would have to rewrite them, which ptview does not do yet.
    if members.contains(where: { $0.file.isWeights && $0.file.reading == .safetensors }),
      !operations.allSatisfy({ if case .moveDevices = $0 { true } else { false } })
    {
      throw Failure(
        message:
          "\(folder.path): editing safetensors shards is not supported yet; only a device move (which copies them unchanged) is"
      )
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
        throw Failure(
          message: "\(folder.path(of: member.file.name)): \(error.message)",
          exitCode: error.exitCode)
      }
    }
    let temporary: String
    do {
      temporary = try FolderOutput.makeTemporary(near: output)
      FolderOutput.copyMode(from: folder.path, to: temporary)
    } catch {
      throw Failure(message: error.message)
    }
    let total = members.reduce(Int64(0)) { $0 + $1.size }
    let progress = FolderProgress(total: total, update: progress)
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
    if let failure = results.failure {
      FolderOutput.removeTree(temporary)
      throw Failure(message: failure)
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
      throw Failure(message: failure)
    }
    FolderOutput.sync(folder: temporary)
    if let sub = members.first(where: { $0.file.name.contains("/") }) {
      FolderOutput.sync(folder: temporary + "/" + sub.file.name.prefix(while: { $0 != "/" }))
    }
    do { try FolderOutput.commit(temporary, to: output, replace: replace) } catch {
      FolderOutput.removeTree(temporary)
      throw Failure(message: error.message)
    }
    let rewritten = members.indices.count { results.report($0) != nil }
    return Outcome(
      results: results, rebuilt: rebuilt, rewritten: rewritten, copied: members.count - rewritten)
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
  private let update: @Sendable (Int64, Int64) -> Void
  init(total: Int64, update: @escaping @Sendable (Int64, Int64) -> Void) {
    self.total = total
    self.update = update
  }
  func set(_ file: Int, _ bytes: Int64) {
    lock.locked { done[file] = bytes }
    report()
  }
  func add(_ file: Int, _ bytes: Int64) {
    lock.locked { done[file, default: 0] += bytes }
    report()
  }
  private func report() {
    let sum = lock.locked { done.values.reduce(0, +) }
    update(min(sum, total), total)
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
