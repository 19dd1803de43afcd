import Dispatch
import PTViewCore
import PTViewCurses
import PTViewFiles
import PTViewJudge
import PTViewTUI

#if canImport(Glibc)
  import Glibc
#endif

/// The explorer on a folder: a Hugging Face sharded model (or a Trainer/accelerate/DeepSpeed
/// folder: every file `ptview ls FOLDER` reads), or a torch.distributed.checkpoint folder
/// (read-only). One tree over every file's tensors; the values, the graph and the write work
/// per file.
enum FolderExplorer {
  /// Runs the explorer on `folder` until the user quits.
  static func run(folder: OpenedFolder, mouse: Bool) throws {
    var shards: [FolderShards.Shard] = []
    var parts: [ExplorerValues.Part] = []
    var pickles: [[String: PickleBytes]] = []
    var base: Int32 = 0
    for (member, checkpoint) in folder.checkpoint.readMembers {
      guard let source = folder.sources[member.file.name] else { continue }
      shards.append(
        FolderShards.Shard(
          name: member.file.name, checkpoint: checkpoint, size: member.size,
          isWeights: member.file.isWeights))
      parts.append(
        ExplorerValues.Part(
          checkpoint: checkpoint, source: source, base: base,
          path: folder.path(of: member.file.name)))
      pickles.append(Explorer.pickleBytes(checkpoint, source: source))
      base += Int32(checkpoint.entries.count)
    }
    let total = folder.checkpoint.members.reduce(Int64(0)) { $0.addingSaturated($1.size) }
    let count = shards.count
    let kind =
      count == 1 ? "1 file" : "\(count) \(folder.checkpoint.index != nil ? "shards" : "files")"
    let shardsView = FolderShards(
      name: name(of: folder.path), format: kind, shards: shards, totalBytes: total)
    let values = ExplorerValues(parts: parts, entryCount: shardsView.entries.count, noPart: "")
    let toAssess = parts
    let assessing: (@Sendable () -> AssessmentDelivery)? =
      toAssess.isEmpty ? nil : { @Sendable in FolderExplorer.assess(toAssess) }
    try loop(
      shardsView, path: folder.path, mouse: mouse, pickles: pickles, values: values,
      folder: folder, assess: assessing,
      fallback: { Diagnostics.out(ListReport.table(folder.checkpoint.entries)) })
  }

  /// Runs the explorer on a torch.distributed.checkpoint folder: its `.metadata` only.
  static func run(distributed metadata: DistributedMetadata, path: String, mouse: Bool) throws {
    var folder = path
    while folder.count > 1 && folder.hasSuffix("/") { folder.removeLast() }
    var total: Int64 = 0
    for name in Folder.list(folder) ?? [] {
      if let source = try? FileSource(path: folder + "/" + name) {
        total = total.addingSaturated(source.size)
      }
    }
    let view = FolderShards(name: name(of: folder), distributed: metadata, totalBytes: total)
    let values = distributedValues(view, metadata: metadata, folder: folder)
    try loop(
      view, path: folder, mouse: mouse, pickles: [], values: values, folder: nil, assess: nil,
      fallback: { Diagnostics.out(DistributedReport.table(metadata)) })
  }

  /// The values of a DCP folder's rows: the folder assembled in place as `ptview stats DIR`
  /// and `cat DIR KEY` read it (chunks by byte range, nothing read until asked). The
  /// archive nests the tensors as torch does, in another order than the `.metadata` rows:
  /// each of its entries is matched to its row by key. A folder that cannot be assembled
  /// still opens; its pane says why.
  static func distributedValues(
    _ view: FolderShards, metadata: DistributedMetadata, folder: String
  ) -> ExplorerValues {
    let read: DistributedLoading.Assembled
    switch DistributedLoading.assembled(metadata, folder: folder) {
    case .success(let assembled): read = assembled
    case .failure(let failure):
      return ExplorerValues(
        parts: [], entryCount: view.entries.count,
        noPart: "values of this DCP folder cannot be read: " + failure.message)
    }
    let rows = view.entries(forKeys: read.checkpoint.entries.map(\.key))
    let part = ExplorerValues.Part(
      checkpoint: read.checkpoint, source: read.source, base: 0, path: folder,
      explorerEntries: rows)
    return ExplorerValues(
      parts: [part], entryCount: view.entries.count,
      noPart: read.note.map { "not rebuilt here: " + $0 }
        ?? "no tensor of the assembled folder has this key")
  }

  /// The loop shared by both kinds of folder.
  private static func loop(
    _ view: FolderShards, path: String, mouse: Bool, pickles: [[String: PickleBytes]],
    values: ExplorerValues, folder: OpenedFolder?,
    assess: (@Sendable () -> AssessmentDelivery)?, fallback: () -> Void
  ) throws {
    let noColor = getenv("NO_COLOR").map { $0.pointee != 0 } ?? false
    PendingTemporary.removeNow()
    let backend: CursesBackend
    do {
      backend = try CursesBackend(
        color: !noColor, mouse: mouse, cleanup: { PendingTemporary.removeNow() })
    } catch {
      Diagnostics.stderr("ptview: \(error.description); printing the table instead")
      fallback()
      return
    }
    var model = Model(
      folder: view, path: path, size: backend.size, asciiOnly: !Explorer.utf8Locale())
    model.shardPickles = pickles
    let valuesMailbox = values.mailbox
    let mailbox = AssessmentMailbox()
    if let assess {
      // The scan and the doctor of every file, after the first screen, as for one file.
      model.assessing = true
      DispatchQueue.global().async { mailbox.put(assess()) }
    }
    backend.inbox = {
      mailbox.take().map { .assessed($0) } ?? valuesMailbox.take().map { .values($0) }
    }
    var runtime = Runtime(model: model, backend: backend)
    // A folder's writes go to `folder` (none for a read-only DCP folder).
    var effects = ExplorerEffects(
      checkpoint: nil, inputPath: path,
      inputSource: nil, values: values, folder: folder)
    runtime.run(runner: &effects)
    backend.close()
    if let saved = runtime.model.saved {
      Diagnostics.out("ptview: wrote \(saved)\n")
    }
  }

  /// The folder's verdicts: each file's own (the rows of a file with findings are marked),
  /// the worst scan of any file, and the worst load prediction of any torch file (a
  /// safetensors shard is not for torch.load: from_pretrained reads it).
  static func assess(_ parts: [ExplorerValues.Part]) -> AssessmentDelivery {
    func scanRank(_ v: SafetyVerdict?) -> Int {
      switch v {
      case .safe: 1
      case .suspicious: 2
      case .unscannable: 3
      case .dangerous: 4
      case nil: 0
      }
    }
    func doctorRank(_ report: DoctorReport?) -> Int {
      guard let report else { return 0 }
      switch LoadSummary(report).outcome {
      case .loads: return 1
      case .fixable: return 2
      case .needsCode: return 3
      case .unreadable: return 4
      }
    }
    var scan: SafetyReport?
    var doctor: DoctorReport?
    var shards: [Assessment?] = []
    for part in parts {
      let one = Explorer.assess(part.checkpoint, source: part.source, path: part.path)
      shards.append(one)
      if scanRank(one.scan?.verdict) > scanRank(scan?.verdict) { scan = one.scan }
      if part.checkpoint.format != .safetensors, doctorRank(one.doctor) > doctorRank(doctor) {
        doctor = one.doctor
      }
    }
    let first = parts[0].checkpoint
    return AssessmentDelivery(
      checkpoint: first, assessment: Assessment(scan: scan, doctor: doctor), shards: shards)
  }

  /// The folder's own name, without its parents.
  static func name(of path: String) -> String {
    path.split(separator: "/").last.map(String.init) ?? path
  }

  /// `w` on a folder: the staged operations written as `ptview remap FOLDER -o OUT` (and
  /// `edit`) write them, on a worker thread; this thread relays the progress to the screen.
  static func write(_ folder: OpenedFolder, _ request: WriteRequest, send: (Message) -> Void)
    -> WriteResult
  {
    if folder.isRemote {
      return .failed(
        "Not yet: a remote folder is read only; download it and run ptview on the copy to write.")
    }
    if AtomicOutput.sameFile(folder.path, request.path) {
      return .failed("That is the input folder, which ptview never changes: choose another path.")
    }
    let box = WriteBox()
    let listed = ListedFolder(
      path: folder.path, layout: folder.checkpoint.layout, index: folder.checkpoint.index)
    let operations = request.operations
    let output = request.path
    let replace = request.overwrite
    DispatchQueue.global().async {
      let result: Result<FolderEdit.Outcome, FolderEdit.Failure>
      do throws(FolderEdit.Failure) {
        result = .success(
          try FolderEdit.write(
            folder: listed, output: output, replace: replace, operations: operations,
            progress: { done, total in box.progress(done, total) }))
      } catch {
        result = .failure(error)
      }
      box.finish(result)
    }
    return withoutActuallyEscaping(send) { send in
      let relay = ProgressRelay(send)
      while true {
        let (done, total, result) = box.poll()
        if total > 0 { relay.report(done, total) }
        if let result {
          relay.finish()
          switch result {
          case .success(let outcome):
            var summary =
              "wrote \(output): \(outcome.rewritten) file\(outcome.rewritten == 1 ? "" : "s") rewritten and verified, \(outcome.copied) copied unchanged"
            if outcome.rebuilt != nil { summary += ", index written anew" }
            return .saved(summary: summary, path: output)
          case .failure(let failure):
            return .failed(failure.message)
          }
        }
        usleep(30_000)
      }
    }
  }
}

/// The folder writer's progress and result, handed from its thread to the explorer's.
private final class WriteBox: @unchecked Sendable {
  private var lock = pthread_mutex_t()
  private var done: Int64 = 0
  private var total: Int64 = 0
  private var result: Result<FolderEdit.Outcome, FolderEdit.Failure>?

  init() { pthread_mutex_init(&lock, nil) }

  func progress(_ done: Int64, _ total: Int64) {
    pthread_mutex_lock(&lock)
    self.done = max(self.done, done)
    self.total = total
    pthread_mutex_unlock(&lock)
  }

  func finish(_ value: Result<FolderEdit.Outcome, FolderEdit.Failure>) {
    pthread_mutex_lock(&lock)
    result = value
    pthread_mutex_unlock(&lock)
  }

  func poll() -> (Int64, Int64, Result<FolderEdit.Outcome, FolderEdit.Failure>?) {
    pthread_mutex_lock(&lock)
    defer { pthread_mutex_unlock(&lock) }
    return (done, total, result)
  }
}
