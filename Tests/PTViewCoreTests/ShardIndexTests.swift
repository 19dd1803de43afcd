import PTViewCore
import Testing

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
