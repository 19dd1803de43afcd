import PTViewCore
import PTViewEdit
import PTViewPipeline

/// What `ptview remap` prints for a DCP folder: the pickled values rewritten, where their
/// bytes are now, and what was copied.
extension RemapReport {
  static func distributedText(_ report: DistributedRemap.Report, input: String) -> String {
    var lines = ["ptview remap: \(input) -> \(report.output)"]
    for value in report.values {
      let moves = Dictionary(grouping: value.moves) { "\($0.from) -> \($0.to)" }
        .sorted { $0.key < $1.key }
        .map { "\($0.key) (\($0.value.count) storage\($0.value.count == 1 ? "" : "s"))" }
      lines.append(
        "  \(value.fqn)  \(moves.joined(separator: ", "))  \(value.from.file) @ \(value.from.offset)+\(value.from.length) -> @ \(value.to.offset)+\(value.to.length)"
      )
    }
    lines.append(
      "  rewritten \(report.rewrittenFiles.joined(separator: ", ")); .metadata: \(report.patchedRanges) range\(report.patchedRanges == 1 ? "" : "s") moved; other files copied: \(report.copiedFiles.isEmpty ? "none" : report.copiedFiles.joined(separator: ", "))"
    )
    lines.append("  verified: .metadata reads back with the moved ranges; every value reads back")
    return lines.joined(separator: "\n") + "\n"
  }

  static func distributedJSON(_ report: DistributedRemap.Report, input: String) -> String {
    let q = JSONWriter.quoted
    let values = report.values.map { v in
      let moves = v.moves.map {
        "{\"record\": \(q($0.record)), \"from\": \(q($0.from)), \"to\": \(q($0.to)), \"bytes\": \($0.bytes)}"
      }
      return
        "{\"key\": \(q(v.fqn)), \"file\": \(q(v.from.file)), \"offset\": \(v.from.offset), \"length\": \(v.from.length), \"new_offset\": \(v.to.offset), \"new_length\": \(v.to.length), \"moves\": [\(moves.joined(separator: ", "))]}"
    }
    return
      "{\"input\": \(q(input)), \"output\": \(q(report.output)), \"written\": true, \"values\": [\(values.joined(separator: ", "))], \"rewritten_files\": [\(report.rewrittenFiles.map(q).joined(separator: ", "))], \"copied_files\": [\(report.copiedFiles.map(q).joined(separator: ", "))], \"patched_ranges\": \(report.patchedRanges)}\n"
  }
}
