import Testing

@testable import PTViewCore

@Suite struct ShardIndexTests {
  let index = """
    {"metadata": {"total_size": 12}, "weight_map": {"a": "s1.bin", "b": "s1.bin", "c": "s2.bin", "d": "s3.bin"}}
    """

  @Test func parsesTheWeightMapInOrder() throws {
    let parsed = try ShardIndex.parse(Array(index.utf8), name: "i.json")
    #expect(parsed.weightMap.map(\.key) == ["a", "b", "c", "d"])
    #expect(parsed.shards == ["s1.bin", "s2.bin", "s3.bin"])
    #expect(parsed.totalSize == 12)
  }

  @Test func withoutKeysKeepsTheShardsAndTheTotalOnly() throws {
    let parsed = try ShardIndex.parse(Array(index.utf8), name: "i.json", keys: false)
    #expect(parsed.weightMap.isEmpty)
    #expect(parsed.shards == ["s1.bin", "s2.bin", "s3.bin"])
    #expect(parsed.totalSize == 12)
    let hostile = #"{"weight_map": {"a": "s.bin", "b": "../x.bin"}}"#
    #expect(throws: CheckpointError.self) {
      try ShardIndex.parse(Array(hostile.utf8), name: "i.json", keys: false)
    }
  }

  @Test func aRepeatedWeightMapCountsAsTheLastOne() throws {
    // As JSONValue's subscript reads a repeated key: the last one.
    let twice = #"{"weight_map": {"a": "../x.bin"}, "weight_map": {"b": "s.bin"}}"#
    let parsed = try ShardIndex.parse(Array(twice.utf8), name: "i.json")
    #expect(parsed.weightMap.map(\.key) == ["b"] && parsed.shards == ["s.bin"])
    let notObject = #"{"weight_map": {"b": "s.bin"}, "weight_map": 1}"#
    #expect(throws: CheckpointError.self) {
      try ShardIndex.parse(Array(notObject.utf8), name: "i.json")
    }
    let bad = #"{"weight_map": {"a": "s.bin", "b": 2"#
    #expect(throws: CheckpointError.self) {
      try ShardIndex.parse(Array(bad.utf8), name: "i.json")
    }
  }

  @Test func findsMissingMisplacedAndUnlistedKeys() throws {
    let parsed = try ShardIndex.parse(Array(index.utf8), name: "i.json")
    let findings = parsed.check(
      holdings: ["s1.bin": ["a"], "s2.bin": ["c", "b", "e"]],
      present: ["s1.bin", "s2.bin"])
    #expect(
      findings.map(\.kind) == [.missingShard, .misplacedKey, .unlistedKey])
    #expect(findings[1].message == "s2.bin holds b, which i.json puts in s1.bin")
  }

  @Test func refusesShardsOutsideTheFolder() {
    let hostile = #"{"weight_map": {"a": "../x.bin"}}"#
    #expect(throws: CheckpointError.self) {
      try ShardIndex.parse(Array(hostile.utf8), name: "i.json")
    }
  }

  @Test func recognisesDeepSpeedAndTrainerFolders() {
    let layout = FolderLayout.recognise([
      "latest", "zero_to_fp32.py", "trainer_state.json", "global_step5/mp_rank_00_model_states.pt",
      "global_step5/zero_pp_rank_0_mp_rank_00_optim_states.pt",
    ])
    #expect(layout.kinds.contains { $0.hasPrefix("transformers Trainer") })
    #expect(layout.kinds.contains { $0.hasPrefix("DeepSpeed checkpoint in global_step5/") })
    #expect(layout.converter?.contains("zero_to_fp32.py") == true)
  }
}

/// The check against the set-based comparison it replaced (kept here as the reference), on
/// indexes and shards that disagree in every way at once: duplicate listings, keys in the
/// wrong shard, keys held by two shards, keys a shard lists twice, unlisted keys, missing and
/// unread shards. The findings must be the same, in the same order.
@Suite struct ShardIndexCheckTests {
  @Test func agreesWithTheSetBasedCheckOnDisorderedFolders() {
    var random = SplitMix(seed: 7)
    for round in 0..<400 {
      let shards = (0..<(1 + random.below(4))).map { "s\($0).bin" }
      let keys = (0..<(1 + random.below(12))).map { "k\($0)" }
      var map: [(key: String, shard: String)] = []
      for key in keys where random.below(8) != 0 {
        map.append((key, shards[random.below(shards.count)]))
        if random.below(6) == 0 { map.append((key, shards[random.below(shards.count)])) }
      }
      if round % 3 == 0 { map.shuffle(using: &random) }
      let index = ShardIndex(name: "i.json", weightMap: map, totalSize: nil)
      var held: [(shard: String, keys: [String])] = []
      for shard in shards + ["other.bin"] where random.below(5) != 0 {
        var rows: [String] = []
        for key in keys where random.below(3) == 0 {
          rows.append(key)
          if random.below(8) == 0 { rows.append(key) }
        }
        for (key, listed) in map where listed == shard && random.below(4) != 0 {
          rows.append(key)
        }
        held.append((shard, rows))
      }
      let present = Set(shards.filter { _ in random.below(6) != 0 } + held.map(\.shard))
      let reference = referenceCheck(
        index, holdings: Dictionary(uniqueKeysWithValues: held.map { ($0.shard, Set($0.keys)) }),
        present: present)
      let findings = index.check(held: held, present: present)
      #expect(findings == reference, "round \(round)")
      if findings != reference { break }
    }
  }

  @Test func agreesWithTheSetBasedCheckOnABigFolder() {
    // Big enough that the rows are looked up on two threads.
    var random = SplitMix(seed: 11)
    let shards = (0..<5).map { "s\($0).bin" }
    var map: [(key: String, shard: String)] = []
    var held: [(shard: String, keys: [String])] = shards.map { ($0, []) }
    for k in 0..<12_000 {
      let key = "model.layers.\(k / 4).part\(k % 4).weight"
      let s = k * shards.count / 12_000
      map.append((key, shards[s]))
      switch random.below(1000) {
      case 0: held[(s + 1) % shards.count].keys.append(key)  // misplaced
      case 1: break  // missing
      case 2: map.append((key, shards[(s + 2) % shards.count]))  // listed twice
      default: held[s].keys.append(key)
      }
      if random.below(1000) == 0 { held[s].keys.append("unlisted.\(k)") }
    }
    map.shuffle(using: &random)
    let index = ShardIndex(name: "i.json", weightMap: map, totalSize: nil)
    let present = Set(shards)
    let reference = referenceCheck(
      index, holdings: Dictionary(uniqueKeysWithValues: held.map { ($0.shard, Set($0.keys)) }),
      present: present)
    #expect(reference.count > 20)
    #expect(index.check(held: held, present: present) == reference)
    #expect(index.check(held: held, present: present, listings: index.listings()) == reference)
  }

  @Test func reportsADuplicateListingAndTheShardMissingIt() throws {
    let index = ShardIndex(
      name: "i.json", weightMap: [("a", "s1.bin"), ("b", "s1.bin"), ("a", "s2.bin")],
      totalSize: nil)
    let findings = index.check(
      held: [("s1.bin", ["a", "b"]), ("s2.bin", [])], present: ["s1.bin", "s2.bin"])
    #expect(
      findings.map(\.message) == [
        "i.json lists a twice (in s1.bin and s2.bin)",
        "s1.bin holds a, which i.json puts in s2.bin",
      ])
  }

  @Test func reportsAKeyTwoShardsHoldOnceAsUnlistedInEach() {
    let index = ShardIndex(name: "i.json", weightMap: [("a", "s1.bin")], totalSize: nil)
    let findings = index.check(
      held: [("s2.bin", ["z", "a", "z"]), ("s1.bin", ["a", "z"])], present: ["s1.bin", "s2.bin"])
    #expect(
      findings.map(\.message) == [
        "s1.bin holds z, which i.json does not list",
        "s2.bin holds z, which i.json does not list",
      ])
  }

  /// The check as it was before it took rows: sets of each shard's keys.
  private func referenceCheck(
    _ index: ShardIndex, holdings: [String: Set<String>], present: Set<String>
  ) -> [ShardIndex.Finding] {
    let name = index.name
    var findings: [ShardIndex.Finding] = []
    var listedIn: [String: String] = [:]
    for (key, shard) in index.weightMap {
      if let earlier = listedIn.updateValue(shard, forKey: key) {
        findings.append(
          .init(
            kind: .duplicateKey, key: key, shard: shard,
            message: "\(name) lists \(key) twice (in \(earlier) and \(shard))"))
      }
    }
    for shard in index.shards where !present.contains(shard) {
      let count = index.weightMap.reduce(0) { $0 + ($1.shard == shard ? 1 : 0) }
      findings.append(
        .init(
          kind: .missingShard, key: nil, shard: shard,
          message:
            "\(name) puts \(count) tensor\(count == 1 ? "" : "s") in \(shard), which is not in the folder"
        ))
    }
    var absent: [(key: String, shard: String)] = []
    for (key, shard) in index.weightMap {
      guard let keys = holdings[shard], !keys.contains(key) else { continue }
      absent.append((key, shard))
    }
    let order = holdings.keys.sorted()
    var reported: Set<String> = []
    for (key, shard) in absent where reported.insert(key).inserted {
      if let other = order.first(where: { holdings[$0]!.contains(key) }) {
        findings.append(
          .init(
            kind: .misplacedKey, key: key, shard: other,
            message: "\(other) holds \(key), which \(name) puts in \(shard)"))
      } else {
        findings.append(
          .init(
            kind: .missingKey, key: key, shard: shard,
            message: "\(name) puts \(key) in \(shard), but no shard holds it"))
      }
    }
    for (shard, keys) in holdings.sorted(by: { $0.key < $1.key }) {
      for key in keys.filter({ listedIn[$0] == nil }).sorted() {
        findings.append(
          .init(
            kind: .unlistedKey, key: key, shard: shard,
            message: "\(shard) holds \(key), which \(name) does not list"))
      }
    }
    return findings
  }
}

/// A small deterministic generator, so a failing round can be replayed.
private struct SplitMix: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
