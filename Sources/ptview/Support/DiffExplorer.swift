import PTViewCore
import PTViewCurses
import PTViewTUI

#if canImport(Glibc)
  import Glibc
#endif

/// Wiring for `ptview diff` on a terminal: the curses backend and the pure diff view.
enum DiffExplorer {
  /// Shows `report` until the user quits; without a usable terminal, prints the text.
  static func run(report: DiffReport, nameA: String, nameB: String, mouse: Bool) throws {
    let noColor = getenv("NO_COLOR").map { $0.pointee != 0 } ?? false
    let backend: CursesBackend
    do {
      backend = try CursesBackend(color: !noColor, mouse: mouse)
    } catch {
      Diagnostics.stderr("ptview: \(error.description); printing the differences instead")
      Diagnostics.out(report.text(nameA: nameA, nameB: nameB))
      return
    }
    let model = DiffModel(
      report: report, nameA: nameA, nameB: nameB, size: backend.size,
      asciiOnly: !Explorer.utf8Locale())
    var runtime = DiffRuntime(model: model, backend: backend)
    runtime.run()
    backend.close()
  }
}
