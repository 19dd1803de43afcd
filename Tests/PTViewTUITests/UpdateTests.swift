import PTViewCore
import PTViewEdit
import Testing

@testable import PTViewTUI

@Suite("update: navigation")
struct NavigationTests {
  @Test("opens with the top-level containers expanded and numbered runs folded")
  func firstScreen() throws {
    let model = try Make.exampleModel()
    #expect(
      model.outline.prefix(6) == [
        "model", "  embed", "    weight", "  pos", "    weight", "  layers.0 … layers.5",
      ])
    #expect(model.outline.contains("  state.0 … state.99"))
    #expect(model.outline.contains("epoch"))
    #expect(model.focus == 0)
  }

  @Test("moves as a table of keys and focused keys (jless style)")
  func movements() throws {
    var model = try Make.model("torch/train_ckpt_cuda0.pt")
    let steps: [(KeyEvent, String)] = [
      (.character("j"), "model.conv"),
      (.character("l"), "model.conv"),  // expand
      (.down, "model.conv.weight"),
      (.character("k"), "model.conv"),
      (.character("h"), "model.conv"),  // collapse
      (.character("j"), "model.bn"),
      (.character("p"), "model"),
      (.character("J"), "optimizer"),
      (.character("K"), "model"),
      (.character("G"), "config"),
      (.character("g"), "model"),
      (.end, "config"),
      (.home, "model"),
      (.character("l"), "model.conv"),  // already expanded: first child
      (.left, "model"),  // collapsed: go to the parent
      (.left, "model"),  // expanded: collapse
      (.control("n"), "optimizer"),
    ]
    for (key, expected) in steps {
      model.press(key)
      #expect(model.focusedKey == expected, "after \(key.name)")
    }
  }

  @Test("Enter and Space toggle; collapse removes exactly the subtree's rows")
  func toggle() throws {
    var model = try Make.exampleModel()
    let before = model.rows.count
    model.press(.character("j"), .character("j"), .character("j"), .character("j"), .character("j"))
    #expect(model.focusedKey == "model.layers")
    model.press(.enter)
    #expect(model.rows.count == before + 6)
    model.press(.character(" "))
    #expect(model.rows.count == before)
    model.press(.character("L"))
    let layers = try #require(model.focusedNode)
    #expect(model.rows.count == before + Int(model.tree.subtreeSize[Int(layers)]) - 1)
    model.press(.character("H"))
    #expect(model.rows.count == before)
  }

  @Test("rows always equal a fresh rebuild after any sequence of toggles")
  func incrementalRowsMatchRebuild() throws {
    var model = try Make.exampleModel()
    let script = "jjjjj llljj hhh jjjj llll GkkK  l gj L H 3 1 2 jj l"
    for c in script { model.press(.character(c)) }
    var fresh = model
    fresh.rebuildRows()
    #expect(model.rows == fresh.rows)
  }

  @Test("paging keeps the focus on screen and stops at the ends")
  func paging() throws {
    var model = try Make.model("torch/sd_many.pt")
    model.press(.enter)
    #expect(model.rows.count == 2001)
    model.press(.pageDown)
    #expect(model.focus == 16)
    #expect(model.top <= model.focus && model.focus < model.top + model.layout.bodyHeight)
    model.press(.character("G"))
    #expect(model.focus == 2000)
    #expect(model.top == 2001 - model.layout.bodyHeight)
    model.press(.pageUp, .pageUp)
    #expect(model.focus == 2000 - 32)
    model.press(.control("u"))
    #expect(model.focus == 2000 - 40)
  }

  @Test("1 … 9 show the tree that many levels deep")
  func depth() throws {
    var model = try Make.exampleModel()
    model.press(.character("1"))
    #expect(model.outline == ["model", "optimizer", "epoch", "config"])
    model.press(.character("2"))
    #expect(model.outline.contains("  layers.0 … layers.5"))
    #expect(!model.outline.contains("    layers.0"))
  }

  @Test("resizing keeps the focus visible")
  func resize() throws {
    var model = try Make.exampleModel()
    model.press(.character("L"))
    for _ in 0..<30 { model.press(.character("j")) }
    _ = model.update(.resize(Size(columns: 80, rows: 10)))
    #expect(model.top <= model.focus && model.focus < model.top + model.layout.bodyHeight)
  }

  @Test("mouse: wheel scrolls, click focuses, double click toggles")
  func mouse() throws {
    var model = try Make.exampleModel()
    _ = model.update(.mouse(.click(x: 5, y: 4)))
    #expect(model.focus == 2)
    _ = model.update(.mouse(.wheelDown))
    #expect(model.focus == 5)
    let rows = model.rows.count
    _ = model.update(.mouse(.doubleClick(x: 5, y: 7)))
    #expect(model.rows.count == rows + 6)
  }
}

@Suite("update: search and filter")
struct FindTests {
  @Test("/ finds keys, reveals folded matches, n and N cycle")
  func search() throws {
    var model = try Make.exampleModel()
    model.press(.character("/"))
    _ = model.type("attn.q")
    model.press(.enter)
    #expect(model.focusedKey == "model.layers.0.attn.q")
    #expect(model.search?.matches.count == 6)
    model.press(.character("n"))
    #expect(model.focusedKey == "model.layers.1.attn.q")
    model.press(.character("N"), .character("N"))
    #expect(model.focusedKey == "model.layers.5.attn.q")
    #expect(model.status?.text.contains("match 6 of 6") == true)
    model.press(.escape)
    #expect(model.search == nil)
  }

  @Test("search is smart-case")
  func smartCase() throws {
    var model = try Make.exampleModel()
    model.press(.character("/"))
    _ = model.type("LM_HEAD")
    model.press(.enter)
    #expect(model.search?.matches.isEmpty == true)
    model.press(.character("/"))
    _ = model.type("lm_head")
    model.press(.enter)
    #expect(model.focusedKey == "model.lm_head")
  }

  @Test("f filters by device, dtype, shape and key; Esc clears")
  func filter() throws {
    var model = try Make.model("torch/train_ckpt_cuda0.pt")
    model.press(.character("f"))
    _ = model.type("device:cpu")
    model.press(.enter)
    #expect(model.filter?.tensors == 8)
    #expect(model.outline.allSatisfy { !$0.contains("conv") })
    #expect(model.outline.contains { $0.hasSuffix("step") })
    model.press(.character("f"), .control("u"))
    _ = model.type("shape:8,* -bias")
    model.press(.enter)
    let keys = model.filter.map { f in f.entries.map { model.tree.entries[Int($0)].key } } ?? []
    #expect(
      keys == ["model.fc.weight", "optimizer.state.4.exp_avg", "optimizer.state.4.exp_avg_sq"])
    model.press(.escape)
    #expect(model.filter == nil)
  }

  @Test("a bad filter term says why and keeps the prompt open")
  func badFilter() throws {
    var model = try Make.model("torch/train_ckpt_cuda0.pt")
    model.press(.character("f"))
    _ = model.type("device:")
    model.press(.enter)
    #expect(model.status?.kind == .error)
    guard case .prompt(let p) = model.mode else {
      Issue.record("prompt closed")
      return
    }
    #expect(p.purpose == .filter)
  }

  @Test("filter terms")
  func filterTerms() throws {
    #expect(throws: FilterError.self) { try Filter("dtype:") }
    #expect(Filter.keyMatches("layers.*.attn", "model.layers.3.attn"))
    #expect(!Filter.keyMatches("Layers", "model.layers"))
    #expect(Wildcard.matches("*,768", "12,768"))
    #expect(!Wildcard.matches("*,768", "768,12"))
    #expect(Wildcard.matches("a*b*c", "axxbyyc"))
  }
}

@Suite("update: remap flow")
struct RemapTests {
  @Test("M opens a picker with cpu first and selected; Enter stages every tensor not on cpu")
  func mapAll() throws {
    var model = try Make.model("torch/train_ckpt_cuda0.pt")
    model.press(.character("M"))
    guard case .picker(let picker) = model.mode else {
      Issue.record("no picker")
      return
    }
    #expect(picker.options.first == "cpu")
    #expect(picker.selected == 0)
    #expect(picker.options == ["cpu", "cuda:0", DevicePicker.other])
    model.press(.enter)
    #expect(model.mode == .browse)
    // `M` Enter is `ptview remap --to cpu`, planned by the same planner.
    #expect(
      model.staging.operations == [.moveDevices(DeviceRules(defaultTarget: "cpu"), only: .all)])
    let plan = try #require(model.plan)
    #expect(plan.remap.moves.count == 27)
    #expect(plan.remap.moves.allSatisfy { $0.to == "cpu" })
    #expect(model.pending.tensors == 27)
    let edits = plan.edits
    #expect(edits.first == .moveStorage(record: "data/0", to: "cpu"))
    #expect(!edits.contains(.moveStorage(record: "data/11", to: "cpu")))  // already on cpu
    let modelNode = model.rows[0]
    #expect(model.pending.count[Int(modelNode)] == 11)
  }

  @Test("m stages the selected subtree only; u undoes")
  func mapSubtree() throws {
    var model = try Make.model("torch/train_ckpt_cuda0.pt")
    model.press(.character("j"))
    #expect(model.focusedKey == "model.conv")
    model.press(.character("m"), .enter)
    #expect(
      model.staging.operations == [
        .moveDevices(
          DeviceRules(defaultTarget: "cpu"),
          only: .keys(["model.conv.weight", "model.conv.bias"]))
      ])
    #expect(Set(try #require(model.plan).remap.moves.map(\.record)) == ["data/0", "data/1"])
    model.press(.character("u"))
    #expect(model.staging.isEmpty)
    #expect(model.pending.tensors == 0)
  }

  @Test("a shared storage moves as a whole and the status names the other key")
  func sharedStorage() throws {
    var model = try Make.model("torch/model_tied.pt", assessed: false)
    #expect(model.focusedKey == "embed")
    model.press(.character("m"), .character("j"), .enter)
    let moves = try #require(model.plan).remap.moves
    #expect(moves.map(\.record) == ["data/0"] && moves.map(\.to) == ["cuda:0"])
    #expect(model.status?.text.contains("also moves head.weight") == true)
    #expect(model.pending.tensors == 1)  // tied: one tensor object under two keys? both move
  }

  @Test("other… asks for a device by name and checks it")
  func customDevice() throws {
    var model = try Make.model("torch/train_ckpt_cuda0.pt")
    model.press(.character("M"), .character("G"), .enter)
    _ = model.type("cuda 1")
    model.press(.enter)
    #expect(model.status?.kind == .error)
    model.press(.control("u"))
    _ = model.type("cuda:1")
    model.press(.enter)
    let moves = try #require(model.plan).remap.moves
    #expect(moves.count == 35)
    #expect(moves.allSatisfy { $0.to == "cuda:1" })
  }

  @Test("w offers <stem>.<target><ext> beside the input and checks it before writing")
  func writeFlow() throws {
    var model = try Make.model("torch/train_ckpt_cuda0.pt", path: "runs/train_ckpt_cuda0.pt")
    #expect(model.press(.character("w")) == [])
    #expect(model.status?.kind == .warning)
    model.press(.character("M"), .enter, .character("w"))
    guard case .prompt(let prompt) = model.mode else {
      Issue.record("no prompt")
      return
    }
    #expect(prompt.editor.text == "runs/train_ckpt_cuda0.cpu.pt")
    #expect(model.press(.enter) == [.checkOutput(path: "runs/train_ckpt_cuda0.cpu.pt")])
    let effects = model.update(.outputChecked(path: "runs/train_ckpt_cuda0.cpu.pt", .free))
    #expect(
      effects == [
        .write(
          WriteRequest(
            path: "runs/train_ckpt_cuda0.cpu.pt", operations: model.staging.operations,
            overwrite: false))
      ])
    _ = model.update(.writeProgress(done: 50, total: 100))
    #expect(
      model.mode
        == .writing(WriteProgress(path: "runs/train_ckpt_cuda0.cpu.pt", done: 50, total: 100)))
    _ = model.update(
      .writeFinished(
        .saved(
          summary: "wrote runs/train_ckpt_cuda0.cpu.pt (8 KiB): 27 storages moved, verified",
          path: "runs/train_ckpt_cuda0.cpu.pt")))
    #expect(model.staging.isEmpty)
    #expect(model.history.isEmpty)
    #expect(model.pending.tensors == 0)
    #expect(
      model.status?.text
        == "Wrote runs/train_ckpt_cuda0.cpu.pt (8 KiB): 27 storages moved, verified")
    #expect(model.press(.character("q")) == [.quit])
  }

  @Test("an existing output asks first; no keeps the prompt; yes overwrites")
  func overwrite() throws {
    var model = try Make.model("torch/train_ckpt_cuda0.pt")
    model.press(.character("M"), .enter, .character("w"), .enter)
    _ = model.update(.outputChecked(path: "fixtures/train_ckpt_cuda0.cpu.pt", .exists))
    #expect(model.mode == .confirm(.overwrite(path: "fixtures/train_ckpt_cuda0.cpu.pt")))
    model.press(.character("n"))
    #expect(
      model.mode
        == .prompt(
          Prompt(purpose: .writePath, editor: LineEditor("fixtures/train_ckpt_cuda0.cpu.pt"))))
    model.press(.enter)
    _ = model.update(.outputChecked(path: "fixtures/train_ckpt_cuda0.cpu.pt", .exists))
    let effects = model.press(.character("y"))
    #expect(effects.count == 1)
    if case .write(let request) = effects.first {
      #expect(request.overwrite)
    } else {
      Issue.record("no write")
    }
  }

  @Test("the input is refused, a failed write keeps the edits")
  func refusals() throws {
    var model = try Make.model("torch/train_ckpt_cuda0.pt")
    model.press(.character("M"), .enter, .character("w"), .control("u"))
    _ = model.type("fixtures/train_ckpt_cuda0.pt")
    #expect(model.press(.enter) == [])
    #expect(model.status?.kind == .error)
    model.press(.control("u"))
    _ = model.type("out/x.pt")
    #expect(model.press(.enter) == [.checkOutput(path: "out/x.pt")])
    _ = model.update(.outputChecked(path: "out/x.pt", .isInput))
    #expect(model.status?.text.contains("input file") == true)
    model.press(.enter)
    _ = model.update(.outputChecked(path: "out/x.pt", .free))
    _ = model.update(.writeFinished(.failed("disk full")))
    #expect(model.mode == .browse)
    #expect(!model.staging.isEmpty)
    #expect(model.status?.kind == .error)
    #expect(model.status?.text.contains("disk full") == true)
  }

  @Test("q asks when edits are unsaved")
  func quit() throws {
    var model = try Make.model("torch/train_ckpt_cuda0.pt")
    model.press(.character("M"), .enter)
    #expect(model.press(.character("q")) == [])
    #expect(model.mode == .confirm(.quit))
    #expect(model.press(.character("n")) == [])
    #expect(model.mode == .browse)
    model.press(.character("q"))
    #expect(model.press(.character("y")) == [.quit])
  }

  @Test("meta tensors without storage are left alone")
  func metaTensors() throws {
    var model = try Make.model("torch/meta_tensors.pt")
    model.press(.character("M"), .enter)
    let withStorage = model.tree.entries.filter {
      !$0.tensor.allStorages.isEmpty && $0.tensor.device != "cpu"
    }
    #expect(model.pending.tensors <= withStorage.count)
  }

  @Test("default output names")
  func outputNames() {
    #expect(OutputPath.suggest(input: "model.pt", targets: ["cpu"]) == "model.cpu.pt")
    #expect(
      OutputPath.suggest(input: "dir/pytorch_model.bin", targets: ["cpu"])
        == "dir/pytorch_model.cpu.bin")
    #expect(OutputPath.suggest(input: "a.b/ckpt", targets: ["cpu"]) == "a.b/ckpt.cpu")
    #expect(OutputPath.suggest(input: "model.pt", targets: ["cuda:0"]) == "model.cuda0.pt")
    #expect(
      OutputPath.suggest(input: "model.pt", targets: ["cpu", "cuda:1"]) == "model.remapped.pt")
    #expect(OutputPath.suggest(input: ".hidden", targets: ["cpu"]) == ".hidden.cpu")
  }

  @Test("device names")
  func deviceNames() {
    #expect(Model.isDeviceName("cpu"))
    #expect(Model.isDeviceName("cuda:1"))
    #expect(Model.isDeviceName("privateuseone:0"))
    #expect(!Model.isDeviceName("cuda:"))
    #expect(!Model.isDeviceName("CUDA"))
    #expect(!Model.isDeviceName("a b"))
  }
}

@Suite("line editor")
struct LineEditorTests {
  @Test("edits like a shell line")
  func editing() {
    var e = LineEditor("dir/model.pt")
    #expect(e.handle(.control("w")) == .edited)
    #expect(e.text == "dir/")
    _ = e.handle(.character("x"))
    _ = e.handle(.home)
    _ = e.handle(.delete)
    #expect(e.text == "ir/x")
    _ = e.handle(.end)
    _ = e.handle(.backspace)
    #expect(e.text == "ir/")
    _ = e.handle(.control("u"))
    #expect(e.text == "")
    #expect(e.handle(.backspace) == .ignored)
    #expect(e.handle(.enter) == .submitted)
    #expect(e.handle(.escape) == .cancelled)
  }
}
