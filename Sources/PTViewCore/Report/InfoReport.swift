import PTViewPickle

/// `ptview info`: the facts about a checkpoint as a whole.
public struct InfoReport: Sendable {
  /// Per-device or per-dtype totals.
  public struct Tally: Sendable, Equatable {
    /// Distinct tensors.
    public var tensors: Int
    /// Their own bytes.
    public var bytes: Int64
  }

  public var format: String
  public var root: String?
  public var declaredProtocol: Int?
  public var highestProtocol: Int?
  public var byteorder: String?
  public var version: String?
  public var storageAlignment: Int?
  public var fileSize: Int64
  public var records: Int
  public var storages: Int
  public var tensorPaths: Int
  public var distinctTensors: Int
  public var storageBytes: Int64
  public var parameters: Int64
  public var devices: [(String, Tally)]
  public var dtypes: [(String, Tally)]
  public var globals: [String]
  public var notes: [String]
  /// For archives ptview edited in place: their appends and superseded records.
  public var appends: AppendedArchive.History?

  /// Computes the report.
  public init(_ checkpoint: Checkpoint, appends: AppendedArchive.History?) {
    self.init(checkpoint)
    self.appends = appends
  }

  /// Computes the report.
  public init(_ checkpoint: Checkpoint) {
    format = checkpoint.format.rawValue
    root = checkpoint.archiveRoot
    let main = checkpoint.pickles.first(where: {
      $0.name == "data.pkl" || $0.name == "main" || $0.name == "pickle"
    })
    declaredProtocol = main?.declaredProtocol
    highestProtocol = main?.highestProtocol
    byteorder = checkpoint.byteorder
    version = checkpoint.version
    storageAlignment = checkpoint.storageAlignment
    fileSize = checkpoint.fileSize
    records =
      checkpoint.directory?.entries.count ?? (checkpoint.pickles.count + checkpoint.storages.count)
    storages = checkpoint.storages.count
    storageBytes = checkpoint.storages.values.reduce(0) { $0.addingSaturated($1.size) }
    tensorPaths = checkpoint.entries.count
    // Distinct tensors: by node when there is a graph, else by path. Kept as indices and a
    // bitmap over nodes: checkpoints with tens of thousands of tensors need no copies or hashing.
    let entries = checkpoint.entries
    var seen = [Bool](repeating: false, count: checkpoint.graph.count)
    var distinct: [Int] = []
    distinct.reserveCapacity(entries.count)
    for (i, entry) in entries.enumerated() {
      if let node = entry.tensor.node, Int(node.index) < seen.count, node.index >= 0 {
        if seen[Int(node.index)] { continue }
        seen[Int(node.index)] = true
      }
      distinct.append(i)
    }
    distinctTensors = distinct.count
    parameters = distinct.reduce(0) { $0.addingSaturated(entries[$1].tensor.numel) }
    if checkpoint.format == .safetensors {
      storageBytes = distinct.reduce(0) { $0.addingSaturated(entries[$1].tensor.nbytes) }
    }
    func tally(_ key: (TensorInfo) -> String) -> [(String, Tally)] {
      var slots: [String: Int] = [:]
      var tallies: [(String, Tally)] = []
      for i in distinct {
        let t = entries[i].tensor
        let k = key(t)
        let slot: Int
        if let known = slots[k] {
          slot = known
        } else {
          slot = tallies.count
          slots[k] = slot
          tallies.append((k, Tally(tensors: 0, bytes: 0)))
        }
        tallies[slot].1.tensors += 1
        tallies[slot].1.bytes = tallies[slot].1.bytes.addingSaturated(t.nbytes)
      }
      return tallies.sorted {
        $0.1.bytes > $1.1.bytes || ($0.1.bytes == $1.1.bytes && $0.0 < $1.0)
      }
    }
    devices = tally(\.device)
    dtypes = tally(\.dtype.name)
    globals = checkpoint.globals
    notes = checkpoint.notes
  }

  /// Human-readable text.
  public var text: String {
    var rows: [[String]] = []
    rows.append(["format", format + (version.map { " (version \($0))" } ?? "")])
    if let root { rows.append(["root", root]) }
    if let declaredProtocol {
      rows.append([
        "pickle protocol",
        "\(declaredProtocol)"
          + (highestProtocol.map { $0 != declaredProtocol ? " (opcodes up to \($0))" : "" } ?? ""),
      ])
    }
    if let byteorder { rows.append(["byteorder", byteorder]) }
    if let storageAlignment { rows.append(["storage alignment", String(storageAlignment)]) }
    rows.append(["file size", "\(Format.bytes(fileSize)) (\(fileSize) bytes)"])
    rows.append(["records", String(records)])
    rows.append(["storages", "\(storages) (\(Format.bytes(storageBytes)))"])
    rows.append([
      "tensors",
      distinctTensors == tensorPaths
        ? String(tensorPaths) : "\(tensorPaths) paths, \(distinctTensors) distinct",
    ])
    rows.append(["elements", "\(Format.count(parameters)) (\(parameters))"])
    var out = Table.render(rows.map { [$0[0] + ":", $0[1]] })
    out += InfoReport.Tally.table("devices", devices)
    out += InfoReport.Tally.table("dtypes", dtypes)
    out += "globals:\n"
    for g in globals { out += "  \(g)\n" }
    if let appends {
      let n = appends.appends.count
      out +=
        "appended: \(n) in-place edit\(n == 1 ? "" : "s") since byte \(appends.originalSize); \(Format.bytes(appends.unusedBytes)) unused (`ptview edit FILE --in-place --compact` rewrites it without them)\n"
      let shown = appends.superseded.prefix(20)
      out += Table.render(
        shown.map { ["  superseded " + $0.name, "at \($0.offset)", Format.bytes($0.size)] },
        rightAligned: [2])
      if appends.superseded.count > shown.count {
        out += "  and \(appends.superseded.count - shown.count) more superseded records\n"
      }
    }
    return out + InfoReport.Tally.notes(notes)
  }

  /// JSON for scripts.
  public var json: String {
    func q(_ s: String?) -> String { s.map(JSONWriter.quoted) ?? "null" }
    func n(_ v: Int?) -> String { v.map(String.init) ?? "null" }
    var fields: [String] = []
    fields.append("\"format\": \(q(format))")
    fields.append("\"root\": \(q(root))")
    fields.append("\"pickle_protocol\": \(n(declaredProtocol))")
    fields.append("\"highest_protocol\": \(n(highestProtocol))")
    fields.append("\"byteorder\": \(q(byteorder))")
    fields.append("\"version\": \(q(version))")
    fields.append("\"storage_alignment\": \(n(storageAlignment))")
    fields.append("\"file_size\": \(fileSize)")
    fields.append("\"records\": \(records)")
    fields.append("\"storages\": \(storages)")
    fields.append("\"storage_bytes\": \(storageBytes)")
    fields.append("\"tensors\": \(tensorPaths)")
    fields.append("\"distinct_tensors\": \(distinctTensors)")
    fields.append("\"parameters\": \(parameters)")
    fields.append("\"devices\": \(InfoReport.Tally.json(devices))")
    fields.append("\"dtypes\": \(InfoReport.Tally.json(dtypes))")
    fields.append("\"globals\": [" + globals.map(JSONWriter.quoted).joined(separator: ", ") + "]")
    fields.append("\"notes\": [" + notes.map(JSONWriter.quoted).joined(separator: ", ") + "]")
    if let appends {
      let superseded = appends.superseded.map {
        "{\"name\": \(JSONWriter.quoted($0.name)), \"offset\": \($0.offset), \"bytes\": \($0.size)}"
      }
      fields.append(
        "\"appended\": {\"edits\": \(appends.appends.count), \"original_size\": \(appends.originalSize), "
          + "\"appends_at\": [\(appends.appends.map { String($0.oldSize) }.joined(separator: ", "))], "
          + "\"unused_bytes\": \(appends.unusedBytes), \"superseded\": [\(superseded.joined(separator: ", "))], "
          + "\"compact\": \"ptview edit FILE --in-place --compact\"}")
    }
    return "{\n  " + fields.joined(separator: ",\n  ") + "\n}\n"
  }
}
