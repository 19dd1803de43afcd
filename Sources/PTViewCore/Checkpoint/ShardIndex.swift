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

  /// Where the index lists each key: what `check` looks rows up in. Built apart from the
  /// check so a folder reader can build it beside the shards' reading, not after it.
  public struct Listings: Sendable {
    /// Each key's last listing (its place, when the index lists it twice).
    var last: [String: Int]
    /// Listings a later listing of the same key replaces, as (earlier, later), in the
    /// order of the later one.
    var duplicates: [(earlier: Int, later: Int)]
  }

  /// One hash per listing; also finds the keys listed twice.
  public func listings() -> Listings {
    var last: [String: Int] = [:]
    last.reserveCapacity(weightMap.count)
    var duplicates: [(earlier: Int, later: Int)] = []
    for (i, (key, _)) in weightMap.enumerated() {
      if let earlier = last.updateValue(i, forKey: key) { duplicates.append((earlier, i)) }
    }
    return Listings(last: last, duplicates: duplicates)
  }

  /// Compares the index with the keys each shard holds (`holdings[shard]`; shards that could
  /// not be read are absent and their keys not judged). `present`: the folder's file names.
  public func check(holdings: [String: Set<String>], present: Set<String>) -> [Finding] {
    check(held: holdings.map { ($0.key, Array($0.value)) }, present: present)
  }

  /// Compares the index with the keys each shard holds, as its rows list them (`held`: one
  /// entry per shard that was read; a key may repeat; shards that could not be read are
  /// absent and their keys not judged). `present`: the folder's file names. `listings`:
  /// this index's `listings()`, when already built.
  ///
  /// Two hash lookups per key when all agree (a listing of a 100,000-tensor folder pays for
  /// the check, so it stays small): one to note where the index lists each key, one per row
  /// to find its listing (the rows of big folders looked up on two threads). A listing its
  /// shard holds is marked by position, so no set of a shard's keys is built; those sets are
  /// built only when something disagrees, for the slower search for where a misplaced key
  /// really is.
  public func check(
    held: [(shard: String, keys: [String])], present: Set<String>, listings: Listings? = nil
  ) -> [Finding] {
    let listings = listings ?? self.listings()
    var findings: [Finding] = []
    let held = held.sorted { $0.shard < $1.shard }
    var heldNumber: [String: Int32] = [:]
    for (n, shard) in held.enumerated() { heldNumber[shard.shard] = Int32(n) }
    // Per listing: the number of the held shard it names (-1: not read).
    var listedIn = [Int32](repeating: -1, count: weightMap.count)
    var run: (shard: String, number: Int32)?
    for (i, (_, shard)) in weightMap.enumerated() {
      // Keys come in runs per shard: comparing with the previous shard is cheaper than hashing.
      if run?.shard != shard { run = (shard, heldNumber[shard] ?? -1) }
      listedIn[i] = run!.number
    }
    // Whether a later listing of the same key replaces a listing as the key's place.
    var superseded: [Bool] = []
    for (earlier, later) in listings.duplicates {
      let (key, shard) = weightMap[later]
      findings.append(
        Finding(
          kind: .duplicateKey, key: key, shard: shard,
          message: "\(name) lists \(key) twice (in \(weightMap[earlier].shard) and \(shard))"))
      if superseded.isEmpty { superseded = [Bool](repeating: false, count: weightMap.count) }
      superseded[earlier] = true
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
    // Each row finds the listing of its key: the listing is held when it names the row's
    // shard; a key no listing names is unlisted.
    let rows = held.reduce(0) { $0 + $1.keys.count }
    let looked = Parallel.map(rows >= 8192 ? held.count : 0) { n in
      Self.lookUp(held[n].keys, shard: Int32(n), listings.last, listedIn)
    }
    var found = [Bool](repeating: false, count: weightMap.count)
    var unlisted: [[String]] = []
    for (n, shard) in held.enumerated() {
      let (holds, keys) =
        looked.isEmpty
        ? Self.lookUp(shard.keys, shard: Int32(n), listings.last, listedIn) : looked[n]
      for i in holds { found[i] = true }
      unlisted.append(keys)
    }
    var sets: [Set<String>]?
    func keySets() -> [Set<String>] {
      if let sets { return sets }
      let built = held.map { Set($0.keys) }
      sets = built
      return built
    }
    var absent: [(key: String, shard: String)] = []
    for (i, (key, shard)) in weightMap.enumerated() where listedIn[i] >= 0 {
      let isHeld =
        superseded.isEmpty || !superseded[i]
        ? found[i] : keySets()[Int(listedIn[i])].contains(key)
      if !isHeld { absent.append((key, shard)) }
    }
    if !absent.isEmpty {
      let sets = keySets()
      var reported: Set<String> = []
      for (key, shard) in absent where reported.insert(key).inserted {
        if let other = sets.indices.first(where: { sets[$0].contains(key) }) {
          let other = held[other].shard
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
    for (n, keys) in unlisted.enumerated() where !keys.isEmpty {
      let shard = held[n].shard
      var previous: String?
      for key in keys.sorted() where key != previous {
        previous = key
        findings.append(
          Finding(
            kind: .unlistedKey, key: key, shard: shard,
            message: "\(shard) holds \(key), which \(name) does not list"))
      }
    }
    return findings
  }

  /// The listings a shard's rows show it holds, and the keys no listing names.
  private static func lookUp(
    _ keys: [String], shard: Int32, _ last: [String: Int], _ listedIn: [Int32]
  ) -> (held: [Int], unlisted: [String]) {
    var held: [Int] = []
    held.reserveCapacity(keys.count)
    var unlisted: [String] = []
    for key in keys {
      if let i = last[key] {
        if listedIn[i] == shard { held.append(i) }
      } else {
        unlisted.append(key)
      }
    }
    return (held, unlisted)
  }
}

extension ShardIndex {
  /// An index made from a weight map already in hand (tests, tools): its shards are the files
  /// the map names, in order of first mention, as `parse` finds them.
  public init(name: String, weightMap: [(key: String, shard: String)], totalSize: Int64?) {
    var seen: Set<String> = []
    var shards: [String] = []
    for entry in weightMap where seen.insert(entry.shard).inserted { shards.append(entry.shard) }
    self.init(name: name, weightMap: weightMap, totalSize: totalSize, shards: shards)
  }
}
