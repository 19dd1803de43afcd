import PTViewCore
import PTViewFiles
import PTViewTestSupport
import PTViewValues
import Testing

@testable import PTViewTUI

/// The shell's side of the values pane, run synchronously over a fixture with the same
/// readers the explorer uses (`TensorValues`): answers are made real, only not threaded.
struct ValuesShell {
  let checkpoint: Checkpoint
  let reader: TensorValues
  /// Per entry of `checkpoint`, the explorer's entry (a DCP folder's rows, matched by key
  /// as the shell matches them); nil when they are the same.
  var rows: [Int32]? = nil

  init(_ fixture: String) throws {
    checkpoint = try Fixtures.checkpoint(fixture)
    reader = TensorValues(
      checkpoint: checkpoint, source: try FileSource(path: Fixtures.path(fixture)))
  }

  init(checkpoint: Checkpoint, source: any ByteSource, rows: [Int32]) {
    self.checkpoint = checkpoint
    reader = TensorValues(checkpoint: checkpoint, source: source)
    self.rows = rows
  }

  /// The checkpoint's entry for the explorer's `entry`.
  func local(_ entry: Int32) -> Int? {
    guard let rows else { return Int(entry) }
    return rows.firstIndex(of: entry)
  }

  /// The explorer's entry for the checkpoint's entry `i`.
  func row(_ i: Int) -> Int32 { rows?[i] ?? Int32(i) }

  /// The answers to `effects`, in order (background answers included, as if they had come).
  func answers(_ effects: [Effect]) throws -> [Message] {
    var out: [Message] = []
    for case .values(let request) in effects {
      out += try answer(request)
    }
    return out
  }

  func answer(_ request: ValuesRequest) throws -> [Message] {
    func reply(_ generation: Int, _ content: ValuesReply.Content) -> Message {
      .values(ValuesReply(generation: generation, content))
    }
    switch request {
    case .inspect(let generation, let entry, let window, let bins):
      guard let local = local(entry) else {
        return [reply(generation, .unavailable("no tensor has this key"))]
      }
      let tensor = checkpoint.entries[local].tensor
      var out: [Message] = []
      let stored: StoredTensor
      var implicitZeros: Int64 = 0
      switch try reader.locate(tensor) {
      case .stored(let found):
        stored = found
        out.append(reply(generation, try self.window(window, stored)))
      case .none(let why):
        guard case .success(let source) = try reader.statisticsSource(tensor) else {
          return [reply(generation, .unavailable(why))]
        }
        out.append(reply(generation, .noGrid("\(tensor.layout ?? tensor.dtype.name): no grid")))
        if source.packed != nil {
          return out + [reply(generation, .statistics(try reader.packedStatistics(source)))]
        }
        stored = source.stored
        implicitZeros = source.implicitZeros
      }
      var statistics = try reader.statistics(of: [stored])[0]
      statistics.addImplicitZeros(implicitZeros, complex: stored.encoding.isComplex)
      out.append(reply(generation, .statistics(statistics)))
      if let low = statistics.min, let high = statistics.max {
        var histogram = try reader.histogram(of: stored, low: low, high: high, bins: bins)
        histogram.addZeros(implicitZeros)
        out.append(reply(generation, .histogram(histogram)))
      }
      return out
    case .window(let generation, let entry, let window):
      guard let local = local(entry),
        case .stored(let stored) = try reader.locate(checkpoint.entries[local].tensor)
      else { return [] }
      return [reply(generation, try self.window(window, stored))]
    case .checkAll(let generation):
      var nonFinite: [Int32: Bool] = [:]
      var unreadable: [Int32: String] = [:]
      var checked = 0
      for (i, entry) in checkpoint.entries.enumerated() {
        switch try reader.locate(entry.tensor) {
        case .stored(let stored):
          checked += 1
          let s = try reader.statistics(of: [stored])[0]
          if s.nan > 0 {
            nonFinite[row(i)] = true
          } else if s.posinf + s.neginf > 0 {
            nonFinite[row(i)] = false
          }
        case .none(let why):
          unreadable[row(i)] = why
        }
      }
      return [
        reply(
          generation,
          .checked(ValueCheckResult(nonFinite: nonFinite, unreadable: unreadable, checked: checked))
        )
      ]
    case .stop, .stopCheck:
      return []
    }
  }

  func window(_ runs: [ValueRun], _ stored: StoredTensor) throws -> ValuesReply.Content {
    .window(
      runs: runs,
      values: try runs.map { try reader.values(of: stored, from: $0.from, count: $0.count) })
  }
}

/// The values pane and the full-file check, on `values/values_pane.pt` (Scripts/
/// make_value_fixtures.py): a float matrix, a 3-D tensor, NaN and Inf, a 1-D int64 tensor,
/// Inf only, and a meta tensor.
@Suite("values pane")
struct ValuesPaneTests {
  static let fixture = "values/values_pane.pt"

  /// A model of the fixture with the pane open on `key`, every answer delivered.
  func open(_ key: String, size: Size = .standard) throws -> (Model, ValuesShell) {
    var model = try Make.model(Self.fixture, size: size, path: "values_pane.pt")
    let shell = try ValuesShell(Self.fixture)
    try deliver(&model, shell, model.update(.key(.character("v"))))
    try go(&model, shell, to: key)
    return (model, shell)
  }

  /// Sends the answers to `effects` (and to what they lead to).
  func deliver(_ model: inout Model, _ shell: ValuesShell, _ effects: [Effect]) throws {
    var pending = effects
    while !pending.isEmpty {
      let answers = try shell.answers(pending)
      pending = []
      for message in answers { pending += model.update(message) }
    }
  }

  /// Moves the selection down to `key`, answering on the way.
  func go(_ model: inout Model, _ shell: ValuesShell, to key: String) throws {
    var steps = 0
    while model.focusedKey != key && steps < 40 {
      try deliver(&model, shell, model.update(.key(.down)))
      steps += 1
    }
    #expect(model.focusedKey == key)
  }

  @Test("a float matrix: statistics, histogram and the grid as torch prints it")
  func floatMatrix() throws {
    let (model, _) = try open("model.weight")
    #expect(model.values.phase == .done)
    #expect(model.values.statistics?.count == 30)
    #expect(model.values.histogram?.total == 30)
    Golden.check(model.render(), "values-float-80x24", styles: true)
  }

  @Test("an int64 vector wraps into rows, labelled by their first index")
  func intVector() throws {
    let (model, _) = try open("other.counts")
    Golden.check(model.render(), "values-int-80x24")
  }

  @Test("a 3-D tensor shows one slice; → enters the grid, ] the next slice")
  func cube() throws {
    var (model, shell) = try open("model.cube")
    try deliver(&model, shell, model.update(.key(.right)))
    #expect(model.mode == .values)
    try deliver(&model, shell, model.update(.key(.character("]"))))
    #expect(model.values.slice == 1)
    // Values 20/8 ... of slice 1, read from the file.
    #expect(model.values.values.first?.first == .float(2.5))
    Golden.check(model.render(), "values-cube-slice1", styles: true)
    _ = model.update(.key(.escape))
    #expect(model.mode == .browse)
  }

  @Test("NaN and Inf are counted, flagged and drawn apart")
  func nonFinite() throws {
    let (model, _) = try open("model.bad")
    #expect(model.values.statistics?.nan == 1)
    #expect(model.values.statistics?.posinf == 1)
    Golden.check(model.render(), "values-nan-inf", styles: true)
  }

  @Test("a meta tensor says it has no values")
  func meta() throws {
    let (model, _) = try open("other.meta")
    #expect(model.values.phase == .unavailable("meta tensor: it has no values"))
    Golden.check(model.render(), "values-meta")
  }

  @Test("a sparse tensor has the statistics of t.to_dense() and no grid")
  func sparse() throws {
    var model = try Make.model("values/values_layouts.pt", path: "values_layouts.pt")
    let shell = try ValuesShell("values/values_layouts.pt")
    while model.focusedKey != "coo" { _ = model.update(.key(.down)) }
    try deliver(&model, shell, model.update(.key(.character("v"))))
    // torch: dense.to_dense() of 6x7 with 27 zeros, a NaN and a -inf.
    #expect(model.values.statistics?.count == 42)
    #expect(model.values.statistics?.zeros == 27)
    #expect(model.values.statistics?.nan == 1)
    #expect(model.values.gridNote != nil)
    _ = model.update(.key(.right))
    #expect(model.mode == .browse)
    Golden.check(model.render(), "values-sparse")
  }

  @Test("a packed quint4x2 tensor has the statistics of its dequantized values")
  func packed() throws {
    var model = try Make.model("values/values_layouts.pt", path: "values_layouts.pt")
    let shell = try ValuesShell("values/values_layouts.pt")
    while model.focusedKey != "quint4x2" { _ = model.update(.key(.down)) }
    try deliver(&model, shell, model.update(.key(.character("v"))))
    // torch: t.dequantize() of 35 values with scale 0.3 and zero point 6.
    #expect(model.values.statistics?.count == 35)
    #expect(model.values.statistics?.min == Double(Float(0 - 6) * Float(0.3)))
    #expect(model.values.gridNote != nil)
  }

  @Test("on a wide terminal the pane is right of the tree")
  func wide() throws {
    let (model, _) = try open("model.weight", size: Size(columns: 160, rows: 30))
    #expect(model.layout.valuesPane?.onRight == true)
    Golden.check(model.render(), "values-160x30")
  }

  @Test("a new selection starts a new generation; late answers for the old one are dropped")
  func staleDropped() throws {
    var model = try Make.model(Self.fixture, path: "values_pane.pt")
    let shell = try ValuesShell(Self.fixture)
    while model.focusedKey != "model.weight" { _ = model.update(.key(.down)) }
    let first = model.update(.key(.character("v")))
    guard case .values(.inspect(let g1, _, _, _)) = first.first else {
      Issue.record("v asks for no inspection: \(first)")
      return
    }
    let late = try shell.answers(first)
    // The user moves on before the answers come.
    let second = model.update(.key(.down))
    #expect(model.focusedKey == "model.cube")
    guard case .values(.inspect(let g2, let entry, _, _)) = second.first else {
      Issue.record("moving asks for no inspection: \(second)")
      return
    }
    #expect(g2 > g1)
    #expect(model.tree.entries[Int(entry)].key == "model.cube")
    for message in late { _ = model.update(message) }
    #expect(model.values.statistics == nil)
    #expect(model.values.values.isEmpty)
    #expect(model.values.phase == .reading)
    try deliver(&model, shell, second)
    #expect(model.values.statistics?.count == 60)
    // A container stops the computation; closing the pane too.
    #expect(model.update(.key(.character("g"))).contains(.values(.stop)))
    #expect(model.values.phase == .idle)
    #expect(model.update(.key(.character("v"))) == [.values(.stop)])
    #expect(!model.values.isOpen)
  }

  @Test("a window answered after a scroll moved on is dropped")
  func staleWindow() throws {
    var (model, shell) = try open("other.counts", size: Size(columns: 80, rows: 20))
    _ = model.update(.key(.right))
    #expect(model.mode == .values)
    let asked = model.update(.key(.down))
    guard case .values(.window(_, _, let first)) = asked.first else {
      Issue.record("scrolling asks for no window: \(asked)")
      return
    }
    let old = try shell.answers(asked)
    let again = model.update(.key(.down))
    for message in old { _ = model.update(message) }
    #expect(model.values.loaded != first)
    try deliver(&model, shell, again)
    #expect(model.values.loaded == model.values.requested)
  }

  @Test("V marks rows with NaN (N) and Inf only (I); folding and filtering keep the marks")
  func fullFileCheck() throws {
    var model = try Make.model(Self.fixture, path: "values_pane.pt")
    let shell = try ValuesShell(Self.fixture)
    let effects = model.update(.key(.character("V")))
    #expect(effects == [.values(.checkAll(generation: 1))])
    #expect(model.valueCheck.running)
    _ = model.update(
      .values(ValuesReply(generation: 1, .checkProgress(done: 100, total: 400))))
    #expect(model.status?.text.contains("25%") == true)
    try deliver(&model, shell, effects)
    #expect(!model.valueCheck.running)
    Golden.check(model.render(), "values-check-marks", styles: true)
    // Folded: the group shows the worst mark below it.
    _ = model.update(.key(.character("g")))
    _ = model.update(.key(.left))
    let folded = Golden.text(model.render(), styles: false)
    #expect(folded.contains(" N▸ model"))
    // Filtered: the marked row keeps its mark.
    _ = model.update(.key(.character("f")))
    _ = model.type("inf_only")
    _ = model.update(.key(.enter))
    let filtered = Golden.text(model.render(), styles: false)
    #expect(filtered.contains(" I    inf_only"))
    #expect(model.valueCheck.markBelow(model.tree.entryNode[4]) == .inf)
  }

  @Test("V again stops the check; its late answers are dropped")
  func checkStopped() throws {
    var model = try Make.model(Self.fixture, path: "values_pane.pt")
    let shell = try ValuesShell(Self.fixture)
    let effects = model.update(.key(.character("V")))
    #expect(model.update(.key(.character("V"))) == [.values(.stopCheck)])
    try deliver(&model, shell, effects)
    #expect(!model.valueCheck.hasMarks)
    #expect(model.valueCheck.result == nil)
  }

  @Test("the pane renders at every size without overlapping the status line")
  func sizes() throws {
    for (columns, rows) in [(24, 6), (40, 10), (60, 12), (80, 24), (100, 30), (150, 16), (220, 60)]
    {
      let (model, _) = try open("model.cube", size: Size(columns: columns, rows: rows))
      let screen = model.render()
      #expect(screen.size == Size(columns: columns, rows: rows))
      if let frame = model.layout.valuesPane {
        #expect(frame.y + frame.height <= model.layout.status)
        #expect(frame.x + frame.width <= columns)
      }
    }
  }
}
