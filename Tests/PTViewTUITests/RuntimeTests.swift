import PTViewCore
import Testing

@testable import PTViewTUI

/// Replies as the shell would, and records what it was asked.
struct ScriptedEffects: EffectRunner {
  var outputStatus: OutputStatus = .free
  var requested: [Effect] = []
  var fail: String?

  mutating func run(_ effect: Effect, send: (Message) -> Void) {
    requested.append(effect)
    switch effect {
    case .checkOutput(let path):
      send(.outputChecked(path: path, outputStatus))
    case .write(let request):
      for step in 1...4 { send(.writeProgress(done: Int64(step) * 25, total: 100)) }
      if let fail {
        send(.writeFinished(.failed(fail)))
      } else {
        send(
          .writeFinished(
            .saved(
              summary: "wrote \(request.path): \(request.edits.count) storage(s) moved, verified",
              path: request.path)))
      }
    case .quit:
      break
    }
  }
}

@Suite("runtime over the fake backend")
struct RuntimeTests {
  @Test("open, M, Enter, w, Enter: one write of every staged edit, then a clean state")
  func remapFlow() throws {
    let model = try Make.exampleModel()
    let script: [Message] = [
      .key(.character("M")), .key(.enter), .key(.character("w")), .key(.enter),
    ]
    var runtime = Runtime(model: model, backend: FakeBackend(script: script, keepFrames: true))
    var effects = ScriptedEffects()
    runtime.run(runner: &effects)
    #expect(effects.requested.count == 2)
    #expect(effects.requested.first == .checkOutput(path: "examples/gpu_checkpoint.cpu.pt"))
    guard case .write(let request) = effects.requested.last else {
      Issue.record("no write")
      return
    }
    #expect(request.path == "examples/gpu_checkpoint.cpu.pt")
    #expect(request.overwrite == false)
    #expect(request.edits.count == 400)
    #expect(
      request.edits.allSatisfy { if case .moveStorage(_, "cpu") = $0 { true } else { false } })
    #expect(runtime.model.staging.isEmpty)
    // Initial frame, one per message, and one per progress report while writing.
    #expect(runtime.backend.frames.count == 1 + 4 + 4)
    #expect(runtime.backend.frames[6].text.contains("Writing examples/gpu_checkpoint.cpu.pt"))
    let last = try #require(runtime.backend.lastFrame)
    Golden.check(last, "runtime-after-write")
  }

  @Test("a failed write leaves the edits staged and says why")
  func failedWrite() throws {
    let model = try Make.exampleModel()
    let script: [Message] = [
      .key(.character("M")), .key(.enter), .key(.character("w")), .key(.enter),
    ]
    var runtime = Runtime(model: model, backend: FakeBackend(script: script))
    var effects = ScriptedEffects(fail: "No space left on device")
    runtime.run(runner: &effects)
    #expect(!runtime.model.staging.isEmpty)
    let text = (runtime.backend.lastFrame?.lines.suffix(2) ?? []).map { $0.dropFirst() }.joined(
      separator: " ")
    #expect(text.contains("No space left on device"))
    #expect(text.contains("edits still staged"))
  }

  @Test("q quits at once without edits; the loop ends")
  func quit() throws {
    let script: [Message] = [.key(.character("j")), .key(.character("q")), .key(.character("j"))]
    var runtime = Runtime(model: try Make.exampleModel(), backend: FakeBackend(script: script))
    var effects = NoEffects()
    runtime.run(runner: &effects)
    #expect(runtime.finished)
    #expect(runtime.model.focus == 1)
  }

  @Test("a resize redraws at the new size")
  func resize() throws {
    let script: [Message] = [.resize(Size(columns: 100, rows: 30))]
    var runtime = Runtime(model: try Make.exampleModel(), backend: FakeBackend(script: script))
    var effects = NoEffects()
    runtime.run(runner: &effects)
    #expect(runtime.backend.lastFrame?.size == Size(columns: 100, rows: 30))
  }

  @Test("the model takes the backend's size at start")
  func startSize() throws {
    let runtime = Runtime(
      model: try Make.exampleModel(), backend: FakeBackend(size: Size(columns: 132, rows: 43)))
    #expect(runtime.model.size == Size(columns: 132, rows: 43))
  }
}
