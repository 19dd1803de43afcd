import PTViewCore
import PTViewJudge
import Testing

/// Text beside checkpoints is told apart from pickles only after the pickle scan found
/// nothing but a parse failure.
@Suite struct PlainTextFileTests {
  @Test func deepSpeedFilesAreTextAndScript() {
    #expect(PlainTextFile.kind(of: Array("global_step10".utf8), name: "d/latest") == "text file")
    #expect(
      PlainTextFile.kind(of: Array("#!/usr/bin/env python\nimport os\n".utf8), name: "x")
        == "Python script")
    #expect(PlainTextFile.kind(of: Array("import torch\n".utf8), name: "a/b.py") == "Python script")
  }

  @Test func binaryAndEmptyAreNotText() {
    #expect(PlainTextFile.kind(of: [0x80, 0x02, 0x7D, 0x71, 0x00, 0x2E], name: "x") == nil)
    #expect(PlainTextFile.kind(of: Array("a\u{0}b".utf8), name: "x") == nil)
    #expect(PlainTextFile.kind(of: [0xFF, 0xFE], name: "x") == nil)
    #expect(PlainTextFile.kind(of: [], name: "x") == nil)
  }

  @Test func onlyPureParseFailuresQualify() {
    let text = SafetyScanner().scan(MemorySource(Array("global_step2".utf8)), path: "latest")
    #expect(PlainTextFile.qualifies(text))
    let evil = SafetyScanner().scan(
      MemorySource(Array("cos\nsystem\n(S'echo x'\ntR.".utf8)), path: "latest")
    #expect(!PlainTextFile.qualifies(evil))
    #expect(evil.verdict == .dangerous)
  }
}
