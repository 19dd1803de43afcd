/// Sharded checkpoints (`pytorch_model.bin.index.json`, `model.safetensors.index.json`): an
/// index mapping each parameter to a shard file, beside the shards in one folder.
///
/// Hugging Face writes `{"metadata": {"total_size": N}, "weight_map": {KEY: SHARD}}`;
/// `from_pretrained` opens the shards the weight map names and loads every tensor in them.
/// ptview reads the folder as one checkpoint (`ShardedCheckpoint`) and checks the index
/// against what the shards really hold.
public struct ShardIndex: Sendable, Equatable {
  /// The index file's name.
  public var name: String
  /// `KEY → SHARD` in document order (duplicate keys kept: the check reports them). Empty
  /// when the index was parsed without its keys (`parse(_:name:keys:)`).
  public var weightMap: [(key: String, shard: String)]
  /// `metadata.total_size`, when present.
  public var totalSize: Int64?
  /// The shard files the weight map names, in order of first mention.
  public private(set) var shards: [String]

  public static func == (lhs: ShardIndex, rhs: ShardIndex) -> Bool {
    lhs.name == rhs.name && lhs.totalSize == rhs.totalSize && lhs.shards == rhs.shards
      && lhs.weightMap.elementsEqual(rhs.weightMap, by: { $0 == $1 })
  }

  /// Parses an index document. `keys: false` keeps only the shard names and the total (what
  /// a folder write needs): the weight map is checked as it is read and not kept, so a
  /// folder's index costs its bytes, not a string pair per tensor of the whole model.
  /// - Throws: `CheckpointError` naming the JSON byte offset, or saying what is missing.
  public static func parse(_ bytes: [UInt8], name: String, keys: Bool = true)
    throws(CheckpointError) -> ShardIndex
  {
    var map: [(key: String, shard: String)] = []
    var shards: [String] = []
    var checked: Set<String> = []
    var last: String?
    var refusal: CheckpointError?
    let json: JSONValue
    do {
      // The weight map is streamed, never built as a tree: each member is checked and kept
      // (or not) as it is read. A key the document repeats counts once more, as before.
      json = try JSONParser.parse(
        bytes, streaming: "weight_map",
        restart: {
          map = []
          shards = []
          checked = []
          last = nil
          refusal = nil
        },
        member: { key, value in
          guard refusal == nil else { return }
          guard let shard = value.stringValue else {
            refusal = CheckpointError(
              .malformed, record: name,
              "weight_map[\(JSONWriter.quoted(key))] is not a file name")
            return
          }
          // Keys come in runs per shard: the run's one string is kept, not one per key.
          if let last, shard == last {
            if keys { map.append((key, last)) }
            return
          }
          last = shard
          // A shard is a file beside the index: a path that leaves the folder is refused, so
          // a hostile index cannot make ptview read (or a remap write) anywhere else.
          if !checked.contains(shard) {
            guard isPlainFileName(shard) else {
              refusal = CheckpointError(
                .malformed, record: name,
                "weight_map[\(JSONWriter.quoted(key))] names \(JSONWriter.quoted(shard)), not a file in this folder"
              )
              return
            }
            checked.insert(shard)
            shards.append(shard)
          }
          if keys { map.append((key, shard)) }
        })
    } catch {
      throw CheckpointError(.malformed, record: name, offset: Int64(error.offset), error.message)
    }
    guard case .object? = json["weight_map"] else {
      throw CheckpointError(
        .malformed, record: name, "not a sharded checkpoint index: no \"weight_map\" object")
    }
    if let refusal { throw refusal }
    return ShardIndex(
      name: name, weightMap: map, totalSize: json["metadata"]?["total_size"]?.intValue,
      shards: shards)
  }

  /// Whether `name` is one file name: no separators, not `.` or `..`, no NUL.
  public static func isPlainFileName(_ name: String) -> Bool {
    !name.isEmpty && name != "." && name != ".."
      && !name.utf8.contains(where: { $0 == UInt8(ascii: "/") || $0 == 0 })
  }

  /// The error that explains what a JSON file is, for readers given the index as a file.
  static func describe(_ source: any ByteSource) -> CheckpointError {
    guard source.size <= 64 << 20,
      let bytes = try? source.readExactly(at: 0, count: Int(source.size)),
      let index = try? parse(bytes, name: "index")
    else {
      return CheckpointError(
        .unsupportedFormat, "this is a JSON document, not a PyTorch checkpoint")
    }
    let shards = index.shards
    let list = shards.prefix(4).joined(separator: ", ") + (shards.count > 4 ? ", …" : "")
    return CheckpointError(
      .unsupportedFormat,
      "this is a sharded checkpoint index (\(index.weightMap.count) tensors in \(shards.count) shards: \(list)); run ptview on its folder"
    )
  }
}

extension ShardIndex {
  /// One disagreement between the index and the shards, as a line for people.
  public struct Finding: Sendable, Equatable {
    /// What kind of disagreement.
    public enum Kind: String, Sendable {
      /// The index names a shard file the folder does not have.
      case missingShard = "missing_shard"
      /// The index puts a key in a shard that does not hold it (nor does any other).
      case missingKey = "missing_key"
      /// A shard holds a key the index puts in another shard.
      case misplacedKey = "misplaced_key"
      /// A shard holds a key the index does not list.
      case unlistedKey = "unlisted_key"
      /// The index lists a key twice.
      case duplicateKey = "duplicate_key"
    }
    public var kind: Kind
    /// The key concerned (nil for a missing shard).
    public var key: String?
    /// The shard concerned.
    public var shard: String
    /// The line.
    public var message: String
  }

  /// Compares the index with the keys each shard holds (`holdings[shard]`; shards that could
  /// not be read are absent and their keys not judged). `present`: the folder's file names.
  ///
  /// About three hash lookups per key when all agree (a listing of a 100,000-tensor folder
  /// pays for the check, so it stays small); the slower search for where a misplaced key
  /// really is runs only when a key is not where the index says.
  public func check(holdings: [String: Set<String>], present: Set<String>) -> [Finding] {
    var findings: [Finding] = []
    var listedIn: [String: String] = [:]
    listedIn.reserveCapacity(weightMap.count)
    for (key, shard) in weightMap {
      if let earlier = listedIn.updateValue(shard, forKey: key) {
        findings.append(
          Finding(
            kind: .duplicateKey, key: key, shard: shard,
            message: "\(name) lists \(key) twice (in \(earlier) and \(shard))"))
      }
    }
    for shard in shards where !present.contains(shard) {
      let count = weightMap.reduce(0) { $0 + ($1.shard == shard ? 1 : 0) }
      findings.append(
        Finding(
          kind: .missingShard, key: nil, shard: shard,
          message:
            "\(name) puts \(count) tensor\(count == 1 ? "" : "s") in \(shard), which is not in the folder"
        ))
    }
    var absent: [(key: String, shard: String)] = []
    var run: (shard: String, keys: Set<String>?)?
    for (key, shard) in weightMap {
      if run?.shard != shard { run = (shard, holdings[shard]) }
      guard let keys = run?.keys, !keys.contains(key) else { continue }
      absent.append((key, shard))
    }
    if !absent.isEmpty {
      let order = holdings.keys.sorted()
      var reported: Set<String> = []
      for (key, shard) in absent where reported.insert(key).inserted {
        if let other = order.first(where: { holdings[$0]!.contains(key) }) {
          findings.append(
            Finding(
              kind: .misplacedKey, key: key, shard: other,
              message: "\(other) holds \(key), which \(name) puts in \(shard)"))
        } else {
          findings.append(
            Finding(
              kind: .missingKey, key: key, shard: shard,
              message: "\(name) puts \(key) in \(shard), but no shard holds it"))
        }
      }
    }
    for (shard, keys) in holdings.sorted(by: { $0.key < $1.key }) {
      let unlisted = keys.filter { listedIn[$0] == nil }
      for key in unlisted.sorted() {
        findings.append(
          Finding(
            kind: .unlistedKey, key: key, shard: shard,
            message: "\(shard) holds \(key), which \(name) does not list"))
      }
    }
    return findings
  }
}
