/// `ptview info FOLDER`: a checkpoint folder as a whole (what it is, every file's role and
/// tensors, totals over all files, where the index and the shards disagree, and which
/// converter applies where tensors are partitioned).
public struct FolderReport: Sendable {
  /// One file's line.
  public struct FileRow: Sendable {
    public var name: String
    public var role: String
    public var size: Int64
    /// `zip`, `legacy`..., or nil for files not read as checkpoints.
    public var format: String?
    /// Tensor paths in it (nil when not read).
    public var tensors: Int?
    public var problem: String?
  }

  public var path: String
  public var kinds: [String]
  public var files: [FileRow]
  public var tensorPaths: Int
  public var distinctTensors: Int
  public var parameters: Int64
  public var storageBytes: Int64
  public var totalSize: Int64
  public var devices: [(String, InfoReport.Tally)]
  public var dtypes: [(String, InfoReport.Tally)]
  public var index: ShardIndex?
  public var findings: [ShardIndex.Finding]
  public var converter: String?
  public var notes: [String]

  /// Computes the report.
  public init(_ folder: ShardedCheckpoint, path: String) {
    self.path = path
    kinds = folder.layout.kinds
    index = folder.index
    findings = folder.findings
    converter = folder.layout.converter
    var files: [FileRow] = []
    var paths = 0
    var distinct = 0
    var parameters: Int64 = 0
    var storageBytes: Int64 = 0
    var devices: [String: InfoReport.Tally] = [:]
    var dtypes: [String: InfoReport.Tally] = [:]
    var notes: [String] = []
    for member in folder.members {
      var row = FileRow(
        name: member.file.name, role: member.file.role, size: member.size, format: nil,
        tensors: nil, problem: member.problem)
      if let checkpoint = member.checkpoint {
        let info = InfoReport(checkpoint)
        row.format = info.format
        row.tensors = info.tensorPaths
        paths += info.tensorPaths
        distinct += info.distinctTensors
        parameters = parameters.addingSaturated(info.parameters)
        storageBytes = storageBytes.addingSaturated(info.storageBytes)
        for (k, t) in info.devices { devices[k, default: .init(tensors: 0, bytes: 0)].add(t) }
        for (k, t) in info.dtypes { dtypes[k, default: .init(tensors: 0, bytes: 0)].add(t) }
        for note in info.notes { notes.append("\(member.file.name): \(note)") }
      }
      files.append(row)
    }
    self.files = files
    tensorPaths = paths
    distinctTensors = distinct
    self.parameters = parameters
    self.storageBytes = storageBytes
    totalSize = folder.members.reduce(0) { $0.addingSaturated($1.size) }
    func order(_ d: [String: InfoReport.Tally]) -> [(String, InfoReport.Tally)] {
      d.sorted {
        $0.value.bytes > $1.value.bytes || ($0.value.bytes == $1.value.bytes && $0.key < $1.key)
      }
      .map { ($0.key, $0.value) }
    }
    self.devices = order(devices)
    self.dtypes = order(dtypes)
    self.notes = notes
  }

  /// The index check as lines: the first `limit` findings, then how many more.
  public static func findingLines(_ findings: [ShardIndex.Finding], limit: Int = 20) -> [String] {
    var lines = findings.prefix(limit).map(\.message)
    if findings.count > limit { lines.append("and \(findings.count - limit) more") }
    return lines
  }

  /// Human-readable text.
  public var text: String {
    let read = files.filter { $0.tensors != nil }.count
    var rows: [[String]] = []
    rows.append(["folder", path])
    rows.append(["kind", kinds.joined(separator: "; ")])
    rows.append([
      "files", "\(files.count) (\(Format.bytes(totalSize))), \(read) read as checkpoints",
    ])
    rows.append([
      "tensors",
      (distinctTensors == tensorPaths
        ? String(tensorPaths) : "\(tensorPaths) paths, \(distinctTensors) distinct")
        + " in \(read) file\(read == 1 ? "" : "s")",
    ])
    rows.append(["elements", "\(Format.count(parameters)) (\(parameters))"])
    rows.append(["storage bytes", Format.bytes(storageBytes)])
    var out = Table.render(rows.map { [$0[0] + ":", $0[1]] })
    out += "files:\n"
    out += Table.render(
      files.map { f in
        [
          "  " + f.name, f.role, f.format ?? "-", Format.bytes(f.size),
          f.tensors.map { "\($0) tensors" } ?? (f.problem ?? ""),
        ]
      }, rightAligned: [3])
    out += InfoReport.Tally.table("devices", devices)
    out += InfoReport.Tally.table("dtypes", dtypes)
    if let index {
      let total = index.totalSize.map { ", total_size \($0)" } ?? ""
      out +=
        "index: \(index.name): \(index.weightMap.count) tensors in \(index.shards.count) shards\(total); "
      if findings.isEmpty {
        out += "agrees with the shards\n"
      } else {
        out += "\(findings.count) disagreement\(findings.count == 1 ? "" : "s") with the shards:\n"
        for line in Self.findingLines(findings) { out += "  - \(line)\n" }
      }
    }
    if let converter { out += "converter: \(converter)\n" }
    return out + InfoReport.Tally.notes(notes)
  }

  /// JSON for scripts.
  public var json: String {
    func q(_ s: String?) -> String { s.map(JSONWriter.quoted) ?? "null" }
    var fields: [String] = []
    fields.append("\"format\": \"folder\"")
    fields.append("\"folder\": \(q(path))")
    fields.append("\"kinds\": [" + kinds.map(JSONWriter.quoted).joined(separator: ", ") + "]")
    let fileObjects = files.map { f in
      "{\"name\": \(q(f.name)), \"role\": \(q(f.role)), \"size\": \(f.size), \"format\": \(q(f.format)), "
        + "\"tensors\": \(f.tensors.map(String.init) ?? "null"), \"problem\": \(q(f.problem))}"
    }
    fields.append("\"files\": [\n    " + fileObjects.joined(separator: ",\n    ") + "\n  ]")
    fields.append("\"total_size\": \(totalSize)")
    fields.append("\"tensors\": \(tensorPaths)")
    fields.append("\"distinct_tensors\": \(distinctTensors)")
    fields.append("\"parameters\": \(parameters)")
    fields.append("\"storage_bytes\": \(storageBytes)")
    fields.append("\"devices\": \(InfoReport.Tally.json(devices))")
    fields.append("\"dtypes\": \(InfoReport.Tally.json(dtypes))")
    if let index {
      let found = findings.map {
        "{\"kind\": \(q($0.kind.rawValue)), \"key\": \(q($0.key)), \"shard\": \(q($0.shard)), \"message\": \(q($0.message))}"
      }
      fields.append(
        "\"index\": {\"name\": \(q(index.name)), \"tensors\": \(index.weightMap.count), "
          + "\"shards\": [" + index.shards.map(JSONWriter.quoted).joined(separator: ", ") + "], "
          + "\"total_size\": \(index.totalSize.map(String.init) ?? "null"), "
          + "\"findings\": [" + found.joined(separator: ", ") + "]}")
    } else {
      fields.append("\"index\": null")
    }
    fields.append("\"converter\": \(q(converter))")
    fields.append("\"notes\": [" + notes.map(JSONWriter.quoted).joined(separator: ", ") + "]")
    return "{\n  " + fields.joined(separator: ",\n  ") + "\n}\n"
  }
}
