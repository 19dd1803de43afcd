import PTViewCore
import PTViewEdit
import PTViewTestSupport
import Testing

@testable import PTViewTUI

extension Model {
  /// Focuses the row of `key` (opening the rows above it).
  mutating func focus(key: String) {
    guard let id = tree.preorder.first(where: { tree[$0].key == key && tree[$0].kind != .run })
    else {
      Issue.record("no row \(key)")
      return
    }
    reveal(id)
  }
}

@Suite("update: key, root and dtype edits")
struct EditTests {
  static let ddp = "edit/ddp.pt"

  @Test("P offers the detected prefix first; Enter stages the strip, the tree shows it, u undoes")
  func stripPrefix() throws {
    var model = try Make.model(Self.ddp)
    model.press(.character("P"))
    guard case .picker(let picker) = model.mode else {
      Issue.record("no picker")
      return
    }
    #expect(picker.kind == .prefix)
    #expect(picker.options.first == "module.")
    #expect(picker.options.contains("module."))
    model.press(.enter)
    #expect(model.mode == .browse)
    #expect(model.staging.operations == [.stripPrefix("module.")])
    #expect(model.plan?.renamed.count == 9)
    #expect(model.status?.kind == .success)
    let module = try #require(model.node("module"))
    #expect(model.edit.arrow[module] == "")
    #expect(model.edit.newKey[try #require(model.node("module.head.weight"))] == "head.weight")
    // Only the row where the rename happens shows an arrow.
    #expect(model.edit.arrow.count == 1)
    let screen = model.render().lines.joined(separator: "\n")
    #expect(screen.contains("module -> (stripped)"))
    #expect(screen.contains("1 edit"))
    model.press(.character("u"))
    #expect(model.staging.operations.isEmpty)
    #expect(model.plan == nil)
    #expect(model.edit.arrow.isEmpty)
    #expect(!model.render().lines.joined().contains("(stripped)"))
  }

  @Test("P on keys without module. offers their common first components")
  func prefixChoices() throws {
    var model = try Make.model("torch/train_ckpt_cuda0.pt")
    model.press(.character("P"))
    guard case .picker(let picker) = model.mode else {
      Issue.record("no picker")
      return
    }
    #expect(picker.options.contains("model."))
    #expect(!picker.options.contains("module."))
    model.press(.escape)
    #expect(model.staging.isEmpty)
  }

  @Test("r renames the focused subtree with OLD=NEW; a refusal is not staged")
  func rename() throws {
    var model = try Make.model(Self.ddp)
    model.focus(key: "module.head")
    model.press(.character("r"))
    guard case .prompt(let prompt) = model.mode else {
      Issue.record("no prompt")
      return
    }
    #expect(prompt.purpose == .rename)
    #expect(prompt.editor.text == "module.head=module.head")
    model.press(.control("u"))
    _ = model.type("module.head=module.classifier")
    model.press(.enter)
    #expect(model.mode == .browse)
    #expect(
      model.staging.operations == [
        .rename(KeyPattern(old: "module.head", new: "module.classifier"))
      ])
    let head = try #require(model.node("module.head"))
    #expect(model.edit.arrow[head] == "module.classifier")
    #expect(model.render().lines.joined().contains("head -> module.classifier"))
    // A rename nothing matches is refused: the prompt stays, nothing is staged.
    model.press(.character("r"), .control("u"))
    _ = model.type("nothing=else")
    model.press(.enter)
    #expect(model.status?.kind == .error)
    #expect(model.status?.text.hasPrefix("Not staged:") == true)
    if case .prompt = model.mode {} else { Issue.record("the prompt closed") }
    #expect(model.staging.operations.count == 1)
    // Text that is not OLD=NEW says so, and the prompt stays.
    model.press(.control("u"))
    _ = model.type("classifier")
    model.press(.enter)
    #expect(model.status?.text.hasPrefix("Rename: 'classifier' is not OLD=NEW") == true)
    if case .prompt = model.mode {} else { Issue.record("the prompt closed") }
    model.press(.escape, .character("u"))
    #expect(model.staging.operations.isEmpty)
  }

  @Test("x drops the focused subtree and x again keeps it; the header shows the bytes saved")
  func drop() throws {
    var model = try Make.model(Self.ddp)
    model.focus(key: "module.head")
    model.press(.character("x"))
    #expect(model.staging.operations == [.drop("module.head.*")])
    let head = try #require(model.node("module.head"))
    let weight = try #require(model.node("module.head.weight"))
    #expect(model.edit.dropped[Int(head)])
    #expect(model.edit.dropped[Int(weight)])
    #expect(!model.edit.dropped[Int(try #require(model.node("module.features")))])
    #expect(model.plan?.bytesDropped == 340)
    #expect(model.edit.bytesSaved == 340)
    #expect(model.render().lines[0].contains("saves 340 B"))
    model.press(.character("x"))
    #expect(model.staging.operations.isEmpty)
    #expect(!model.edit.dropped[Int(head)])
    model.press(.character("u"))
    #expect(model.staging.operations == [.drop("module.head.*")])
    model.press(.character("u"))
    #expect(model.staging.isEmpty)
    #expect(!model.edit.dropped[Int(head)])
  }

  @Test("e extracts the focused container; rows outside it are left out")
  func extract() throws {
    var model = try Make.model("torch/train_ckpt_cuda0.pt")
    model.focus(key: "model")
    model.press(.character("e"))
    #expect(model.staging.operations == [.extract("model")])
    #expect(model.plan?.root == "the value at 'model'")
    #expect(!model.edit.dropped[Int(try #require(model.node("model")))])
    #expect(model.edit.dropped[Int(try #require(model.node("optimizer")))])
    model.press(.character("u"))
    #expect(model.staging.isEmpty)
    #expect(!model.edit.dropped[Int(try #require(model.node("optimizer")))])
  }

  @Test("S stages state_dict once; what it leaves out is marked, its keys drive x")
  func stateDict() throws {
    var model = try Make.model("torch/train_ckpt_cuda0.pt")
    model.press(.character("S"))
    #expect(model.staging.operations == [.stateDict])
    #expect(model.plan?.root != nil)
    let keys = try #require(model.plan?.outputKeys)
    let weight = try #require(model.node("model.conv.weight"))
    #expect(!model.edit.dropped[Int(weight)])
    #expect(keys.contains("conv.weight"))
    #expect(model.edit.newKey[weight] == "conv.weight")
    #expect(model.edit.arrow[try #require(model.node("model"))] == "")
    #expect(model.edit.dropped[Int(try #require(model.node("optimizer")))])
    // x on a row of the state_dict drops it under its new key.
    model.focus(key: "model.conv")
    model.press(.character("x"))
    #expect(model.staging.operations == [.stateDict, .drop("conv.*")])
    #expect(model.edit.dropped[Int(weight)])
    model.press(.character("u"))
    model.press(.character("S"))
    #expect(model.staging.operations == [.stateDict])
    #expect(model.status?.kind == .warning)
    model.press(.character("u"))
    #expect(model.staging.isEmpty)
  }

  @Test("c casts floating tensors: DTYPE shows f32 > bf16, integers stay; a later cast replaces")
  func cast() throws {
    var model = try Make.model(Self.ddp)
    model.press(.character("c"))
    guard case .picker(let picker) = model.mode else {
      Issue.record("no picker")
      return
    }
    #expect(picker.options == ["bf16", "fp16", "fp32", "fp64"])
    model.press(.enter)
    #expect(model.staging.operations == [.cast(DType.named("bfloat16")!)])
    #expect(model.plan?.casts.count == 8)
    let weight = try #require(model.node("module.head.weight"))
    let tracked = try #require(model.node("module.features.1.num_batches_tracked"))
    #expect(model.edit.castCount[Int(weight)] == 1)
    #expect(model.edit.castCount[Int(tracked)] == 0)
    // 852 bytes of float32 become 426.
    #expect(model.edit.bytesSaved == 426)
    #expect(model.render().lines.joined().contains("f32 > bf16"))
    model.press(.character("c"), .character("j"), .enter)
    #expect(model.staging.operations == [.cast(DType.named("float16")!)])
    // An option's number picks it at once.
    model.press(.character("c"), .character("4"))
    #expect(model.mode == .browse)
    #expect(model.staging.operations == [.cast(DType.named("float64")!)])
    #expect(model.edit.bytesSaved == -852)
    #expect(model.render().lines[0].contains("adds 852 B"))
    model.press(.character("u"), .character("u"), .character("u"))
    #expect(model.staging.isEmpty)
    #expect(model.edit.castCount[Int(weight)] == 0)
  }

  @Test("u undoes edits and device moves one step at a time, newest first")
  func undoOrder() throws {
    var model = try Make.model(Self.ddp)
    model.press(.character("P"), .enter)
    model.press(.character("M"), .character("j"), .enter)
    #expect(model.pending.tensors == 9)
    #expect(model.staging.operations.count == 2)
    #expect(model.staging.editCount == 1)
    model.press(.character("u"))
    #expect(model.pending.tensors == 0)
    #expect(model.staging.operations == [.stripPrefix("module.")])
    model.press(.character("u"))
    #expect(model.staging.isEmpty)
  }

  @Test("w writes the staged operations: the request carries them for the shell to plan")
  func write() throws {
    var model = try Make.model(Self.ddp, path: "runs/ddp.pt")
    model.press(.character("P"), .enter)
    model.press(.character("w"))
    guard case .prompt(let prompt) = model.mode else {
      Issue.record("no prompt")
      return
    }
    #expect(prompt.editor.text == "runs/ddp.edited.pt")
    #expect(model.press(.enter) == [.checkOutput(path: "runs/ddp.edited.pt")])
    let effects = model.update(.outputChecked(path: "runs/ddp.edited.pt", .free))
    #expect(
      effects == [
        .write(
          WriteRequest(
            path: "runs/ddp.edited.pt", operations: [.stripPrefix("module.")],
            overwrite: false))
      ])
    _ = model.update(
      .writeFinished(.saved(summary: "wrote runs/ddp.edited.pt", path: "runs/ddp.edited.pt")))
    #expect(model.staging.isEmpty)
    #expect(model.plan == nil)
    #expect(model.edit.arrow.isEmpty)
  }

  @Test("q asks before leaving with staged edits")
  func quitAsks() throws {
    var model = try Make.model(Self.ddp)
    model.press(.character("S"))
    #expect(model.press(.character("q")).isEmpty)
    #expect(model.mode == .confirm(.quit))
    #expect(model.render().lines.joined().contains("1 edit staged and not written"))
  }
}

@Suite("render: edits")
struct EditRenderTests {
  @Test("a DDP file after P Enter")
  func ddpStripped() throws {
    var model = try Make.model(EditTests.ddp)
    model.press(.character("P"), .enter)
    Golden.check(model.render(), "edit-ddp-strip", styles: true)
  }

  @Test("a DDP file after a cast to bf16 and a drop")
  func ddpCast() throws {
    var model = try Make.model(EditTests.ddp)
    model.press(.character("c"), .enter)
    model.focus(key: "module.head")
    model.press(.character("x"), .character("k"))
    Golden.check(model.render(), "edit-ddp-cast", styles: true)
  }

  @Test("the prefix picker")
  func prefixPicker() throws {
    var model = try Make.model(EditTests.ddp)
    model.press(.character("P"))
    Golden.check(model.render(), "edit-prefix-picker")
  }
}

@Suite("render: state_dict")
struct EditStateDictRenderTests {
  @Test("a training checkpoint after S")
  func trainStateDict() throws {
    var model = try Make.model("torch/train_ckpt_cuda0.pt")
    model.press(.character("S"))
    Golden.check(model.render(), "edit-train-state-dict")
  }
}
