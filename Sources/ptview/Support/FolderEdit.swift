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
  /// What the first pass learned of one file; its pickles are not kept.
  struct Scanned: Sendable {
    var size: Int64 = 0
    /// Whether it reads as a checkpoint (torch or safetensors).
    var readable = false
    /// Whether it is a torch file with tensors a plan applies to.
    var plannable = false
    /// Its state_dict keys (weights files).
    var keys: [String] = []
    /// Why a weights file cannot be read.
    var error: CheckpointError?
  }

  static func run(
    folder: ListedFolder, output: String, force: Bool, json: Bool, noProgress: Bool, verb: String,
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
      json: json, verb: verb, keyPlan: outcome.keyPlan)
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
    var keyPlan: FolderKeyPlan?
    /// Files rewritten and verified, and files copied as they were.
    var rewritten: Int
    var copied: Int
  }

  /// Writes `folder` with `operations` applied to OUT (the refusals of `ptview edit` on a
  /// folder first), as `remap`/`edit` and the explorer's `w` do. `progress` gets the bytes
  /// done of all files, from the writer threads (it must lock what it touches).
  static func write(
    folder: ListedFolder, output: String, replace: Bool, operations: [EditOperation],
    progress update: @escaping @Sendable (Int64, Int64) -> Void
  ) throws(Failure) -> Outcome {
    let files = folder.layout.files
    // Choosing a new root is per file (each shard's pickle has its own); not yet on folders.
    if operations.contains(where: {
      switch $0 {
      case .extract, .stateDict, .fromError: true
      default: false
      }
    }) {
      throw Failure(
        message:
          "\(folder.path): --extract, --state-dict and --from-error work on single files only (not yet on folders); edit the shards one by one"
      )
    }
    let ordered = FolderKeyPlan.ordered(operations)
    let keyEdits = FolderKeyPlan.changesKeys(ordered)
    let castTarget = SafetensorsEditPlan.cast(in: ordered)
    // First pass, two files at a time: read each file's pickles for its keys and whether it
    // reads at all, then let them go. Memory holds two files' pickles, never the folder's.
    let scans = Slots<Scanned>(count: files.count, empty: Scanned())
    DispatchQueue.concurrentPerform(iterations: 2) { worker in
      for i in stride(from: worker, to: files.count, by: 2) {
        let read = Loading.readMember(files[i], at: folder.path(of: files[i].name), strict: true)
        var scan = Scanned(size: read.size, readable: read.checkpoint != nil)
        if let checkpoint = read.checkpoint {
          scan.plannable =
            files[i].reading == .torch && checkpoint.format != .safetensors
            && checkpoint.format != .pickle && checkpoint.problem == nil
          if files[i].isWeights && keyEdits {
            scan.keys = checkpoint.entries.lazy.filter(\.inStateDict).map(\.key)
          }
        }
        if files[i].isWeights { scan.error = read.error }
        scans.set(i, scan)
      }
    }
    let scanned = (0..<files.count).map { scans.get($0) }
    for (file, scan) in zip(files, scanned) {
      if let error = scan.error {
        throw Failure(message: "\(folder.path(of: file.name)): \(error)")
      }
    }
    // Key edits are planned over the model the folder holds, then handed to each file.
    var keyPlan: FolderKeyPlan?
    if keyEdits {
      let keys = zip(files, scanned).filter { $0.0.isWeights }.flatMap { $0.1.keys }
      do { keyPlan = try FolderKeyPlan.plan(keys: keys, ordered) } catch {
        throw Failure(message: "\(folder.path): \(error.message)")
      }
    }
    // safetensors shards store no device: a device move alone copies them; key edits and
    // casts rewrite them.
    let rewritesSafetensors = keyEdits || castTarget != nil
    let planned = keyPlan
    let operationsFor: @Sendable (Int) -> [EditOperation] = { i in
      planned?.operations(forFile: scanned[i].keys, weights: files[i].isWeights, ordered)
        ?? ordered
    }
    let temporary: String
    do {
      temporary = try FolderOutput.makePendingTemporary(near: output)
      FolderOutput.copyMode(from: folder.path, to: temporary)
    } catch {
      throw Failure(message: error.message)
    }
    let total = scanned.reduce(Int64(0)) { $0 + $1.size }
    let progress = FolderProgress(total: total, update: update)
    let results = FolderResults(count: files.count)
    // Subfolders first (DeepSpeed's tag folder), then the files, two at a time: one reads
    // while the other syncs, and memory stays at two files' pickles.
    for file in files where file.name.contains("/") {
      let sub = String(file.name.prefix(while: { $0 != "/" }))
      do { try FolderOutput.makeFolder(temporary + "/" + sub) } catch {
        results.fail(error.message)
      }
    }
    // Edits that rename, drop or cast tensors make the index stale: it is written anew from
    // the shards as written. A device move leaves keys and sizes alone: the index is copied.
    let rebuilt: String? =
      operations.allSatisfy({ if case .moveDevices = $0 { true } else { false } })
      ? nil : folder.index?.name
    let outputKey = planned?.outputKey
    // Second pass: each file read again, planned, written and let go.
    DispatchQueue.concurrentPerform(iterations: 2) { worker in
      for i in stride(from: worker, to: files.count, by: 2) where !results.failed {
        let file = files[i]
        let source = folder.path(of: file.name)
        let destination = temporary + "/" + file.name
        if file.name == rebuilt { continue }
        let safetensors =
          rewritesSafetensors && file.isWeights && file.reading == .safetensors
          && scanned[i].readable
        let mine = scanned[i].plannable ? operationsFor(i) : []
        if safetensors || !mine.isEmpty {
          let read = Loading.readMember(file, at: source, strict: true)
          guard let checkpoint = read.checkpoint, let input = read.source else {
            results.fail("\(source): \(read.error?.description ?? "cannot be read again")")
            continue
          }
          if safetensors {
            do {
              let outcome = try SafetensorsRewrite.write(
                checkpoint: checkpoint, source: input, inputPath: source,
                outputPath: destination,
                outputKey: { outputKey == nil ? $0 : outputKey![$0] }, cast: castTarget,
                progress: { done, _ in progress.set(i, done) })
              progress.set(i, scanned[i].size)
              results.set(i, outcome)
            } catch {
              results.fail((error as? WriteFailure)?.message ?? "\(error)")
            }
            continue
          }
          do {
            let plan = try EditPipeline.plan(checkpoint, mine)
            let outcome = try EditPipeline.write(
              checkpoint: checkpoint, inputPath: source, plan: plan, outputPath: destination,
              overwrite: false,
              progress: { done, _ in progress.set(i, done) })
            progress.set(i, scanned[i].size)
            results.set(i, outcome.report)
          } catch {
            let failure = error as? WriteFailure
            results.fail(
              "\(source): \(failure?.message ?? "\(error)")", code: failure?.exitCode ?? 1)
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
      FolderOutput.discard(temporary)
      throw Failure(message: failure, exitCode: results.code)
    }
    if let rebuilt {
      do {
        try writeRebuiltIndex(
          folder: folder, scanned: scanned, temporary: temporary,
          to: temporary + "/" + rebuilt)
      } catch {
        FolderOutput.discard(temporary)
        throw Failure(message: error.message)
      }
    }
    FolderOutput.sync(folder: temporary)
    if let sub = files.first(where: { $0.name.contains("/") }) {
      FolderOutput.sync(folder: temporary + "/" + sub.name.prefix(while: { $0 != "/" }))
    }
    do { try FolderOutput.commit(temporary, to: output, replace: replace) } catch {
      FolderOutput.discard(temporary)
      throw Failure(message: error.message)
    }
    let rewritten = files.indices.count { results.report($0) != nil || results.rewrite($0) != nil }
    let copied = files.count - rewritten - (rebuilt == nil ? 0 : 1)
    return Outcome(
      results: results, rebuilt: rebuilt, keyPlan: keyPlan, rewritten: rewritten, copied: copied)
  }

  /// Writes the index of the shards as written to `path`, in the layout transformers writes
  /// (`metadata.total_size`, then `weight_map` sorted by key, two-space indents). It holds a
  /// key and a file number per tensor and streams the text: the index of a big folder is
  /// never one string (nor one string per line).
  private static func writeRebuiltIndex(
    folder: ListedFolder, scanned: [Scanned], temporary: String, to indexPath: String
  ) throws(WriteError) {
    var map: [(key: String, file: Int)] = []
    var names: [String] = []
    var total: Int64 = 0
    for (file, scan) in zip(folder.layout.files, scanned) where file.isWeights && scan.readable {
      let member = (file: file, size: scan.size)
      let path = temporary + "/" + member.file.name
      let checkpoint: Checkpoint
      do {
        let source = try FileSource(path: path)
        if member.file.reading == .safetensors {
          checkpoint = try SafetensorsReader.read(source)
        } else {
          checkpoint = try CheckpointReader(decompressor: Loading.LazyLibzip(path: path)).read(
            source)
        }
      } catch {
        throw WriteError("cannot read back \(path) to write the index: \(error)")
      }
      // total_size counts each storage once, as huggingface_hub's splitter does (tied
      // weights share one).
      var counted: Set<String> = []
      names.append(member.file.name)
      for entry in checkpoint.entries where entry.inStateDict {
        map.append((entry.key, names.count - 1))
        let storages = entry.tensor.allStorages
        if storages.isEmpty { total = total.addingSaturated(entry.tensor.nbytes) }
        for storage in storages where counted.insert(storage.record).inserted {
          total = total.addingSaturated(storage.byteCount)
        }
      }
    }
    map.sort { $0.key < $1.key }
    try AtomicOutput.writeStreaming(to: indexPath, mode: 0o644) { fd throws(WriteError) in
      if map.isEmpty {
        let text =
          "{\n  \"metadata\": {\n    \"total_size\": \(total)\n  },\n  \"weight_map\": {\n\n  }\n}\n"
        try AtomicOutput.writeChunk(Array(text.utf8), to: fd, destination: indexPath)
        return
      }
      try ShardPlan.streamIndexJSON(
        totalSize: total, count: map.count, entry: { (map[$0].key, names[map[$0].file]) }
      ) { piece throws(WriteError) in
        try AtomicOutput.writeChunk(piece, to: fd, destination: indexPath)
      }
    }
  }

  private static func report(
    folder: ListedFolder, output: String, results: FolderResults, rebuilt: String?, json: Bool,
    verb: String, keyPlan: FolderKeyPlan?
  ) {
    let members = folder.layout.files.map { (file: $0, size: Int64(0)) }
    var rewritten = 0
    var moved = 0
    var lines: [String] = []
    var objects: [String] = []
    for (i, member) in members.enumerated() {
      if let report = results.report(i) {
        rewritten += 1
        let changed = report.edits
        moved += changed
        lines.append("  \(member.file.name): rewritten, \(report.verifiedTensors) tensors verified")
        objects.append(
          "{\"file\": \(JSONWriter.quoted(member.file.name)), \"action\": \"rewritten\", \"output_size\": \(report.outputSize), \"verified_tensors\": \(report.verifiedTensors)}"
        )
      } else if let outcome = results.rewrite(i) {
        rewritten += 1
        lines.append(
          "  \(member.file.name): rewritten, \(outcome.tensors) tensors verified"
            + (outcome.cast > 0 ? ", \(outcome.cast) cast" : ""))
        objects.append(
          "{\"file\": \(JSONWriter.quoted(member.file.name)), \"action\": \"rewritten\", \"output_size\": \(outcome.size), \"verified_tensors\": \(outcome.tensors), \"cast_tensors\": \(outcome.cast)}"
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
        "wrote \(output): \(rewritten) checkpoint file\(rewritten == 1 ? "" : "s") rewritten and verified, \(members.count - rewritten - (rebuilt == nil ? 0 : 1)) copied unchanged\(rebuilt == nil ? "" : ", the index written anew")\n"
          + lines.joined(separator: "\n") + "\n"
          + (keyPlan.map {
            "  keys: \($0.renamed.count) renamed, \($0.dropped.count) dropped (over the whole folder)\n"
          } ?? ""))
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
  /// What the report needs of each torch file's write: the full `WriteReport` holds the
  /// file's plan and rewritten pickle, which would keep every file's memory to the end.
  struct Written {
    var verifiedTensors: Int
    var outputSize: Int64
    var edits: Int
  }
  private var reports: [Int: Written] = [:]
  private var rewrites: [Int: SafetensorsRewrite.Outcome] = [:]
  private(set) var failure: String?
  private(set) var code: Int32 = 1
  init(count: Int) {}
  var failed: Bool { lock.locked { failure != nil } }
  func fail(_ message: String, code: Int32) {
    lock.locked {
      if failure == nil {
        failure = message
        self.code = code
      }
    }
  }
  func set(_ i: Int, _ report: WriteReport) {
    let written = Written(
      verifiedTensors: report.verifiedTensors, outputSize: report.outputSize,
      edits: report.plan.edits.count)
    lock.locked { reports[i] = written }
  }
  func report(_ i: Int) -> Written? { lock.locked { reports[i] } }
  func set(_ i: Int, _ outcome: SafetensorsRewrite.Outcome) {
    lock.locked { rewrites[i] = outcome }
  }
  func rewrite(_ i: Int) -> SafetensorsRewrite.Outcome? { lock.locked { rewrites[i] } }
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

/// One value per file, each written by one worker.
final class Slots<Value>: @unchecked Sendable {
  private var values: [Value]
  private let lock = NSLockLike()
  init(count: Int, empty: Value) { values = Array(repeating: empty, count: count) }
  func set(_ i: Int, _ value: Value) { lock.locked { values[i] = value } }
  func get(_ i: Int) -> Value { lock.locked { values[i] } }
}
