import PTViewEdit
import Testing

/// Dotted-prefix renames: what `--rename` and `--strip-prefix` do to one key.
@Suite struct KeyPatternTests {
  func renamed(_ old: String, _ new: String, _ key: String) -> String? {
    KeyPattern(old: old, new: new).apply(to: key)?.key
  }

  @Test("a dotted prefix matches at a dot boundary only")
  func boundary() {
    #expect(renamed("conv1", "stem", "conv1.weight") == "stem.weight")
    #expect(renamed("conv1", "stem", "conv1") == "stem")
    #expect(renamed("conv1", "stem", "conv10.weight") == nil)
  }

  @Test("a prefix ending in a dot is a plain string prefix; an empty one adds")
  func plain() {
    #expect(renamed("module.", "", "module.head.bias") == "head.bias")
    #expect(renamed("module.", "", "modules.head") == nil)
    #expect(renamed("", "module.", "head.bias") == "module.head.bias")
  }

  @Test("stars capture and are copied in order")
  func globs() {
    #expect(
      renamed("encoder.*.attn", "enc.*.attention", "encoder.3.attn.q.weight")
        == "enc.3.attention.q.weight")
    #expect(renamed("*.gamma", "*.weight", "blocks.0.norm.gamma") == "blocks.0.norm.weight")
    #expect(renamed("x*", "y", "") == nil)
  }

  @Test("OLD=NEW parses, and refuses what it cannot mean")
  func parsing() throws {
    #expect(try KeyPattern.parse("module.=") == KeyPattern(old: "module.", new: ""))
    #expect(try KeyPattern.parse("a=b=c") == KeyPattern(old: "a", new: "b=c"))
    #expect(throws: RuleError.self) { try KeyPattern.parse("no-equals") }
    #expect(throws: RuleError.self) { try KeyPattern.parse("a=*") }
  }

  @Test("cast names users type map to torch dtypes; others are refused")
  func castNames() {
    #expect(EditOperation.castTarget(named: "bf16")?.name == "bfloat16")
    #expect(EditOperation.castTarget(named: "FP16")?.name == "float16")
    #expect(EditOperation.castTarget(named: "double")?.name == "float64")
    #expect(EditOperation.castTarget(named: "int8") == nil)
  }
}
