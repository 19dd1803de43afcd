import PTViewCore

/// Text and JSON renderings of scan reports.
extension SafetyReport {
  /// Lines for people.
  public var text: String {
    var out = "\(path): \(verdict.rawValue.uppercased()) (\(format))\n"
    for f in findings {
      let place =
        f.offsetIsInFile ? "byte \(f.offset)" : "byte \(f.offset) of the decompressed entry"
      out +=
        "  \(f.verdict.rawValue.padding(11)) \(f.location) @ \(place): \(f.rendering ?? f.kind.rawValue)\n"
      out += "              \(f.detail)\n"
    }
    if omittedFindings > 0 { out += "  (\(omittedFindings) similar finding(s) not listed)\n" }
    for n in notes { out += "  note: \(n)\n" }
    return out
  }

  /// One JSON object.
  public var json: String {
    var items: [String] = []
    for f in findings {
      var fields = [
        "\"verdict\":" + JSONWriter.quoted(f.verdict.rawValue),
        "\"kind\":" + JSONWriter.quoted(f.kind.rawValue),
        "\"location\":" + JSONWriter.quoted(f.location),
        "\"offset\":\(f.offset)",
        "\"offset_in_file\":\(f.offsetIsInFile)",
      ]
      fields.append("\"global\":" + (f.global.map(JSONWriter.quoted) ?? "null"))
      fields.append("\"call\":" + (f.rendering.map(JSONWriter.quoted) ?? "null"))
      fields.append("\"detail\":" + JSONWriter.quoted(f.detail))
      items.append("{" + fields.joined(separator: ",") + "}")
    }
    return
      "{\"path\":\(JSONWriter.quoted(path)),\"verdict\":\(JSONWriter.quoted(verdict.rawValue)),"
      + "\"exit_code\":\(verdict.exitCode),\"format\":\(JSONWriter.quoted(format)),"
      + "\"pickles\":[" + pickles.map(JSONWriter.quoted).joined(separator: ",") + "],"
      + "\"findings\":[" + items.joined(separator: ",") + "],"
      + "\"omitted_findings\":\(omittedFindings),"
      + "\"notes\":[" + notes.map(JSONWriter.quoted).joined(separator: ",") + "]}"
  }

  /// The verdict of several files: the most severe (dangerous, unscannable, suspicious, safe).
  public static func combined(_ reports: [SafetyReport]) -> SafetyVerdict {
    reports.reduce(SafetyVerdict.safe) { .worst($0, $1.verdict) }
  }
}

extension String {
  func padding(_ width: Int) -> String {
    count >= width ? self : self + String(repeating: " ", count: width - count)
  }
}
