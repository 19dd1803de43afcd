import Foundation
import PTViewTestSupport
import Testing

@testable import PTViewTUI

@Suite("key map")
struct KeymapTests {
  @Test("docs/keys.md is generated from the key map")
  func docs() throws {
    let url = Fixtures.root.appendingPathComponent("docs/keys.md")
    if Golden.recording {
      try Keymap.markdown.write(to: url, atomically: true, encoding: .utf8)
      return
    }
    let text = try String(contentsOf: url, encoding: .utf8)
    #expect(
      text == Keymap.markdown, "docs/keys.md is stale: PTVIEW_RECORD_SNAPSHOTS=1 regenerates it")
  }

  @Test("no key is bound twice, and every binding's keys reach its action")
  func bindings() {
    var seen: Set<KeyEvent> = []
    for binding in Keymap.bindings {
      for key in binding.keys {
        #expect(seen.insert(key).inserted, "\(key.name) bound twice")
        if case .collapseToDepth = binding.action { continue }
        #expect(Keymap.action(for: key) == binding.action)
      }
    }
    #expect(Keymap.action(for: .character("3")) == .collapseToDepth(3))
  }
}
