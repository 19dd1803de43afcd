/// `ptview ls`: one row per tensor path, as JSON (design.md §3) or an aligned table.
public enum ListReport {
  /// The JSON array, one tensor object per line.
  public static func json(_ entries: [TensorEntry]) -> String {
    var out = "["
    for (i, entry) in entries.enumerated() {
      out += i == 0 ? "\n" : ",\n"
      out += object(entry)
    }
    out += entries.isEmpty ? "]\n" : "\n]\n"
    return out
  }

  /// One tensor as a JSON object.
  public static func object(_ entry: TensorEntry) -> String {
    let t = entry.tensor
    var fields: [String] = []
    fields.append("\"path\": [" + entry.path.map(JSONWriter.quoted).joined(separator: ", ") + "]")
    fields.append("\"key\": " + JSONWriter.quoted(entry.key))
    fields.append("\"dtype\": " + JSONWriter.quoted(t.dtype.name))
    let strided = t.layout == nil
    fields.append("\"shape\": " + (t.layout == "nested" ? "null" : intArray(t.shape)))
    fields.append("\"stride\": " + (t.stride.map(intArray) ?? "null"))
    fields.append("\"offset\": " + (strided ? String(t.offset) : "null"))
    fields.append("\"device\": " + JSONWriter.quoted(t.device))
    fields.append("\"storage\": " + (t.storage.map { JSONWriter.quoted($0.record) } ?? "null"))
    fields.append("\"nbytes\": \(t.nbytes)")
    fields.append("\"requires_grad\": \(t.requiresGrad)")
    if let layout = t.layout { fields.append("\"layout\": " + JSONWriter.quoted(layout)) }
    if !entry.inStateDict { fields.append("\"in_state_dict\": false") }
    return "{" + fields.joined(separator: ", ") + "}"
  }

  private static func intArray(_ values: [Int64]) -> String {
    "[" + values.map(String.init).joined(separator: ", ") + "]"
  }

  /// An aligned table with a header row.
  public static func table(_ entries: [TensorEntry]) -> String {
    let header = ["KEY", "DTYPE", "SHAPE", "DEVICE", "STORAGE", "OFFSET", "BYTES"]
    var rows: [[String]] = [header]
    for entry in entries {
      let t = entry.tensor
      rows.append([
        entry.key + (entry.inStateDict ? "" : " (not in state_dict)"),
        t.dtype.name + (t.layout.map { " (\($0))" } ?? ""),
        Format.compactShape(t.shape),
        t.device,
        t.storage?.record ?? "-",
        String(t.offset),
        Format.bytes(t.nbytes),
      ])
    }
    return Table.render(rows, rightAligned: [5, 6])
  }
}

/// Plain-text column alignment.
public enum Table {
  /// Renders rows with two spaces between columns; `rightAligned` column indices pad left.
  public static func render(_ rows: [[String]], rightAligned: Set<Int> = []) -> String {
    guard let columns = rows.map(\.count).max() else { return "" }
    var widths = [Int](repeating: 0, count: columns)
    for row in rows {
      for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
    }
    var out = ""
    for row in rows {
      var line = ""
      for (i, cell) in row.enumerated() {
        let pad = String(repeating: " ", count: widths[i] - cell.count)
        let isLast = i == row.count - 1
        line += rightAligned.contains(i) ? pad + cell : (isLast ? cell : cell + pad)
        if !isLast { line += "  " }
      }
      while line.hasSuffix(" ") { line.removeLast() }
      out += line + "\n"
    }
    return out
  }
}
