import PTViewCore

/// Wiring for `ptview diff` on a terminal.
enum DiffExplorer {
  /// Shows `report` (for now as text).
  static func run(report: DiffReport, nameA: String, nameB: String, mouse: Bool) throws {
    Diagnostics.out(report.text(nameA: nameA, nameB: nameB))
  }
}
