import Foundation
import Testing

@testable import PTViewEdit

/// One `Tests/Fixtures/load_errors/*.json`, written by `Scripts/make_load_errors.py` from real
/// torch: the error texts, torch's own key lists, the file's and the model's keys, and the
/// rules that made a fresh model load the rewritten state_dict.
struct LoadErrorFixture: Decodable {
  struct Expected: Decodable {
    var flags: [String]
    var unmatchedMissing: [String]
    var unmatchedUnexpected: [String]
    var tolerated: [String]
    var explainsEverything: Bool
  }

  struct Mismatch: Decodable {
    var key: String
    var checkpointShape: [Int64]
    var modelShape: [Int64]
  }

  var name: String
  var texts: [String: String]
  var modelClass: String
  var missing: [String]
  var unexpected: [String]
  var fileKeys: [String]
  var modelKeys: [String]
  var sizeMismatches: [Mismatch]
  var expected: Expected
  var loads: Bool

  static let folder = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/load_errors")

  static let names: [String] = {
    let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
    return files.filter { $0.hasSuffix(".json") && $0 != "manifest.json" }
      .map { String($0.dropLast(".json".count)) }.sorted()
  }()

  static func load(_ name: String) throws -> LoadErrorFixture {
    let data = try Data(contentsOf: folder.appendingPathComponent(name + ".json"))
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    return try decoder.decode(LoadErrorFixture.self, from: data)
  }
}

@Suite struct LoadErrorFixtureTests {
  @Test("the fixtures are there, the big one too") func present() throws {
    #expect(LoadErrorFixture.names.count >= 20)
    let big = try LoadErrorFixture.load("big_compile_of_dataparallel")
    #expect(big.fileKeys.count > 500)
  }

  @Test("every text variant parses to torch's own lists", arguments: LoadErrorFixture.names)
  func parses(_ name: String) throws {
    let fixture = try LoadErrorFixture.load(name)
    #expect(fixture.texts.keys.sorted() == ["email72", "message", "terminal80", "traceback"])
    for (variant, text) in fixture.texts.sorted(by: { $0.key < $1.key }) {
      let message = try LoadErrorMessage.parse(text)
      #expect(message.modelName == fixture.modelClass, "\(variant)")
      #expect(message.missing == fixture.missing, "\(variant)")
      #expect(message.unexpected == fixture.unexpected, "\(variant)")
      let mismatches = fixture.sizeMismatches.map {
        LoadErrorMessage.SizeMismatch(
          key: $0.key, checkpointShape: $0.checkpointShape, modelShape: $0.modelShape)
      }
      #expect(message.sizeMismatches == mismatches, "\(variant)")
    }
  }

  @Test("every text variant derives the rules torch accepted", arguments: LoadErrorFixture.names)
  func derives(_ name: String) throws {
    let fixture = try LoadErrorFixture.load(name)
    for (variant, text) in fixture.texts.sorted(by: { $0.key < $1.key }) {
      let derivation = KeyRuleDeriver.derive(
        try LoadErrorMessage.parse(text), fileKeys: fixture.fileKeys)
      #expect(derivation.rules.map(\.flag) == fixture.expected.flags, "\(variant)")
      #expect(derivation.unmatchedMissing == fixture.expected.unmatchedMissing, "\(variant)")
      #expect(derivation.unmatchedUnexpected == fixture.expected.unmatchedUnexpected, "\(variant)")
      #expect(derivation.tolerated == fixture.expected.tolerated, "\(variant)")
      #expect(derivation.explainsEverything == fixture.expected.explainsEverything, "\(variant)")
    }
  }

  /// Independent of the reference search: when the rules explain everything, the rewritten
  /// file keys are model keys, one each, and the model keys left over are BatchNorm counters
  /// (filled in by torch, or tolerated).
  @Test("rewritten keys are the model's keys", arguments: LoadErrorFixture.names)
  func rewritesOntoModel(_ name: String) throws {
    let fixture = try LoadErrorFixture.load(name)
    let message = try LoadErrorMessage.parse(try #require(fixture.texts["message"]))
    let derivation = KeyRuleDeriver.derive(message, fileKeys: fixture.fileKeys)
    guard derivation.explainsEverything else {
      #expect(!fixture.loads)
      return
    }
    let rewritten = fixture.fileKeys.map { KeyRule.apply(derivation.rules, to: $0) }
    #expect(Set(rewritten).count == rewritten.count)
    let model = Set(fixture.modelKeys)
    #expect(rewritten.filter { !model.contains($0) } == [])
    let leftOver = model.subtracting(rewritten)
    #expect(leftOver.allSatisfy { $0.hasSuffix("num_batches_tracked") })
    #expect(Set(derivation.tolerated).isSubset(of: leftOver))
    #expect(fixture.loads == fixture.sizeMismatches.isEmpty)
  }
}

@Suite struct LoadErrorParseTests {
  static let message =
    "Error(s) in loading state_dict for Net:\n\tMissing key(s) in state_dict: \"layers.10.attn.0"
    + ".weight\", \"fc.bias\". \n\tUnexpected key(s) in state_dict: \"module.layers.10.attn.0.wei"
    + "ght\", \"module.fc.bias\", \"module.bn.num_batches_tracked\". \n\tsize mismatch for head.w"
    + "eight: copying a param with shape torch.Size([3, 128]) from checkpoint, the shape in cur"
    + "rent model is torch.Size([2, 128]).\n\tsize mismatch for scale: copying a param with shap"
    + "e torch.Size([]) from checkpoint, the shape in current model is torch.Size([1])."

  static let parsed = LoadErrorMessage(
    modelName: "Net",
    missing: ["layers.10.attn.0.weight", "fc.bias"],
    unexpected: [
      "module.layers.10.attn.0.weight", "module.fc.bias", "module.bn.num_batches_tracked",
    ],
    sizeMismatches: [
      .init(key: "head.weight", checkpointShape: [3, 128], modelShape: [2, 128]),
      .init(key: "scale", checkpointShape: [], modelShape: [1]),
    ])

  @Test("torch's message as str(e) gives it") func plain() throws {
    #expect(try LoadErrorMessage.parse(Self.message) == Self.parsed)
  }

  /// A terminal or mail client may break a line anywhere: in a key, a number, a phrase, the
  /// class name, next to a quote or a comma. Every single break point gives the same result.
  @Test("a line break anywhere changes nothing", arguments: ["\n", "\r\n", "\n  ", " \r\n\t"])
  func breakAnywhere(_ lineBreak: String) throws {
    let characters = Array(Self.message)
    for cut in 0...characters.count {
      let text = String(characters[..<cut]) + lineBreak + String(characters[cut...])
      let parsed = try LoadErrorMessage.parse(text)
      #expect(parsed == Self.parsed, "break at \(cut): \(text.debugDescription)")
      if parsed != Self.parsed { return }
    }
  }

  @Test("CRLF line ends and tabs turned into spaces") func crlf() throws {
    let text = Self.message.replacingOccurrences(of: "\n", with: "\r\n")
      .replacingOccurrences(of: "\t", with: "        ")
    #expect(try LoadErrorMessage.parse(text) == Self.parsed)
  }

  @Test("a traceback before the message, RuntimeError: prefix") func traceback() throws {
    let text = """
      Traceback (most recent call last):
        File "train.py", line 12, in <module>
          model.load_state_dict(torch.load("ckpt.pt"))
        File "/venv/torch/nn/modules/module.py", line 2647, in load_state_dict
          raise RuntimeError(
      RuntimeError: \(Self.message)

      """
    #expect(try LoadErrorMessage.parse(text) == Self.parsed)
  }

  @Test("the last of several pasted messages counts") func lastMessage() throws {
    let earlier = "Error(s) in loading state_dict for Old:\n\tMissing key(s) in state_dict: \"x\". "
    #expect(try LoadErrorMessage.parse(earlier + "\n" + Self.message) == Self.parsed)
  }

  @Test("the trailing period and space are optional") func trailing() throws {
    let full =
      "Error(s) in loading state_dict for M:\n\tMissing key(s) in state_dict: \"a\", \"b\". "
    let expected = LoadErrorMessage(modelName: "M", missing: ["a", "b"])
    #expect(try LoadErrorMessage.parse(full) == expected)
    #expect(try LoadErrorMessage.parse(String(full.dropLast(2))) == expected)
    #expect(try LoadErrorMessage.parse(String(full.dropLast(1))) == expected)
  }

  @Test("only the sections, no title") func sectionsOnly() throws {
    let text = "Unexpected key(s) in state_dict: \"module.a.0.b\". "
    #expect(try LoadErrorMessage.parse(text) == LoadErrorMessage(unexpected: ["module.a.0.b"]))
  }

  /// torch quotes keys without escaping: a quote inside a key is taken as part of it when no
  /// comma-and-quote or period follows it.
  @Test("a quote inside a key") func quoteInKey() throws {
    let text = "Missing key(s) in state_dict: \"a\"b\", \"c.d\". "
    #expect(try LoadErrorMessage.parse(text).missing == ["a\"b", "c.d"])
  }

  @Test("keys with non-ASCII characters pass through") func unicodeKeys() throws {
    let text = "Missing key(s) in state_dict: \"blocks.é.0.weight\", \"层.bias\". "
    #expect(try LoadErrorMessage.parse(text).missing == ["blocks.é.0.weight", "层.bias"])
  }

  @Test(
    "texts that are not a load_state_dict error are refused",
    arguments: [
      "", "   \n\t \r\n", "RuntimeError: CUDA out of memory",
      "Error(s) in loading state_dict for Net:\n\t",
    ])
  func refused(_ text: String) {
    #expect(throws: LoadErrorParseError.self) { try LoadErrorMessage.parse(text) }
  }

  @Test("a key list cut short is refused, not half read") func cutShort() {
    let text = "Missing key(s) in state_dict: \"a\", \"b.c"
    let error = #expect(throws: LoadErrorParseError.self) { try LoadErrorMessage.parse(text) }
    #expect(error?.message.contains("cut short") == true)
  }

  @Test("a size mismatch without its shapes is refused") func brokenMismatch() {
    let text = "size mismatch for fc.weight: copying a param with shape torch.Size([3, 4"
    #expect(throws: LoadErrorParseError.self) { try LoadErrorMessage.parse(text) }
  }

  @Test("an empty text says so") func emptyMessage() {
    let error = #expect(throws: LoadErrorParseError.self) { try LoadErrorMessage.parse("") }
    #expect(error?.message.contains("empty") == true)
  }
}

@Suite struct KeyRuleDeriverTests {
  func derive(missing: [String], unexpected: [String], file: [String]) -> KeyDerivation {
    KeyRuleDeriver.derive(
      LoadErrorMessage(missing: missing, unexpected: unexpected), fileKeys: file)
  }

  @Test("flags and application") func rules() {
    #expect(KeyRule.stripPrefix("module.").flag == "--strip-prefix module.")
    #expect(
      KeyRule.replacePrefix(old: "backbone.", new: "encoder.").flag
        == "--rename backbone.=encoder.")
    #expect(KeyRule.replacePrefix(old: "", new: "module.").flag == "--rename =module.")
    #expect(KeyRule.stripPrefix("module.").apply(to: "module.fc.w") == "fc.w")
    #expect(KeyRule.stripPrefix("module.").apply(to: "modules.fc.w") == "modules.fc.w")
    #expect(KeyRule.replacePrefix(old: "", new: "m.").apply(to: "fc.w") == "m.fc.w")
    let rules: [KeyRule] = [.stripPrefix("module."), .replacePrefix(old: "a.", new: "b.")]
    #expect(KeyRule.apply(rules, to: "module.a.w") == "b.w")
  }

  @Test("nothing to do") func nothing() {
    let derivation = derive(missing: [], unexpected: [], file: ["a.w"])
    let none = KeyDerivation(
      rules: [], unmatchedMissing: [], unmatchedUnexpected: [], tolerated: [])
    #expect(derivation == none)
    #expect(derivation.explainsEverything)
  }

  /// `m.x.w` matches already, but stripping `m.` moves it to `x.w` (a missing key) while
  /// `m.m.x.w` takes its place: every key still lands on the model, so the one rule stands
  /// (against `m.m.` -> `` plus `m.y.` -> `y.`).
  @Test("a rule may move a matching key when another takes its place") func chain() {
    let derivation = derive(
      missing: ["x.w", "y.w"], unexpected: ["m.m.x.w", "m.y.w"],
      file: ["m.x.w", "m.m.x.w", "m.y.w"])
    #expect(derivation.rules == [.stripPrefix("m.")])
    #expect(derivation.explainsEverything)
  }

  /// Pairing unexpected keys with missing ones, the matching key stays where it is.
  @Test("a rule touching only unexpected keys is preferred") func onlyUnexpected() {
    let derivation = derive(missing: ["w"], unexpected: ["x.x.w"], file: ["x.w", "x.x.w"])
    #expect(derivation.rules == [.stripPrefix("x.x.")])
    #expect(derivation.explainsEverything)
  }

  @Test("a rule giving two keys one name is refused") func collision() {
    let derivation = derive(
      missing: ["b.w"], unexpected: ["module.a.w", "module.b.w"],
      file: ["a.w", "module.a.w", "module.b.w"])
    #expect(derivation.rules == [.replacePrefix(old: "module.b.", new: "b.")])
    #expect(derivation.unmatchedUnexpected == ["module.a.w"])
    #expect(!derivation.explainsEverything)
  }

  @Test("a wide strip that would break matching keys narrows") func narrows() {
    let derivation = derive(
      missing: ["head.w", "head.b"], unexpected: ["model.head.w", "model.head.b"],
      file: ["model.body.w", "model.head.w", "model.head.b"])
    #expect(derivation.rules == [.replacePrefix(old: "model.head.", new: "head.")])
    #expect(derivation.explainsEverything)
  }

  @Test("two layers sharing only parameter names are not a rename") func leafOnly() {
    let derivation = derive(
      missing: ["extra.weight", "extra.bias"], unexpected: ["aux.weight", "aux.bias"],
      file: ["fc.weight", "aux.weight", "aux.bias"])
    #expect(derivation.rules == [])
    #expect(derivation.unmatchedMissing == ["extra.weight", "extra.bias"])
    #expect(derivation.unmatchedUnexpected == ["aux.weight", "aux.bias"])
  }

  /// `bb.` -> `enc.` would leave `enc.1` missing; narrowed to `bb.0.` it covers its subtree.
  @Test("a rename covering part of the new subtree narrows") func partialRename() {
    let derivation = derive(
      missing: ["enc.0.w", "enc.1.w"], unexpected: ["bb.0.w"], file: ["bb.0.w"])
    #expect(derivation.rules == [.replacePrefix(old: "bb.0.", new: "enc.0.")])
    #expect(derivation.unmatchedMissing == ["enc.1.w"])
  }

  @Test("a rename into a subtree it cannot cover is refused") func uncoverable() {
    let derivation = derive(
      missing: ["enc.0.w", "enc.0.b"], unexpected: ["bb.0.w"], file: ["bb.0.w"])
    #expect(derivation.rules == [])
    #expect(!derivation.explainsEverything)
  }

  @Test("a strip leaves an extra layer unexplained, not refused") func stripWithExtra() {
    let derivation = derive(
      missing: ["a.w", "new.w"], unexpected: ["module.a.w", "module.old.w"],
      file: ["module.a.w", "module.old.w"])
    #expect(derivation.rules == [.stripPrefix("module.")])
    #expect(derivation.unmatchedMissing == ["new.w"])
    #expect(derivation.unmatchedUnexpected == ["module.old.w"])
  }

  /// DataParallel files carry `module.bn.num_batches_tracked`; torch fills the bare model's
  /// in silently, so its name is in neither list: the module's running stats vouch for it.
  @Test("a num_batches_tracked torch filled in follows its module") func filledIn() {
    let derivation = derive(
      missing: ["bn.weight", "bn.running_mean"],
      unexpected: ["module.bn.weight", "module.bn.running_mean", "module.bn.num_batches_tracked"],
      file: ["module.bn.weight", "module.bn.running_mean", "module.bn.num_batches_tracked"])
    #expect(derivation.rules == [.stripPrefix("module.")])
    #expect(derivation.explainsEverything)
  }

  @Test("a num_batches_tracked without running stats is unexpected") func notFilled() {
    let derivation = derive(
      missing: ["ln.weight"], unexpected: ["module.ln.weight", "module.ln.num_batches_tracked"],
      file: ["module.ln.weight", "module.ln.num_batches_tracked"])
    #expect(derivation.rules == [.stripPrefix("module.")])
    #expect(derivation.unmatchedUnexpected == ["module.ln.num_batches_tracked"])
  }

  @Test("missing num_batches_tracked keys are tolerated") func tolerated() {
    let derivation = derive(
      missing: ["bn.weight", "bn.num_batches_tracked"], unexpected: ["module.bn.weight"],
      file: ["module.bn.weight"])
    #expect(derivation.rules == [.stripPrefix("module.")])
    #expect(derivation.tolerated == ["bn.num_batches_tracked"])
    #expect(derivation.explainsEverything)
  }

  @Test("an unexpected key the file lacks stays unmatched") func otherFile() {
    let derivation = derive(
      missing: ["a.w"], unexpected: ["module.a.w", "module.ghost"], file: ["module.a.w"])
    #expect(derivation.rules == [.stripPrefix("module.")])
    #expect(derivation.unmatchedUnexpected == ["module.ghost"])
  }

  @Test("a wrapper prefix added and a submodule renamed, in that order") func twoRules() {
    let derivation = derive(
      missing: ["module.enc.0.w", "module.enc.1.w", "module.head.w"],
      unexpected: ["bb.0.w", "bb.1.w", "head.w"], file: ["bb.0.w", "bb.1.w", "head.w"])
    #expect(
      derivation.rules.map(\.flag) == ["--rename =module.", "--rename module.bb.=module.enc."])
    #expect(derivation.explainsEverything)
  }

  @Test("thousands of keys stay fast", .timeLimit(.minutes(1))) func large() {
    let model = (0..<20_000).map { "layers.\($0 / 4).block.\($0 % 4).weight" }
    let file = model.map { "_orig_mod.module." + $0 }
    let clock = ContinuousClock()
    let elapsed = clock.measure {
      let derivation = derive(missing: model, unexpected: file, file: file)
      #expect(derivation.rules == [.stripPrefix("_orig_mod.module.")])
      #expect(derivation.explainsEverything)
    }
    #expect(elapsed < .seconds(20))
  }
}
