import PTViewCore
import PTViewTestSupport
import Testing

@testable import PTViewTUI

/// Whole screens compared with goldens in `Goldens/` (each line ends in `|` so trailing
/// spaces are visible; a style overlay follows where colour and attributes matter).
@Suite("render: golden screens")
struct RenderTests {
  @Test("the example opens legibly at 80x24")
  func exampleOpen() throws {
    let model = try Make.exampleModel()
    Golden.check(model.render(), "example-80x24", styles: true)
  }

  @Test("a wide terminal gets wider columns and size bars")
  func exampleWide() throws {
    var model = try Make.exampleModel(size: Size(columns: 120, rows: 40))
    model.press(
      .character("j"), .character("j"), .character("j"), .character("j"), .character("j"), .enter)
    Golden.check(model.render(), "example-120x40", styles: true)
  }

  @Test("from 100 columns a short size bar appears")
  func example100() throws {
    let model = try Make.exampleModel(size: Size(columns: 100, rows: 30))
    Golden.check(model.render(), "example-100x30")
  }

  @Test("a training checkpoint: model, optimizer, epoch and config")
  func trainingCheckpoint() throws {
    let model = try Make.model("torch/train_ckpt_cuda0.pt")
    Golden.check(model.render(), "train-80x24")
  }

  @Test("M opens the device picker, cpu first")
  func picker() throws {
    var model = try Make.exampleModel()
    model.press(.character("M"))
    Golden.check(model.render(), "example-picker", styles: true)
  }

  @Test("staged moves show as cuda:0 > cpu in the change colour")
  func staged() throws {
    var model = try Make.exampleModel()
    model.press(.character("M"), .enter)
    Golden.check(model.render(), "example-staged", styles: true)
  }

  @Test("w prompts for a path beside the input")
  func writePrompt() throws {
    var model = try Make.exampleModel()
    model.press(.character("M"), .enter, .character("w"))
    Golden.check(model.render(), "example-write-prompt")
  }

  @Test("a write in progress shows a bar")
  func writing() throws {
    var model = try Make.exampleModel()
    model.press(.character("M"), .enter, .character("w"), .enter)
    _ = model.update(.outputChecked(path: "examples/gpu_checkpoint.cpu.pt", .free))
    _ = model.update(.writeProgress(done: 400_000, total: 849_233))
    Golden.check(model.render(), "example-writing")
  }

  @Test("after the write, nothing is pending and the status says where it went")
  func saved() throws {
    var model = try Make.exampleModel()
    model.press(.character("M"), .enter, .character("w"), .enter)
    _ = model.update(.outputChecked(path: "examples/gpu_checkpoint.cpu.pt", .free))
    _ = model.update(
      .writeFinished(
        .saved(
          summary: "wrote examples/gpu_checkpoint.cpu.pt (829 KiB): 400 storages moved, verified",
          path: "examples/gpu_checkpoint.cpu.pt")))
    Golden.check(model.render(), "example-saved", styles: true)
  }

  @Test("? lists every key")
  func help() throws {
    var model = try Make.exampleModel()
    model.press(.character("?"))
    Golden.check(model.render(), "help-80x24")
    model.press(.pageDown)
    Golden.check(model.render(), "help-80x24-page2")
    let all = try Make.exampleModel(size: Size(columns: 100, rows: 60))
    var tall = all
    tall.press(.character("?"))
    let text = tall.render().text
    for binding in Keymap.bindings { #expect(text.contains(binding.help), "\(binding.help)") }
  }

  @Test("the detail pane shows strides, offset, contiguity and shared storage")
  func tensorDetail() throws {
    var model = try Make.model("torch/model_tied.pt", assessed: false)
    model.press(.character("j"))
    Golden.check(model.render(), "tied-detail")
  }

  @Test("values print inline: epoch = 17, config preview, namespaces")
  func values() throws {
    var model = try Make.model("torch/numpy_namespace_cuda0.pt")
    model.press(.character("G"))
    Golden.check(model.render(), "namespace-values")
  }

  @Test("a filter keeps matches and their parents")
  func filtered() throws {
    var model = try Make.model("torch/train_ckpt_cuda0.pt")
    model.press(.character("f"))
    _ = model.type("device:cpu")
    model.press(.enter)
    Golden.check(model.render(), "train-filter")
  }

  @Test("2,000 numbered keys are one row, and the end of the list scrolls right")
  func manyKeys() throws {
    var model = try Make.model("torch/sd_many.pt")
    Golden.check(model.render(), "many-folded")
    model.press(.enter, .character("G"))
    Golden.check(model.render(), "many-end")
  }

  @Test("search matches are underlined and counted")
  func search() throws {
    var model = try Make.exampleModel()
    model.press(.character("/"))
    _ = model.type("norm")
    Golden.check(model.render(), "search-prompt")
    model.press(.enter)
    Golden.check(model.render(), "search-found", styles: true)
  }

  @Test("quitting with staged edits asks")
  func quitQuestion() throws {
    var model = try Make.exampleModel()
    model.press(.character("M"), .enter, .character("q"))
    Golden.check(model.render(), "quit-question")
  }

  @Test("ASCII only when the locale is not UTF-8")
  func ascii() throws {
    let checkpoint = try Make.example()
    let path = "examples/gpu_checkpoint.pt"
    let model = Model(
      checkpoint: checkpoint, path: path, size: Size(columns: 120, rows: 24), asciiOnly: true,
      assessment: Make.assessment(
        checkpoint, bytes: try Fixtures.bytes("../../examples/gpu_checkpoint.pt"), path: path))
    let screen = model.render()
    #expect(screen.cells.allSatisfy { $0.text.unicodeScalars.allSatisfy(\.isASCII) })
    Golden.check(screen, "example-ascii")
  }

  @Test("small terminals stay tidy")
  func small() throws {
    let model = try Make.exampleModel(size: Size(columns: 60, rows: 12))
    Golden.check(model.render(), "example-60x12")
    let tiny = try Make.exampleModel(size: Size(columns: 20, rows: 4))
    #expect(tiny.render().line(0) == "ptview: terminal too")
  }

  @Test("untrusted keys cannot smuggle escape sequences")
  func sanitised() {
    var screen = Screen(size: Size(columns: 20, rows: 1))
    screen.put("a\u{1B}[31mb\u{202E}c", x: 0, y: 0, style: .plain)
    #expect(screen.line(0) == "a\u{FFFD}[31mb\u{FFFD}c")
  }

  @Test("wide characters take two cells")
  func wide() {
    var screen = Screen(size: Size(columns: 10, rows: 1))
    let used = screen.put("層x", x: 0, y: 0, style: .plain)
    #expect(used == 3)
    #expect(screen[1, 0].text == "")
    #expect(TextWidth.truncate("abcdef", to: 4) == "abc…")
    #expect(TextWidth.truncateLeft("model.layers.3", to: 6) == "…ers.3")
    #expect(TextWidth.padLeft("12", to: 4) == "  12")
  }
}
