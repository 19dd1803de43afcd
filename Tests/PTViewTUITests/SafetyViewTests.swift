import PTViewCore
import PTViewTestSupport
import Testing

@testable import PTViewTUI

/// Small bare pickles made with CPython's `pickle.dumps(..., protocol=2)` (never loaded).
enum Pickles {
  /// `{'epoch': 3, 'cfg': {'opts': {'args': argparse.Namespace(lr=1)}, 'seed': 7}}`
  static let nestedNamespace: [UInt8] = [
    128, 2, 125, 113, 0, 40, 88, 5, 0, 0, 0, 101, 112, 111, 99, 104, 113, 1, 75, 3, 88, 3, 0, 0,
    0, 99, 102, 103, 113, 2, 125, 113, 3, 40, 88, 4, 0, 0, 0, 111, 112, 116, 115, 113, 4, 125, 113,
    5, 88, 4, 0, 0, 0, 97, 114, 103, 115, 113, 6, 99, 97, 114, 103, 112, 97, 114, 115, 101, 10, 78,
    97, 109, 101, 115, 112, 97, 99, 101, 10, 113, 7, 41, 129, 113, 8, 125, 113, 9, 88, 2, 0, 0, 0,
    108, 114, 113, 10, 75, 1, 115, 98, 115, 88, 4, 0, 0, 0, 115, 101, 101, 100, 113, 11, 75, 7,
    117, 117, 46,
  ]
  /// `{'epoch': 3, 'cfg': {'hook': <os.system('echo hi') through __reduce__>, 'seed': 7}}`
  static let nestedSystem: [UInt8] = [
    128, 2, 125, 113, 0, 40, 88, 5, 0, 0, 0, 101, 112, 111, 99, 104, 113, 1, 75, 3, 88, 3, 0, 0,
    0, 99, 102, 103, 113, 2, 125, 113, 3, 40, 88, 4, 0, 0, 0, 104, 111, 111, 107, 113, 4, 99, 112,
    111, 115, 105, 120, 10, 115, 121, 115, 116, 101, 109, 10, 113, 5, 88, 7, 0, 0, 0, 101, 99, 104,
    111, 32, 104, 105, 113, 6, 133, 113, 7, 82, 113, 8, 88, 4, 0, 0, 0, 115, 101, 101, 100, 113, 9,
    75, 7, 117, 117, 46,
  ]
}

extension Model {
  /// The node whose key is `key`.
  func node(_ key: String) -> Int32? {
    tree.preorder.first { tree[$0].key == key && tree[$0].kind != .run }
  }

  /// The keys of the rows `!` visits.
  var flaggedKeys: [String] { safety.flagged.map { tree[$0].key } }
}

@Suite("safety: verdicts in the header, marks in the tree, reasons in the pane")
struct SafetyViewTests {
  @Test("the doctor's verdict in a few words")
  func loadSummaries() throws {
    let fixable = LoadSummary(outcome: .fixable, reasons: ["cuda:0"])
    #expect(try Make.exampleModel().safety.doctor == fixable)
    #expect(fixable.phrase == "fails (cuda:0) → fixable")
    #expect(fixable.afterWrite == "torch.load still fails (cuda:0)")
    let namespace = try Make.model("torch/numpy_namespace_cuda0.pt").safety.doctor
    #expect(namespace == LoadSummary(outcome: .needsCode, reasons: ["cuda:0", "7 globals"]))
    #expect(namespace?.phrase == "fails (cuda:0, 7 globals) → needs code")
    let whole = try Make.model("torch/model_full.pt").safety.doctor
    #expect(whole == LoadSummary(outcome: .needsCode, reasons: ["pickled model"]))
    let plain = try Make.model("torch/sd_cpu.pt").safety.doctor
    #expect(plain == LoadSummary(outcome: .loads))
    #expect(plain?.phrase == "loads")
    #expect(plain?.afterWrite == "torch.load now loads it")
    #expect(try Make.model("torch/sd_proto4.pt").safety.doctor?.reasons == ["opcodes"])
  }

  @Test("a safe state_dict: no marks, no warning, and ! says the scan flags nothing")
  func safeFile() throws {
    var model = try Make.model("torch/sd_cpu.pt")
    #expect(model.safety.scan == .safe)
    #expect(model.safety.flagged.isEmpty)
    #expect(model.status == nil)
    #expect(model.render().lines[0].hasSuffix("torch.load: loads  scan: safe"))
    model.press(.character("!"))
    #expect(model.status?.text == "The safety scan flags nothing in this file: safe.")
  }

  @Test("without an assessment there are no verdicts, and ! says there was no scan")
  func notAssessed() throws {
    var model = try Make.exampleModel(assessed: false)
    #expect(model.safety.scan == nil && model.safety.doctor == nil)
    let header = model.render().lines[0]
    #expect(!header.contains("scan") && !header.contains("torch.load"))
    model.press(.character("!"))
    #expect(model.status == Status("No safety scan for this file.", .warning))
  }

  @Test("argparse.Namespace in a training checkpoint is suspicious; ! goes to it")
  func namespace() throws {
    var model = try Make.model("torch/numpy_namespace_cuda0.pt")
    #expect(model.safety.scan == .suspicious)
    #expect(model.flaggedKeys == ["args"])
    let args = try #require(model.node("args"))
    #expect(model.safety.level(of: args) == .suspicious)
    #expect(model.safety.findings(of: args).first?.global == "argparse.Namespace")
    #expect(model.status?.kind == .warning)
    #expect(model.status?.text.contains("argparse.Namespace") == true)
    model.press(.character("!"))
    #expect(model.focusedKey == "args")
    #expect(model.status == Status("Finding 1 of 1: suspicious.", .warning))
    Golden.check(model.render(), "safety-namespace", styles: true)
  }

  @Test("a whole pickled model: the object torch.load returns gets a row, every module a mark")
  func wholeModel() throws {
    var model = try Make.model("torch/model_full.pt")
    #expect(model.outline.first == "(torch.load returns)")
    #expect(model.flaggedKeys == ["(torch.load returns)", "conv", "bn", "fc", "norm"])
    #expect(model.header.tensors == 13)  // the extra row is not a tensor
    Golden.check(model.render(), "safety-model-full", styles: true)
    // ! cycles through them in order and wraps.
    var visited: [String] = []
    for _ in 0..<6 {
      model.press(.character("!"))
      visited.append(model.focusedKey ?? "")
    }
    #expect(visited == ["conv", "bn", "fc", "norm", "(torch.load returns)", "conv"])
  }

  @Test("a module inside a dict is marked on its own row, and so are its submodules")
  func moduleInDict() throws {
    let model = try Make.model("torch/model_full_in_dict_cuda0.pt")
    #expect(model.flaggedKeys == ["model", "model.conv", "model.bn", "model.fc", "model.norm"])
  }

  @Test("code run on load and thrown away gets a row at the top, in red")
  func dangerous() throws {
    var model = try Make.model("security/files/fk_injected_exec_state_dict.pt")
    #expect(model.safety.scan == .dangerous)
    #expect(model.outline == ["(discarded)", "weight", "bias"])
    #expect(model.flaggedKeys == ["(discarded)"])
    let finding = try #require(model.safety.findings.first)
    #expect(finding.global == "builtins.exec")
    #expect(finding.rendering == "builtins.exec(\"import os; os.system('id')\")")
    #expect(finding.location == "gen_benign_state_dict_zip/data.pkl")
    #expect(finding.offset == 111)
    #expect(model.status?.kind == .error)
    #expect(
      model.status?.text.hasPrefix("Dangerous: unpickling this file runs builtins.exec") == true)
    Golden.check(model.render(), "safety-dangerous", styles: true)
    // The tensors are still there to inspect and remap.
    model.press(.character("M"), .character("j"), .enter)
    #expect(model.pending.tensors == 2)
  }

  @Test("a file that is nothing but an exploit still opens and says so")
  func exploitOnly() throws {
    let model = try Make.model("security/files/ms_unsafe_zip_pytorch.pt")
    #expect(model.outline == ["(discarded)"])
    #expect(model.safety.findings.first?.global == "posix.system")
    let header = model.render().lines[0]
    #expect(header.contains("0 tensors") && header.contains("scan: dangerous"))
  }

  @Test("a legacy file whose object is the exploit: the row is what torch.load returns")
  func legacyRoot() throws {
    let model = try Make.model("security/extra/legacy_container_dangerous.pt")
    #expect(model.outline == ["(torch.load returns)"])
    #expect(model.safety.findings.first?.location == "legacy stream, pickle 4 at byte 70")
  }

  @Test("a folded row shows the worst mark below it; opening it hands the mark down")
  func foldedRows() throws {
    var model = try Make.model(pickle: Pickles.nestedNamespace, path: "nested.pkl")
    #expect(model.outline == ["epoch", "cfg"])
    let cfg = try #require(model.node("cfg"))
    #expect(model.safety.level(of: cfg) == .none)
    #expect(model.safety.levelBelow(cfg) == .suspicious)
    model.press(.character("j"))
    var screen = model.render()
    #expect(screen.lines[3].hasPrefix("?"))
    #expect(screen.lines.contains { $0.contains("cfg  ? 1 flagged row below; ! goes to each") })
    #expect(screen.lines.contains { $0.hasPrefix(" cfg.opts.args  byte ") })
    model.press(.character("l"))
    screen = model.render()
    #expect(screen.lines[3].hasPrefix(" "))  // open: the mark moves to the rows below
    #expect(screen.lines[4].hasPrefix("?"))  // `opts`, folded
    model.press(.character("!"))
    #expect(model.focusedKey == "cfg.opts.args")
  }

  @Test("a dangerous call deep in the data marks its row and every folded row above it")
  func nestedDanger() throws {
    var model = try Make.model(pickle: Pickles.nestedSystem, path: "hook.pkl")
    #expect(model.safety.scan == .dangerous)
    #expect(model.flaggedKeys == ["cfg.hook"])
    #expect(model.render().lines[3].hasPrefix("! ▸ cfg"))
    model.press(.character("!"))
    let screen = model.render()
    let row = try #require(screen.lines.first { $0.contains("hook = ") })
    #expect(row.hasPrefix("!"))
    #expect(
      screen.lines.contains { $0.contains("dangerous: calls posix.system: runs system commands") })
    #expect(screen.lines.contains { $0.contains("byte 78  posix.system('echo hi')  in pickle") })
  }

  @Test("the header keeps both verdicts legible from 80 columns and the danger down to 40")
  func headerWidths() throws {
    func header(_ model: Model) -> String { model.render().lines[0] }
    #expect(
      header(try Make.exampleModel(size: Size(columns: 80, rows: 24)))
        == " gpu_checkpoint.pt  401 tensors  cuda:0 ×401    torch.load: fixable  scan: safe")
    #expect(
      header(try Make.exampleModel(size: Size(columns: 120, rows: 24)))
        == " ptview  gpu_checkpoint.pt  zip v3  841 KiB  401 tensors  cuda:0 ×401  torch.load: fails (cuda:0) → fixable  scan: safe"
    )
    #expect(
      header(try Make.exampleModel(size: Size(columns: 60, rows: 24)))
        == " gpu_checkpoint.pt  401 tensors  cuda:0 ×401  load: fixable")
    for columns in [40, 60, 80, 100, 160] {
      let model = try Make.model(
        "security/files/fk_injected_exec_state_dict.pt", size: Size(columns: columns, rows: 24),
        path: "a/very/long/name/of/a/checkpoint/that/came/from/the/internet/fk_injected.pt")
      let line = header(model)
      #expect(line.hasSuffix("scan: dangerous"), "at \(columns) columns: \(line)")
      #expect(TextWidth.width(line) <= columns)
    }
  }

  @Test("the alarm survives NO_COLOR: dangerous leaves the reverse bar and stays bold")
  func monochrome() throws {
    let danger = try Make.model("security/files/fk_injected_exec_state_dict.pt").render()
    let x = try #require(danger.lines[0].range(of: "dangerous")).lowerBound
    let column = danger.lines[0].distance(from: danger.lines[0].startIndex, to: x)
    let chip = danger[column, 0].style
    #expect(chip.background == .red)
    #expect(chip.monochrome.attributes.contains(.bold))
    #expect(!chip.monochrome.attributes.contains(.reverse))
    #expect(danger[0, 2].text == "!")
    #expect(danger[0, 2].style.monochrome.attributes.contains(.bold))
    let safe = try Make.model("torch/sd_cpu.pt").render()
    let s = try #require(safe.lines[0].range(of: "safe")).lowerBound
    let safeColumn = safe.lines[0].distance(from: safe.lines[0].startIndex, to: s)
    #expect(safe[safeColumn, 0].style.monochrome == Style(attributes: [.reverse]))
  }
}

@Suite("safety: every sample")
struct SafetySweepTests {
  /// The public scanner samples and the torch fixtures.
  static var files: [String] {
    ["security/files", "security/extra", "torch"].flatMap { folder in
      Fixtures.files(in: folder, suffix: "").filter {
        !$0.hasSuffix(".txt") && !$0.hasSuffix(".json") && !$0.hasSuffix(".md")
          && !$0.hasSuffix(".tsv") && !["dcp_ckpt", "sharded"].contains($0)
      }.map { folder + "/" + $0 }
    }
  }

  @Test("every file the reader accepts opens, draws, and shows a dangerous verdict on a row")
  func sweep() throws {
    var opened = 0
    var dangerous = 0
    for file in Self.files {
      guard let checkpoint = try? Make.checkpoint(file) else { continue }  // the shell exits 2
      opened += 1
      let assessment = Make.assessment(
        checkpoint, bytes: try Fixtures.bytes(file), path: file)
      var model = Model(checkpoint: checkpoint, path: file, assessment: assessment)
      _ = model.render()
      model.press(.character("!"), .character("!"), .character("G"), .character("!"))
      _ = model.update(.resize(Size(columns: 40, rows: 10)))
      let small = model.render()
      guard assessment.scan?.verdict == .dangerous else { continue }
      dangerous += 1
      #expect(small.lines[0].hasSuffix("scan: dangerous"), "\(file)")
      #expect(
        model.safety.flagged.contains { model.safety.level(of: $0) == .dangerous }, "\(file)")
    }
    #expect(opened > 40)
    #expect(dangerous > 5)
  }
}
