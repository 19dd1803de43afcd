import Foundation
import PTViewPickle
import PTViewTestSupport
import Testing

/// The VM against CPython's own unpickler: every corpus pickle (protocols 0 to 5, plus
/// hand-assembled ones for opcodes Python 3 never writes) must decode to the structure CPython
/// builds, as recorded by `Scripts/make_pickle_corpus.py`.
@Suite struct DifferentialTests {
  static let corpus: [String] = Fixtures.files(in: "pickles", suffix: ".pkl")

  @Test("every corpus pickle decodes to CPython's structure", arguments: corpus)
  func matchesCPython(_ name: String) throws {
    let bytes = try Fixtures.bytes("pickles/" + name)
    let stem = String(name.dropLast(4))
    let expectedText = try String(
      contentsOf: Fixtures.url("pickles/" + stem + ".json"), encoding: .utf8)
    let expected = try Canonical.normalize(expectedText)
    var machine = Machine()
    if expected.hasPrefix("[") && stem.hasPrefix("concat") {
      // Several pickles back to back: one canonical value each.
      var position = 0
      var parts: [String] = []
      while position < bytes.count {
        let before = machine.graph
        _ = before
        let outcome = try machine.load(bytes, from: position)
        parts.append(Canonical.text(machine.graph, outcome.root))
        position = outcome.end
      }
      #expect("[" + parts.joined(separator: ",") + "]" == expected)
    } else {
      let outcome = try machine.load(bytes)
      #expect(Canonical.text(machine.graph, outcome.root) == expected)
    }
  }

  @Test("the corpus is present") func corpusPresent() {
    #expect(Self.corpus.count > 100)
  }
}
