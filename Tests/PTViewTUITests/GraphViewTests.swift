import PTViewCore
import PTViewPickle
import PTViewTestSupport
import Testing

@testable import PTViewTUI

/// Storage heads read from a fixture's bytes, as the shell reads them from the file.
struct MemoryHeads: StorageHeadReader {
  let checkpoint: Checkpoint
  let bytes: [UInt8]

  func head(of record: String) -> [UInt8]? {
    let source = MemorySource(bytes)
    guard let root = checkpoint.archiveRoot,
      let entry = checkpoint.directory?.entry(named: root + "/" + record), entry.isStored,
      let header = try? ZipDirectory.localHeader(of: entry, in: source)
    else { return nil }
    let start = Int(header.dataOffset)
    return Array(bytes[start..<min(bytes.count, start + 32)])
  }
}

extension Model {
  /// A model of a fixture with its pickles' bytes at hand, as the shell gives them.
  static func withPickles(_ fixture: String, size: Size = .standard) throws -> Model {
    var model = try Make.model(fixture, size: size)
    let bytes = try Fixtures.bytes(fixture)
    let checkpoint = try #require(model.checkpoint)
    for section in checkpoint.pickles where section.fileOffset > 0 || checkpoint.format != .zip {
      let start = Int(section.fileOffset)
      let end = start + Int(section.length)
      guard end <= bytes.count else { continue }
      model.pickles[section.name] = PickleBytes(
        base: start, bytes: Array(bytes[start..<end]),
        listingBase: checkpoint.format == .legacy || checkpoint.format == .pickle ? start : 0)
    }
    model.storageReader = MemoryHeads(checkpoint: checkpoint, bytes: bytes)
    return model
  }

  /// The graph rows as indented text.
  var graphOutline: [String] { graph?.outlineText ?? [] }

  /// The focused graph row.
  var graphFocus: GraphRow? { graph?.focusedRow }
}

@Suite("graph view: the pickle itself, on Tab")
struct GraphViewTests {
  @Test("Tab opens on the first tensor: its rebuild call and persistent id on the first screen")
  func trainingCheckpoint() throws {
    var model = try Model.withPickles(
      "torch/train_ckpt_cuda0.pt", size: Size(columns: 110, rows: 30))
    model.press(.tab)
    #expect(model.showingGraph)
    let screen = model.render()
    let text = screen.lines.joined(separator: "\n")
    #expect(text.contains("torch._utils._rebuild_tensor_v2(…)"))
    #expect(text.contains("persistent id ('storage', torch.FloatStorage, '0', 'cuda:0'"))
    #expect(text.contains("→ data/0"))
    Golden.check(screen, "graph-train", styles: true)
    // Tab again: back to the keys, on that tensor.
    model.press(.tab)
    #expect(!model.showingGraph)
    #expect(model.focusedNode.map { model.tree[$0].kind } == .tensor)
    #expect(model.focusedKey == model.tree.entries.first?.key)
  }

  @Test("from a tensor in the key view, Tab goes to its rebuild call and back")
  func links() throws {
    var model = try Model.withPickles("torch/train_ckpt_cuda0.pt")
    let entry = try #require(model.tree.entries.indices.last)
    model.reveal(model.tree.entryNode[entry])
    let key = model.focusedKey
    model.press(.tab)
    let row = try #require(model.graphFocus)
    #expect(row.node == model.tree.entries[entry].tensor.node)
    #expect(model.graph?.text(row).contains("_rebuild_") == true)
    model.press(.tab)
    #expect(model.focusedKey == key)
  }

  @Test("tied embeddings: the tensor is shown once, the other key refers to it and jumps there")
  func tiedReference() throws {
    var model = try Model.withPickles("torch/model_tied.pt")
    model.press(.tab)
    var view = try #require(model.graph)
    // Open everything: the shared tensor must appear in full once only.
    model.press(.character("g"), .character("L"))
    view = try #require(model.graph)
    let homes = view.rows.filter { !$0.reference && view.index.isShared($0.node) }
    let references = view.rows.filter(\.reference)
    #expect(!references.isEmpty)
    for ref in references {
      #expect(homes.filter { $0.node == ref.node }.count == 1)
    }
    let r = try #require(view.rows.firstIndex { $0.reference })
    let shared = view.rows[r].node
    // Focus the reference, Enter jumps to the anchor, Backspace comes back.
    while model.graph!.focus != r { model.press(r > model.graph!.focus ? .down : .up) }
    Golden.check(model.render(), "graph-tied", styles: true)
    model.press(.enter)
    let home = try #require(model.graphFocus)
    #expect(home.node == shared)
    #expect(!home.reference)
    #expect(model.graph?.text(home).hasPrefix("&\(shared.index) ") == true)
    model.press(.backspace)
    #expect(model.graph?.focus == r)
    #expect(model.graphFocus?.reference == true)
  }

  @Test("a whole pickled module: classes as instances, the state as attributes")
  func wholeModule() throws {
    var model = try Model.withPickles("torch/model_full.pt")
    model.press(.tab)
    let text = model.graphOutline.joined(separator: "\n")
    #expect(text.contains("_buffers = dict (2 items)"))
    #expect(text.contains("persistent id ('storage'"))
    Golden.check(model.render(), "graph-module", styles: true)
  }

  @Test("a TorchScript archive: data.pkl, then constants.pkl as a second top row")
  func torchScript() throws {
    var model = try Model.withPickles("torch/ts_scripted.pt")
    model.press(.tab)
    let view = try #require(model.graph)
    let tops = view.rows.filter { $0.depth == 0 }.map(view.label)
    #expect(tops.first == "data.pkl: ")
    #expect(tops.contains("constants.pkl: "))
    Golden.check(model.render(), "graph-torchscript", styles: true)
  }

  @Test("a hostile file: the call run and thrown away has a row, marked ! and on one line")
  func hostile() throws {
    var model = try Model.withPickles("security/files/fk_injected_exec_state_dict.pt")
    model.press(.tab)
    let view = try #require(model.graph)
    let discarded = try #require(view.rows.first { view.label($0) == "(discarded): " })
    #expect(view.text(discarded) == "builtins.exec(\"import os; os.system('id')\")")
    model.press(.character("!"))
    #expect(model.graphFocus?.node == discarded.node)
    #expect(model.status?.kind == .error)
    Golden.check(model.render(), "graph-hostile", styles: true)
  }

  @Test("a cycle ends in a reference instead of recursing")
  func cycles() throws {
    var model = try Model.withPickles("hostile/cycles.pkl")
    model.press(.tab)
    model.press(.character("g"), .character("L"))
    let view = try #require(model.graph)
    #expect(view.rows.contains { $0.reference })
    #expect(view.rows.count < 100)
  }

  @Test("search and n/N visit nodes by key, global and string")
  func search() throws {
    var model = try Model.withPickles("torch/train_ckpt_cuda0.pt")
    model.press(.tab, .character("/"))
    _ = model.type("_rebuild_tensor_v2")
    model.press(.enter)
    let search = try #require(model.graph?.search)
    #expect(search.matches.count == model.tree.entries.count)
    let first = model.graph?.focus
    model.press(.character("n"))
    #expect(model.graph?.focus != first)
    model.press(.character("N"))
    #expect(model.graph?.focus == first)
  }

  @Test("the row model is lazy: opening a 2,000-tensor file makes rows for opened nodes only")
  func lazyRows() throws {
    var model = try Model.withPickles("torch/sd_many.pt")
    model.press(.tab)
    let view = try #require(model.graph)
    let tensors = model.tree.entries.count
    #expect(tensors >= 2000)
    // The top dict's items, the first call's arguments: nothing below the other tensors.
    #expect(view.rows.count <= tensors + 16)
    #expect(view.kidsCache.count <= 4)
    #expect(view.rows.filter(\.expanded).count <= 3)
    // The key view is untouched by it.
    model.press(.tab)
    #expect(!model.showingGraph)
  }

  @Test("the opcode pane lists ptview dis around the node, its own opcode highlighted")
  func opcodePane() throws {
    var model = try Model.withPickles("torch/model_tied.pt")
    model.press(.tab, .character("o"))
    let window = try #require(model.graph?.opcodes)
    let checkpoint = try #require(model.checkpoint)
    let section = try #require(checkpoint.pickles.first)
    let source = try #require(model.pickles[section.name])
    let full = Disassembler.listing(source.bytes, base: source.listingBase).lines
    let start = try #require(full.firstIndex(of: window.lines[0]))
    #expect(Array(full[start..<(start + window.lines.count)]) == window.lines)
    let own = try #require(window.own.min())
    let node = try #require(model.graphFocus?.node)
    #expect(
      OpcodeWindow.offset(of: window.lines[own])
        == source.listingOffset(checkpoint.graph.offset(of: node)))
    #expect(window.lines[own].contains("REDUCE"))
    #expect(!window.hex.isEmpty)
    Golden.check(model.render(), "graph-opcodes", styles: true)
    model.press(.character("o"))
    #expect(model.graph?.pane == false)
  }

  @Test("the wheel scrolls the graph, a click selects its row, and the key view stays put")
  func mouse() throws {
    var model = try Model.withPickles("torch/train_ckpt_cuda0.pt")
    let keyFocus = model.focus
    model.press(.tab)
    let before = try #require(model.graph?.focus)
    _ = model.update(.mouse(.wheelDown))
    #expect(model.graph?.focus == before + 3)
    let top = try #require(model.graph?.top)
    _ = model.update(.mouse(.click(x: 4, y: model.layout.body.lowerBound + 5)))
    #expect(model.graph?.focus == top + 5)
    #expect(model.focus == keyFocus)
  }

  @Test("the graph is read-only: edit keys say so and stage nothing")
  func readOnly() throws {
    var model = try Model.withPickles("torch/train_ckpt_cuda0.pt")
    model.press(.tab, .character("M"))
    #expect(model.staging.isEmpty)
    #expect(model.status?.text.contains("read-only") == true)
    #expect(model.mode == .browse)
  }

  @Test("a file without a pickle says so and stays in the key view")
  func noPickle() throws {
    var model = try Make.model("torch/model.safetensors")
    model.press(.tab)
    #expect(!model.showingGraph)
    #expect(model.status?.kind == .warning)
  }
}
