import Dispatch
import PTViewCore
import PTViewCurses
import PTViewEdit
import PTViewFiles
import PTViewJudge
import PTViewPipeline
import PTViewTUI
import PTViewZip

#if canImport(Glibc)
  import Glibc
#endif

/// Wiring for the explorer: the curses backend, the pure model, and the effects (file checks
/// and the remap writer) that only the shell may run.
enum Explorer {
  /// Runs the explorer on the terminal until the user quits.
  static func run(checkpoint: Checkpoint, source: any ByteSource, path: String, mouse: Bool) throws
  {
    let noColor = getenv("NO_COLOR").map { $0.pointee != 0 } ?? false
    let backend: CursesBackend
    // Ctrl-C or SIGTERM in the middle of a write must not leave the writer's temporary file
    // behind: the curses handlers replace ptview's own, so they get its cleanup. Calling it
    // once here (nothing is pending yet) initializes its state outside any signal handler.
    PendingTemporary.removeNow()
    do {
      backend = try CursesBackend(
        color: !noColor, mouse: mouse, cleanup: { PendingTemporary.removeNow() })
    } catch {
      // No usable terminal (unknown TERM): the table is still useful.
      Diagnostics.stderr("ptview: \(error.description); printing the table instead")
      Diagnostics.out(ListReport.table(checkpoint.entries))
      return
    }
    var model = Model(
      checkpoint: checkpoint, path: path, size: backend.size, asciiOnly: !utf8Locale())
    model.pickles = pickleBytes(checkpoint, source: source)
    model.storageReader = StorageHeads(checkpoint: checkpoint, source: source)
    // The scan and the doctor read the pickles again (about as long as opening the file):
    // the first screen does not wait for them; the loop picks them up when they are ready.
    model.assessing = true
    let mailbox = AssessmentMailbox()
    DispatchQueue.global().async {
      let assessment = assess(checkpoint, source: source, path: path)
      mailbox.put(AssessmentDelivery(checkpoint: checkpoint, assessment: assessment))
    }
    let values = ExplorerValues(checkpoint: checkpoint, source: source)
    let valuesMailbox = values.mailbox
    backend.inbox = {
      mailbox.take().map { .assessed($0) } ?? valuesMailbox.take().map { .values($0) }
    }
    var runtime = Runtime(model: model, backend: backend)
    var effects = ExplorerEffects(
      checkpoint: checkpoint, inputPath: path, inputSource: source is FileSource ? nil : source,
      values: values)
    runtime.run(runner: &effects)
    backend.close()
    if let saved = runtime.model.saved {
      Diagnostics.out("ptview: wrote \(saved)\n")
    }
  }

  /// The bytes of each pickle, for the graph view's opcode pane: stored records and legacy
  /// parts are read where the file has them (a few megabytes on an 80,000-tensor file);
  /// compressed records are left out, and the pane says so.
  static func pickleBytes(_ checkpoint: Checkpoint, source: any ByteSource) -> [String: PickleBytes]
  {
    var out: [String: PickleBytes] = [:]
    let zipLike = checkpoint.format == .zip || checkpoint.format == .torchScript
    for section in checkpoint.pickles {
      if zipLike && section.fileOffset == 0 { continue }
      guard section.length < 1 << 30,
        let bytes = try? source.read(at: section.fileOffset, count: Int(section.length))
      else { continue }
      out[section.name] = PickleBytes(
        base: Int(section.fileOffset), bytes: bytes,
        listingBase: zipLike ? 0 : Int(section.fileOffset))
    }
    return out
  }

  /// The first 32 bytes of a storage record, for the opcode pane's hex view: legacy records
  /// where the reader found them, stored zip records after their local header; nil for
  /// compressed records.
  struct StorageHeads: StorageHeadReader {
    let checkpoint: Checkpoint
    let source: any ByteSource

    func head(of record: String) -> [UInt8]? {
      if let extent = checkpoint.storages[record], let offset = extent.dataOffset {
        return try? source.read(at: offset, count: Int(min(32, extent.size)))
      }
      guard let root = checkpoint.archiveRoot,
        let entry = checkpoint.directory?.entry(named: root + "/" + record), entry.isStored,
        let header = try? ZipDirectory.localHeader(of: entry, in: source)
      else { return nil }
      return try? source.read(at: header.dataOffset, count: Int(min(32, entry.uncompressedSize)))
    }
  }

  /// The safety scan and the load prediction for the header and the tree marks, as `ptview
  /// scan` and `ptview doctor` (on a CPU-only machine) make them. Both read only the pickles.
  /// The two run side by side: each decodes the pickles once more, so on a large file they
  /// cost about one more read of the pickles, not two.
  static func assess(_ checkpoint: Checkpoint, source: any ByteSource, path: String) -> Assessment {
    let results = AssessmentSlots()
    DispatchQueue.concurrentPerform(iterations: 2) { job in
      if job == 0 {
        var scanner = SafetyScanner()
        scanner.decompressor = Loading.decompressor(path, source)
        scanner.makeDecompressor = { bytes throws(CheckpointError) in
          try LibzipArchive(bytes: bytes)
        }
        results.scan = scanner.scan(source, path: path)
      } else {
        var doctor = LoadDoctor()
        doctor.decompressor = Loading.decompressor(path, source)
        results.doctor = doctor.diagnose(source, path: path)
      }
    }
    return Assessment(
      checkpoint: checkpoint, scan: results.scan, doctor: results.doctor,
      opcodeAt: { offset in try? source.read(at: offset, count: 1).first })
  }

  /// What the doctor says about a file just written, as a clause for the status line.
  static func afterWrite(_ path: String) -> String? {
    guard let source = try? FileSource(path: path) else { return nil }
    return LoadSummary(LoadDoctor().diagnose(source, path: path)).afterWrite
  }

  /// Whether the locale (set by the backend) encodes text as UTF-8.
  static func utf8Locale() -> Bool {
    guard let codeset = nl_langinfo(nl_item(CODESET)) else { return false }
    let name = String(cString: codeset).uppercased()
    return name == "UTF-8" || name == "UTF8"
  }
}

/// Hands the assessment from its worker thread to the explorer's loop.
final class AssessmentMailbox: @unchecked Sendable {
  private var lock = pthread_mutex_t()
  private var delivery: AssessmentDelivery?

  init() { pthread_mutex_init(&lock, nil) }

  func put(_ value: AssessmentDelivery) {
    pthread_mutex_lock(&lock)
    delivery = value
    pthread_mutex_unlock(&lock)
  }

  func take() -> AssessmentDelivery? {
    pthread_mutex_lock(&lock)
    defer { pthread_mutex_unlock(&lock) }
    let value = delivery
    delivery = nil
    return value
  }
}

/// The two reports of `Explorer.assess`, each written by one of its two jobs (and read after
/// both have finished).
private final class AssessmentSlots: @unchecked Sendable {
  var scan: SafetyReport?
  var doctor: DoctorReport?
}

/// Runs the explorer's effects: looks at output paths and calls the remap writer.
struct ExplorerEffects: EffectRunner {
  /// The opened file (nil when a folder is open: `folder` is written instead).
  let checkpoint: Checkpoint?
  let inputPath: String
  /// The remote input, streamed by a write; nil for a local file (opened by path).
  let inputSource: (any ByteSource)?
  /// Reads for the values pane and the full-file check.
  let values: ExplorerValues
  /// The folder open in the explorer, written as `ptview remap FOLDER -o OUT` writes it.
  var folder: OpenedFolder? = nil

  mutating func run(_ effect: Effect, send: (Message) -> Void) {
    switch effect {
    case .checkOutput(let path):
      var status = OutputCheck.status(of: path, input: inputPath)
      // A folder's output is a folder: one already there is replaced when confirmed.
      if folder != nil, status == .isDirectory {
        let same = OutputCheck.realPath(path).map { $0 == OutputCheck.realPath(inputPath) }
        status = same == true ? .isInput : .exists
      }
      send(.outputChecked(path: path, status))
    case .write(let request):
      if let folder {
        send(.writeFinished(FolderExplorer.write(folder, request, send: send)))
        return
      }
      send(.writeFinished(write(request, send: send)))
    case .values(let request):
      values.run(request, send: send)
    case .quit:
      break
    }
  }

  /// The plan a write carries out: the staged operations, device moves included, planned by
  /// the same planner as `ptview edit` and `ptview remap`.
  private func plan(_ request: WriteRequest, _ checkpoint: Checkpoint) throws(WriteFailure)
    -> EditPlan
  {
    try EditPipeline.plan(checkpoint, request.operations)
  }

  private func write(_ request: WriteRequest, send: (Message) -> Void) -> WriteResult {
    guard let checkpoint else { return .failed("nothing to write: no file is open") }
    return withoutActuallyEscaping(send) { send in
      let relay = ProgressRelay(send)
      do {
        let outcome = try EditPipeline.write(
          checkpoint: checkpoint, inputPath: inputPath, inputSource: inputSource,
          plan: plan(request, checkpoint),
          outputPath: request.path, overwrite: request.overwrite,
          progress: { done, total in relay.report(done, total) })
        relay.finish()
        var summary = outcome.summary
        if let doctor = Explorer.afterWrite(outcome.outputPath) { summary += "; " + doctor }
        return .saved(summary: summary, path: outcome.outputPath)
      } catch let failure as WriteFailure {
        relay.finish()
        switch failure.kind {
        case .exists:
          // It appeared after the check: ask again rather than replace it unasked.
          return .failed("\(failure.message) (it appeared after the check); w asks again")
        case .isInput, .refused, .failed, .unreadable:
          return .failed(failure.message)
        }
      } catch {
        relay.finish()
        return .failed(String(describing: error))
      }
    }
  }
}

/// Hands writer progress to the explorer, at most once per tenth of a percent, on the thread
/// that called the writer (the writer reports from that thread; the screen is redrawn there).
final class ProgressRelay: @unchecked Sendable {
  private var forward: ((Message) -> Void)?
  private var last: Int64 = -1

  init(_ forward: @escaping (Message) -> Void) { self.forward = forward }

  /// Milliseconds to wait at each progress report, for the end-to-end tests that interrupt a
  /// write in the middle (`PTVIEW_TEST_SLOW_WRITE`); 0 otherwise.
  static let testDelay: UInt32 =
    getenv("PTVIEW_TEST_SLOW_WRITE").flatMap {
      UInt32(String(cString: $0))
    } ?? 0

  func report(_ done: Int64, _ total: Int64) {
    if Self.testDelay > 0 { usleep(min(Self.testDelay, 5000) * 1000) }
    let step = total > 0 ? done * 1000 / total : done >> 20
    guard step != last else { return }
    last = step
    forward?(.writeProgress(done: done, total: total))
  }

  /// Drops the forwarding closure, which must not outlive the write.
  func finish() { forward = nil }
}

/// What is at an output path, for the explorer's write prompt.
enum OutputCheck {
  static func status(of path: String, input: String) -> OutputStatus {
    var info = stat()
    if stat(path, &info) == 0 {
      if (info.st_mode & S_IFMT) == S_IFDIR { return .isDirectory }
      if let a = realPath(path), let b = realPath(input), a == b { return .isInput }
      var inputInfo = stat()
      if stat(input, &inputInfo) == 0, inputInfo.st_dev == info.st_dev,
        inputInfo.st_ino == info.st_ino
      {
        return .isInput
      }
      return .exists
    }
    let folder = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
    var folderInfo = stat()
    if stat(folder.isEmpty ? "/" : folder, &folderInfo) != 0
      || (folderInfo.st_mode & S_IFMT) != S_IFDIR
    {
      return .missingFolder
    }
    return .free
  }

  static func realPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
  }
}
