import PTViewCore
import PTViewEdit
import Testing

/// Key rules over a folder's whole model (the interop suite judges the written folders with
/// safetensors, torch and transformers in Tests/Interop/test_folder_writes.py).
@Suite struct FolderKeyPlanTests {
  /// Two shards' keys, in model order.
  let first = ["module.embed.weight", "module.layers.0.weight"]
  let second = ["module.layers.1.weight", "module.head.weight"]
  var keys: [String] { first + second }

  @Test func rulesAreCheckedAgainstTheWholeModel() throws {
    let operations: [EditOperation] = [
      .stripPrefix("auto"), .rename(KeyPattern(old: "layers.", new: "blocks.")),
      .drop("head.weight"),
    ]
    let plan = try FolderKeyPlan.plan(keys: keys, FolderKeyPlan.ordered(operations))
    #expect(plan.detectedPrefixes == ["module."])
    #expect(plan.dropped == ["module.head.weight"])
    #expect(plan.outputKey["module.layers.1.weight"] == "blocks.1.weight")
    #expect(plan.outputKey["module.head.weight"] == nil)
    #expect(plan.renamed.count == 3)
    // The first shard lacks the dropped key: it gets no drop, and the auto prefix by name.
    let mine = plan.operations(forFile: first, weights: true, FolderKeyPlan.ordered(operations))
    #expect(mine == [.stripPrefix("module."), .rename(KeyPattern(old: "layers.", new: "blocks."))])
    let theirs = plan.operations(forFile: second, weights: true, FolderKeyPlan.ordered(operations))
    #expect(theirs.contains(.drop("head.weight")))
    // Files outside the model (an optimizer) get casts and moves only.
    let other = plan.operations(
      forFile: ["state"], weights: false,
      [.stripPrefix("module."), .cast(DType.named("bfloat16")!)])
    #expect(other == [.cast(DType.named("bfloat16")!)])
  }

  @Test func keepEmptiesShardsWithNoMatch() throws {
    let operations: [EditOperation] = [.keep("module.layers.1.*")]
    let plan = try FolderKeyPlan.plan(keys: keys, operations)
    #expect(plan.outputKey.keys.sorted() == ["module.layers.1.weight"])
    #expect(plan.operations(forFile: first, weights: true, operations) == [.drop("*")])
    #expect(plan.operations(forFile: second, weights: true, operations) == operations)
  }

  @Test func refusalsNameTheRule() {
    #expect(throws: EditRefusal.self) {
      try FolderKeyPlan.plan(keys: keys, [.drop("nothing.*")])
    }
    #expect(throws: EditRefusal.self) {
      try FolderKeyPlan.plan(keys: keys, [.stripPrefix("nothing")])
    }
    #expect(throws: EditRefusal.self) {
      try FolderKeyPlan.plan(
        keys: keys, [.rename(KeyPattern(old: "module.layers.0.", new: "module.layers.1."))])
    }
    #expect(throws: EditRefusal.self) {
      try FolderKeyPlan.plan(keys: ["a.weight"], [.stripPrefix("auto")])
    }
  }
}
