/// `ls` of a DCP folder: one row (or JSON object) per saved key.
public enum DistributedReport {
  /// The files an item's bytes are in, sorted.
  static func files(_ item: DistributedMetadata.Item) -> [String] {
    switch item.kind {
    case .tensor(_, _, let chunks): Set(chunks.map(\.storage.file)).sorted()
    case .bytes(let s): [s.file]
    }
  }

  /// The bytes of the assembled tensor (element count times element size); nil for values.
  static func nbytes(_ item: DistributedMetadata.Item) -> Int64? {
    guard case .tensor(let dtype, let shape, _) = item.kind else { return nil }
    let count = shape.reduce(Int64(1), &*)
    return count &* Int64(dtype.elementSize)
  }

  static func pathText(_ part: DistributedMetadata.PathPart) -> String {
    switch part {
    case .key(let s): s
    case .index(let i): String(i)
    }
  }

  /// A JSON array, one object per item: path (the nested path dcp_to_torch_save rebuilds),
  /// key (the flattened key DCP stores), kind ("tensor" or "bytes"), dtype, shape, chunks,
  /// file (when one file holds it all, else null), files, nbytes, stored_bytes.
  public static func json(_ metadata: DistributedMetadata) -> String {
    var out = "["
    for (i, item) in metadata.items.enumerated() {
      out += i == 0 ? "\n" : ",\n"
      out +=
        "{\"path\": [" + item.path.map { JSONWriter.quoted(pathText($0)) }.joined(separator: ", ")
      out += "], \"key\": " + JSONWriter.quoted(item.fqn)
      let names = files(item)
      switch item.kind {
      case .tensor(let dtype, let shape, let chunks):
        out += ", \"kind\": \"tensor\", \"dtype\": " + JSONWriter.quoted(dtype.name)
        out += ", \"shape\": [" + shape.map(String.init).joined(separator: ", ") + "]"
        out += ", \"chunks\": \(chunks.count)"
      case .bytes:
        out += ", \"kind\": \"bytes\", \"dtype\": null, \"shape\": null, \"chunks\": 0"
      }
      out += ", \"file\": " + (names.count == 1 ? JSONWriter.quoted(names[0]) : "null")
      out += ", \"files\": [" + names.map(JSONWriter.quoted).joined(separator: ", ") + "]"
      out += ", \"nbytes\": " + (nbytes(item).map(String.init) ?? "null")
      out += ", \"stored_bytes\": \(item.storedBytes)}"
    }
    out += metadata.items.isEmpty ? "]\n" : "\n]\n"
    return out
  }

  /// A table: KEY DTYPE SHAPE CHUNKS FILE BYTES.
  public static func table(_ metadata: DistributedMetadata) -> String {
    var rows: [[String]] = [["KEY", "DTYPE", "SHAPE", "CHUNKS", "FILE", "BYTES"]]
    for item in metadata.items {
      let names = files(item)
      let file = names.count == 1 ? names[0] : "\(names.count) files"
      switch item.kind {
      case .tensor(let dtype, let shape, let chunks):
        rows.append([
          item.fqn, dtype.name, "(" + shape.map(String.init).joined(separator: ", ") + ")",
          String(chunks.count), file, String(nbytes(item) ?? 0),
        ])
      case .bytes(let s):
        rows.append([item.fqn, "(value)", "-", "-", file, String(s.length)])
      }
    }
    var widths = [Int](repeating: 0, count: rows[0].count)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    var out = ""
    for row in rows {
      var line = ""
      for (i, cell) in row.enumerated() {
        let pad =
          i == row.count - 1 ? "" : String(repeating: " ", count: widths[i] - cell.count + 2)
        line += cell + pad
      }
      out += line + "\n"
    }
    return out
  }
}

extension DistributedReport {
  /// Totals for `info`: files, keys, tensors, values, chunks, tensor bytes, stored bytes.
  struct Totals {
    var tensors = 0
    var values = 0
    var chunks = 0
    var tensorBytes: Int64 = 0
    var storedBytes: Int64 = 0
    var dtypes: [String: (count: Int, bytes: Int64)] = [:]

    init(_ metadata: DistributedMetadata) {
      for item in metadata.items {
        storedBytes &+= item.storedBytes
        switch item.kind {
        case .tensor(let dtype, _, let list):
          tensors += 1
          chunks += list.count
          let n = DistributedReport.nbytes(item) ?? 0
          tensorBytes &+= n
          dtypes[dtype.name, default: (0, 0)].count += 1
          dtypes[dtype.name, default: (0, 0)].bytes &+= n
        case .bytes: values += 1
        }
      }
    }
  }

  /// `info` of a DCP folder, as text.
  public static func infoText(_ metadata: DistributedMetadata) -> String {
    let t = Totals(metadata)
    var out = "format:        torch.distributed.checkpoint (DCP folder)\n"
    out += "files:         \(metadata.files.count) (\(metadata.files.joined(separator: ", ")))\n"
    out += "keys:          \(metadata.items.count)\n"
    out += "tensors:       \(t.tensors) in \(t.chunks) chunks (\(Format.bytes(t.tensorBytes)))\n"
    out += "values:        \(t.values) (non-tensor, pickled by DCP)\n"
    out += "stored bytes:  \(Format.bytes(t.storedBytes))\n"
    out += "dtypes:\n"
    for (name, row) in t.dtypes.sorted(by: { $0.key < $1.key }) {
      out += "  \(name)  \(row.count) tensors  \(Format.bytes(row.bytes))\n"
    }
    return out
  }

  /// `info --json` of a DCP folder.
  public static func infoJSON(_ metadata: DistributedMetadata) -> String {
    let t = Totals(metadata)
    var out = "{\"format\": \"dcp\", \"files\": ["
    out += metadata.files.map(JSONWriter.quoted).joined(separator: ", ")
    out += "], \"keys\": \(metadata.items.count), \"tensors\": \(t.tensors)"
    out += ", \"values\": \(t.values), \"chunks\": \(t.chunks)"
    out += ", \"tensor_bytes\": \(t.tensorBytes), \"stored_bytes\": \(t.storedBytes), \"dtypes\": {"
    out += t.dtypes.sorted(by: { $0.key < $1.key }).map {
      JSONWriter.quoted($0.key) + ": {\"tensors\": \($0.value.count), \"bytes\": \($0.value.bytes)}"
    }.joined(separator: ", ")
    return out + "}}\n"
  }

  /// `tree` of a DCP folder: the nested dict `dcp_to_torch_save` rebuilds, one line per step.
  public static func tree(_ metadata: DistributedMetadata, maxDepth: Int?) -> String {
    var out = ""
    var printed = Set<[String]>()
    for item in metadata.items {
      let parts = item.path.map(pathText)
      // Containers on the way that were not printed yet.
      for depth in 0..<parts.count {
        if let maxDepth, depth >= maxDepth { break }
        let prefix = Array(parts[...depth])
        if depth < parts.count - 1 {
          if !printed.insert(prefix).inserted { continue }
          out += String(repeating: "  ", count: depth) + prefix[depth] + ":\n"
        } else {
          var line = String(repeating: "  ", count: depth) + prefix[depth] + ": "
          switch item.kind {
          case .tensor(let dtype, let shape, let chunks):
            line += "tensor(\(dtype.name), (\(shape.map(String.init).joined(separator: ", "))))"
            if chunks.count != 1 { line += " in \(chunks.count) chunks" }
          case .bytes: line += "(value)"
          }
          out += line + "\n"
        }
      }
    }
    return out
  }
}
