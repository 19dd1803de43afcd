import PTViewCore
import PTViewTestSupport
import Testing

@testable import PTViewTUI

/// The explorer draws its first screen before the scan and the doctor are done; their verdicts
/// arrive as a message and must land exactly where they would have been at open time.
@Suite("assessment arriving after the first screen")
struct AssessmentArrivalTests {
  @Test("the header says checking, then the verdicts; marks equal an assessed open")
  func arrivesLater() throws {
    let fixture = "security/files/fk_injected_exec_state_dict.pt"
    let path = "fixtures/fk_injected_exec_state_dict.pt"
    let checkpoint = try Fixtures.checkpoint(fixture)
    var model = Model(checkpoint: checkpoint, path: path)
    model.assessing = true
    #expect(Golden.text(model.render(), styles: false).contains("checking"))
    // The user moves and stages before the assessment comes.
    _ = model.press(.down)
    let focused = model.focusedNode
    _ = model.update(
      .assessed(
        AssessmentDelivery(
          checkpoint: checkpoint,
          assessment: Make.assessment(checkpoint, bytes: try Fixtures.bytes(fixture), path: path))))
    let opened = try Make.model(fixture, path: path)
    #expect(!model.assessing)
    #expect(model.safety.scan == .dangerous)
    #expect(model.safety.scan == opened.safety.scan)
    #expect(model.safety.doctor == opened.safety.doctor)
    #expect(model.flaggedKeys == opened.flaggedKeys)
    #expect(model.tree.count == opened.tree.count)
    #expect(model.expanded.count == model.tree.count)
    #expect(model.focusedNode == focused)
    let text = Golden.text(model.render(), styles: false)
    #expect(text.contains("dangerous") && !text.contains("checking"))
  }
}
