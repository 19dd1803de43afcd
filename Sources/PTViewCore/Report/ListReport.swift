/// `ptview ls`: one row per tensor path, as JSON (design.md §3) or an aligned table.
public enum ListReport {
  /// Streams the JSON array to `sink` in blocks of a few thousand objects, rendered two at a
  /// time on two threads: listing tens of thousands of tensors never holds the whole text in
  /// memory, and the text costs half the time.
  public static func json(_ entries: [TensorEntry], sink: (UnsafeRawBufferPointer) -> Void) {
    let block = 4096
    func render(_ range: Range<Int>) -> Block {
      // About 240 bytes a row, 280 with a folder's file field: room enough that the buffer
      // is not grown (and copied) halfway through a block.
      let perRow = entries[range.lowerBound].file == nil ? 240 : 300
      let rendered = Block(capacity: range.count * perRow)
      var file = FileField()
      for i in range {
        rendered.bytes.literal(i == 0 ? "\n" : ",\n")
        object(entries[i], into: &rendered.bytes, file: &file)
      }
      return rendered
    }
    var start = 0
    Array("[".utf8).withUnsafeBytes(sink)
    while start < entries.count {
      let ranges = (0..<2).map { k in
        min(entries.count, start + k * block)..<min(entries.count, start + (k + 1) * block)
      }
      for part in Parallel.map(ranges[1].isEmpty ? 1 : 2, { render(ranges[$0]) }) {
        part.bytes.flush(sink)
      }
      start += 2 * block
    }
    let end = entries.isEmpty ? "]\n" : "\n]\n"
    Array(end.utf8).withUnsafeBytes(sink)
  }

  /// One block of rendered text, handed from the thread that rendered it to the one that
  /// writes it (by reference, so the text is not copied on the way).
  private final class Block: @unchecked Sendable {
    var bytes: JSONBytes
    init(capacity: Int) { bytes = JSONBytes(capacity: capacity) }
  }

  /// The JSON array, one tensor object per line.
  public static func json(_ entries: [TensorEntry]) -> String {
    var out = JSONBytes(capacity: entries.count * 220)
    var file = FileField()
    out.literal("[")
    for (i, entry) in entries.enumerated() {
      out.literal(i == 0 ? "\n" : ",\n")
      object(entry, into: &out, file: &file)
    }
    out.literal(entries.isEmpty ? "]\n" : "\n]\n")
    return out.text
  }

  /// One tensor as a JSON object.
  public static func object(_ entry: TensorEntry) -> String {
    var out = JSONBytes()
    var file = FileField()
    object(entry, into: &out, file: &file)
    return out.text
  }

  /// The `"file"` field of the last file written, rendered once: a folder's rows come file
  /// by file, all naming their file with the same String, so each row copies the field's
  /// bytes instead of escaping the name again.
  private struct FileField {
    var name: String?
    var text: [UInt8] = []

    mutating func write(_ file: String, into out: inout JSONBytes) {
      if name != file {
        var field = JSONBytes()
        field.literal(", \"file\": ")
        field.string(file)
        name = file
        text = field.bytes
      }
      out.raw(text)
    }
  }

  private static func object(
    _ entry: TensorEntry, into out: inout JSONBytes, file fileField: inout FileField
  ) {
    let t = entry.tensor
    out.literal("{\"path\": [")
    for (i, component) in entry.path.enumerated() {
      if i > 0 { out.literal(", ") }
      out.string(component)
    }
    out.literal("], \"key\": \"")
    for (i, component) in entry.path.enumerated() {
      if i > 0 { out.literal(".") }
      out.unquoted(component)
    }
    out.literal("\"")
    out.literal(", \"dtype\": ")
    out.string(t.dtype.name)
    out.literal(", \"shape\": ")
    if t.layout == "nested" { out.literal("null") } else { out.ints(t.shape) }
    out.literal(", \"stride\": ")
    if let stride = t.stride { out.ints(stride) } else { out.literal("null") }
    out.literal(", \"offset\": ")
    if t.layout == nil { out.int(t.offset) } else { out.literal("null") }
    out.literal(", \"device\": ")
    out.string(t.device)
    out.literal(", \"storage\": ")
    if let record = t.storageRecord { out.string(record) } else { out.literal("null") }
    out.literal(", \"nbytes\": ")
    out.int(t.nbytes)
    out.literal(t.requiresGrad ? ", \"requires_grad\": true" : ", \"requires_grad\": false")
    if let layout = t.layout {
      out.literal(", \"layout\": ")
      out.string(layout)
    }
    if !entry.inStateDict { out.literal(", \"in_state_dict\": false") }
    if let file = entry.file { fileField.write(file, into: &out) }
    out.literal("}")
  }

  /// An aligned table with a header row; a FILE column when the tensors come from several
  /// files (a sharded folder).
  public static func table(_ entries: [TensorEntry]) -> String {
    let withFile = entries.contains { $0.file != nil }
    let header =
      ["KEY", "DTYPE", "SHAPE", "DEVICE", "STORAGE", "OFFSET", "BYTES"] + (withFile ? ["FILE"] : [])
    var rows: [[String]] = [header]
    for entry in entries {
      let t = entry.tensor
      rows.append(
        [
          entry.key + (entry.inStateDict ? "" : " (not in state_dict)"),
          t.dtype.name + (t.layout.map { " (\($0))" } ?? ""),
          Format.compactShape(t.shape),
          t.device,
          t.storage?.record ?? "-",
          String(t.offset),
          Format.bytes(t.nbytes),
        ] + (withFile ? [entry.file ?? "-"] : []))
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
