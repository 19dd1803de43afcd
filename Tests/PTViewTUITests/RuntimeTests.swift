import PTViewCore
import PTViewEdit
import Testing

@testable import PTViewTUI

/// Replies as the shell would, and records what it was asked.
struct ScriptedEffects: EffectRunner {
  /// The file the explorer shows: a write plans its operations on it, as the shell does.
  var checkpoint: Checkpoint?
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
              summary:
                "wrote \(request.path): \(edits(request).count) storages moved, verified",
              path: request.path)))
      }
    case .values, .quit:
      break
    }
  }

  /// The edits the shell would write for `request`.
  func edits(_ request: WriteRequest) -> [Edit] {
    guard let checkpoint else { return [] }
    return (try? EditPlanner.plan(checkpoint, request.operations).edits) ?? []
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
    var effects = ScriptedEffects(checkpoint: model.checkpoint)
    runtime.run(runner: &effects)
    #expect(effects.requested.count == 2)
    #expect(effects.requested.first == .checkOutput(path: "examples/gpu_checkpoint.cpu.pt"))
    guard case .write(let request) = effects.requested.last else {
      Issue.record("no write")
      return
    }
    #expect(request.path == "examples/gpu_checkpoint.cpu.pt")
    #expect(request.overwrite == false)
    // `M` Enter is `ptview remap --to cpu`.
    #expect(request.operations == [.moveDevices(DeviceRules(defaultTarget: "cpu"), only: .all)])
    let edits = effects.edits(request)
    #expect(edits.count == 400)
    #expect(edits.allSatisfy { if case .moveStorage(_, "cpu") = $0 { true } else { false } })
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

@Suite("runtime on hostile files")
struct HostileRuntimeTests {
  @Test("a file that only holds an exploit opens, shows the danger first, and runs nothing")
  func exploit() throws {
    let model = try Make.model("security/files/ms_unsafe_zip_pytorch.pt")
    var runtime = Runtime(
      model: model, backend: FakeBackend(script: FakeBackend.keys("!jkq"), keepFrames: true))
    var effects = NoEffects()
    runtime.run(runner: &effects)
    #expect(runtime.finished)
    #expect(effects.requested.isEmpty)  // no effect at all: nothing written, nothing checked
    let first = try #require(runtime.backend.frames.first)
    #expect(first.lines[0].hasSuffix("scan: dangerous"))
    #expect(first.lines[2].hasPrefix("!"))
    #expect(first.text.contains("posix.system('cat ~/.aws/secrets"))
    #expect(first.text.contains("Dangerous: unpickling this file runs posix.system"))
    #expect(runtime.backend.frames[1].text.contains("Finding 1 of 1: dangerous."))
  }

  @Test("an injected call before a state_dict: flagged, and the tensors still remap")
  func injected() throws {
    let model = try Make.model("security/files/fk_injected_exec_state_dict.pt")
    let script: [Message] = [
      .key(.character("M")), .key(.character("j")), .key(.enter), .key(.character("w")),
      .key(.enter),
    ]
    var runtime = Runtime(model: model, backend: FakeBackend(script: script))
    var effects = ScriptedEffects(checkpoint: model.checkpoint)
    runtime.run(runner: &effects)
    guard case .write(let request) = effects.requested.last else {
      Issue.record("no write")
      return
    }
    #expect(request.path == "fixtures/fk_injected_exec_state_dict.cuda0.pt")
    #expect(effects.edits(request).count == 2)
    let last = try #require(runtime.backend.lastFrame)
    #expect(last.lines[0].hasSuffix("scan: dangerous"))  // the verdict is about the input
  }
}
