/// The pieces `ptview info` writes the same way for one file (`InfoReport`) and for a folder
/// (`FolderReport`): per-device and per-dtype tallies, as a table and as JSON, and the notes.
extension InfoReport.Tally {
  mutating func add(_ other: InfoReport.Tally) {
    tensors += other.tensors
    bytes = bytes.addingSaturated(other.bytes)
  }

  /// `title:` and one aligned row per name: its tensors and bytes.
  static func table(_ title: String, _ list: [(String, InfoReport.Tally)]) -> String {
    title + ":\n"
      + Table.render(
        list.map { ["  " + $0.0, "\($0.1.tensors) tensors", Format.bytes($0.1.bytes)] },
        rightAligned: [1, 2])
  }

  /// `{"name": {"tensors": N, "bytes": N}, ...}` in list order.
  static func json(_ list: [(String, InfoReport.Tally)]) -> String {
    "{"
      + list.map {
        "\(JSONWriter.quoted($0.0)): {\"tensors\": \($0.1.tensors), \"bytes\": \($0.1.bytes)}"
      }.joined(separator: ", ") + "}"
  }

  /// `notes:` and one `  - ` line per note; nothing when there are none.
  static func notes(_ notes: [String]) -> String {
    notes.isEmpty ? "" : "notes:\n" + notes.map { "  - \($0)\n" }.joined()
  }
}
