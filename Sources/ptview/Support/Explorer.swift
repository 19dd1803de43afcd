import PTViewCore
import PTViewCurses
import PTViewTUI

#if canImport(Glibc)
  import Glibc
#endif

/// Wiring for the explorer: the curses backend, the pure model, and the effects (file checks
/// and the remap writer) that only the shell may run.
enum Explorer {
  /// Runs the explorer on the terminal until the user quits.
  static func run(checkpoint: Checkpoint, path: String, mouse: Bool) throws {
    let noColor = getenv("NO_COLOR").map { $0.pointee != 0 } ?? false
    let backend: CursesBackend
    do {
      backend = try CursesBackend(color: !noColor, mouse: mouse)
    } catch {
      // No usable terminal (unknown TERM): the table is still useful.
      Diagnostics.stderr("ptview: \(error.description); printing the table instead")
      Diagnostics.out(ListReport.table(checkpoint.entries))
      return
    }
    let model = Model(
      checkpoint: checkpoint, path: path, size: backend.size, asciiOnly: !utf8Locale())
    var runtime = Runtime(model: model, backend: backend)
    var effects = ExplorerEffects(checkpoint: checkpoint, inputPath: path)
    runtime.run(runner: &effects)
    backend.close()
    if let saved = runtime.model.saved {
      Diagnostics.out("ptview: wrote \(saved)\n")
    }
  }

  /// Whether the locale (set by the backend) encodes text as UTF-8.
  static func utf8Locale() -> Bool {
    guard let codeset = nl_langinfo(nl_item(CODESET)) else { return false }
    let name = String(cString: codeset).uppercased()
    return name == "UTF-8" || name == "UTF8"
  }
}

/// Runs the explorer's effects: looks at output paths and calls the remap writer.
struct ExplorerEffects: EffectRunner {
  let checkpoint: Checkpoint
  let inputPath: String

  mutating func run(_ effect: Effect, send: (Message) -> Void) {
    switch effect {
    case .checkOutput(let path):
      send(.outputChecked(path: path, OutputCheck.status(of: path, input: inputPath)))
    case .write(let request):
      send(.writeFinished(write(request, send: send)))
    case .quit:
      break
    }
  }

  private func write(_ request: WriteRequest, send: (Message) -> Void) -> WriteResult {
    withoutActuallyEscaping(send) { send in
      let relay = ProgressRelay(send)
      do {
        let outcome = try Writing.write(
          checkpoint: checkpoint, inputPath: inputPath, edits: request.edits,
          outputPath: request.path, overwrite: request.overwrite,
          progress: { done, total in relay.report(done, total) })
        relay.finish()
        return .saved(summary: outcome.summary, path: outcome.outputPath)
      } catch {
        relay.finish()
        return .failed(String(describing: error))
      }
    }
  }
}

/// Hands writer progress to the explorer, at most once per tenth of a percent, on the thread
/// that called the writer (the writer reports from that thread; the screen is redrawn there).
private final class ProgressRelay: @unchecked Sendable {
  private var forward: ((Message) -> Void)?
  private var last: Int64 = -1

  init(_ forward: @escaping (Message) -> Void) { self.forward = forward }

  func report(_ done: Int64, _ total: Int64) {
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
