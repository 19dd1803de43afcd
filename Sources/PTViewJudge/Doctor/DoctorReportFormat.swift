import PTViewCore

/// Text and JSON renderings of the doctor's prediction.
extension DoctorReport {
  /// A short phrase for the verdict.
  public var verdictText: String {
    switch verdict {
    case .loads: "loads as is"
    case .rewriteFixes: "fails; a ptview rewrite fixes it"
    case .needsCode: "fails; needs code changes or a trusted class"
    case .unreadable: "unreadable"
    }
  }

  /// Lines for people.
  public var text: String {
    var out = "\(path): torch.load(\"\(path)\") \(verdictText) (\(format))\n"
    if let unreadableReason { out += "  \(unreadableReason)\n" }
    if !locations.isEmpty {
      out +=
        "  storage locations: " + locations.map { "\($0.0) x\($0.1)" }.joined(separator: ", ")
        + "\n"
    }
    for p in problems {
      var place = ""
      if let record = p.record { place += record }
      if let offset = p.offset { place += (place.isEmpty ? "" : " ") + "@ byte \(offset)" }
      out +=
        "  - [\(p.fix == .rewrite ? "rewrite" : "code")] \(p.message)"
        + (place.isEmpty ? "" : " (\(place))") + "\n"
    }
    for n in notes { out += "  note: \(n)\n" }
    if let remapCommand {
      out += "fix (rewrite):\n  \(remapCommand)\n"
    }
    if let code {
      out += (remapCommand == nil ? "fix (code):\n" : "then (code):\n")
      for line in code.split(separator: "\n", omittingEmptySubsequences: false) {
        out += "  \(line)\n"
      }
    }
    if !editFixes.isEmpty {
      out += "or fix (rewrite the weights alone; a plain torch.load of the result needs no code):\n"
      for fix in editFixes {
        out += "  \(fix.command)\n"
        out += "    writes \(fix.contains)\n"
      }
      if let editNote { out += "  note: \(editNote)\n" }
    }
    return out
  }

  /// One JSON object.
  public var json: String {
    func q(_ s: String?) -> String { s.map(JSONWriter.quoted) ?? "null" }
    let problemItems = problems.map { p in
      "{\"kind\":\(q(p.kind.rawValue)),\"fix\":\(q(p.fix.rawValue)),\"message\":\(q(p.message)),"
        + "\"record\":\(q(p.record)),\"offset\":\(p.offset.map(String.init) ?? "null"),\"subject\":\(q(p.subject))}"
    }
    return
      "{\"path\":\(q(path)),\"exit_code\":\(verdict.rawValue),\"verdict\":\(q(verdictText)),\"format\":\(q(format)),"
      + "\"locations\":{" + locations.map { "\(q($0.0)):\($0.1)" }.joined(separator: ",") + "},"
      + "\"problems\":[" + problemItems.joined(separator: ",") + "],"
      + "\"safe_globals\":[" + safeGlobals.map(JSONWriter.quoted).joined(separator: ",") + "],"
      + "\"pickled_classes\":[" + pickledClasses.map(JSONWriter.quoted).joined(separator: ",")
      + "],"
      + "\"remap\":\(q(remapCommand)),\"code\":\(q(code)),\"unreadable\":\(q(unreadableReason)),"
      + "\"notes\":[" + notes.map(JSONWriter.quoted).joined(separator: ",") + "],"
      + "\"fix_commands\":[" + fixCommandItems.joined(separator: ",") + "],"
      + "\"edit_note\":\(q(editNote))}"
  }

  /// Every fix command as JSON: the remap line, then the edit lines.
  private var fixCommandItems: [String] {
    func item(
      _ kind: String, _ command: String, _ arguments: [String], _ output: String?,
      _ contains: String?
    ) -> String {
      "{\"kind\":\(JSONWriter.quoted(kind)),\"command\":\(JSONWriter.quoted(command)),"
        + "\"arguments\":[" + arguments.map(JSONWriter.quoted).joined(separator: ",") + "],"
        + "\"output\":\(output.map(JSONWriter.quoted) ?? "null"),"
        + "\"contains\":\(contains.map(JSONWriter.quoted) ?? "null")}"
    }
    var items: [String] = []
    if let remapCommand, let remapArguments {
      items.append(item("remap", remapCommand, remapArguments, remapArguments[3], nil))
    }
    for fix in editFixes {
      items.append(item("edit", fix.command, fix.arguments, fix.output, fix.contains))
    }
    return items
  }
}
