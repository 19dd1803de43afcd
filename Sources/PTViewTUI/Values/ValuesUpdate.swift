import PTViewCore

extension Model {
  /// `v`: opens the pane on the selected tensor, or closes it (stopping its computation).
  mutating func toggleValuesPane() -> [Effect] {
    if values.isOpen {
      values.isOpen = false
      values.reset(node: -1)
      if case .values = mode { mode = .browse }
      clampFocus()
      return [.values(.stop)]
    }
    guard layout.size.rows >= 10 else {
      status = Status("The terminal is too short for the values pane.", .warning)
      return []
    }
    values.isOpen = true
    values.node = -1
    clampFocus()
    if valuesTarget < 0 { status = Status("Select a tensor to see its values.") }
    return syncValues()
  }

  /// Keeps the pane on the selection: a new tensor starts a new generation (the shell stops
  /// the old computation; its late answers are dropped), a scrolled or resized grid asks for
  /// the window it now shows. Called after every message.
  mutating func syncValues() -> [Effect] {
    guard values.isOpen else { return [] }
    let target = valuesTarget
    if target != values.node {
      values.reset(node: target)
      guard target >= 0 else {
        if case .values = mode { mode = .browse }
        return [.values(.stop)]
      }
      let window = valuesWindow(target)
      values.requested = window
      // Up to 64 bins, fewer for a small tensor (a few values per bin at least), so eight
      // values do not draw a comb.
      let numel = tree.entry(of: target)?.tensor.numel ?? 0
      let bins = max(
        4, min(64, (layout.valuesPane?.contentWidth ?? 64) - 6, Int(min(numel / 4, 64))))
      return [
        .values(
          .inspect(
            generation: values.generation, entry: tree[target].entry, window: window, bins: bins))
      ]
    }
    guard target >= 0 else { return [] }
    switch values.phase {
    case .unavailable, .failed, .idle: return []
    case .reading, .done: break
    }
    guard values.gridNote == nil else { return [] }
    let window = valuesWindow(target)
    guard window != values.requested else { return [] }
    values.requested = window
    return [
      .values(.window(generation: values.generation, entry: tree[target].entry, window: window))
    ]
  }

  /// An answer from the shell: the pane's (dropped unless it is for the current generation)
  /// or the full-file check's.
  mutating func receiveValues(_ reply: ValuesReply) {
    switch reply.content {
    case .checkProgress, .checked:
      receiveCheck(reply)
      return
    case .failed where valueCheck.running && reply.generation == valueCheck.generation:
      receiveCheck(reply)
      return
    default:
      break
    }
    guard values.isOpen, reply.generation == values.generation, values.node >= 0 else { return }
    switch reply.content {
    case .unavailable(let why):
      values.phase = .unavailable(why)
      if case .values = mode { mode = .browse }
    case .failed(let why):
      values.phase = .failed(why)
    case .noGrid(let why):
      values.gridNote = why
      values.requested = []
      if case .values = mode { mode = .browse }
    case .window(let runs, let elements):
      // Only the window last asked for: an older one answers a scroll already past.
      guard runs == values.requested, elements.count == runs.count else { return }
      values.loaded = runs
      values.values = elements
    case .progress(let done, let total):
      values.progress = (done, total)
    case .statistics(let statistics):
      values.statistics = statistics
      values.phase = .done
    case .histogram(let histogram):
      values.histogram = histogram
    case .checkProgress, .checked:
      break
    }
  }

  /// `→` on a tensor while the pane is open: the grid takes the keyboard.
  mutating func enterValuesGrid() -> Bool {
    guard values.isOpen, valuesTarget >= 0, values.node == valuesTarget else { return false }
    switch values.phase {
    case .unavailable, .failed, .idle: return false
    case .reading, .done: break
    }
    guard values.gridNote == nil, let geometry = valuesGeometry(values.node), geometry.gridRows > 0,
      geometry.grid.count > 0
    else { return false }
    mode = .values
    return true
  }

  /// The wheel scrolls the grid; a click leaves it for the tree.
  mutating func valuesMouse(_ event: MouseEvent) {
    switch event {
    case .wheelUp: _ = valuesKey(.up)
    case .wheelDown: _ = valuesKey(.down)
    case .click, .doubleClick:
      mode = .browse
      mouse(event)
    }
  }

  /// Keys while the grid has the keyboard: arrows and vim keys scroll, `[` `]` step through
  /// the slices of a tensor of rank 3 or more, Esc (or `←` at the first column) gives the
  /// keyboard back to the tree, `v` closes the pane.
  mutating func valuesKey(_ key: KeyEvent) -> [Effect] {
    status = nil
    guard let geometry = valuesGeometry(values.node) else {
      mode = .browse
      return []
    }
    let grid = geometry.grid
    let page = Int64(max(1, geometry.gridRows - 1))
    switch key {
    case .down, .character("j"), .control("n"): values.top += 1
    case .up, .character("k"), .control("p"): values.top -= 1
    case .right, .character("l"): values.left += 1
    case .left, .character("h"):
      if values.left == 0 {
        mode = .browse
        return []
      }
      values.left -= 1
    case .pageDown, .control("f"), .character(" "): values.top += page
    case .pageUp, .control("b"): values.top -= page
    case .control("d"): values.top += page / 2
    case .control("u"): values.top -= page / 2
    case .home, .character("g"):
      values.top = 0
      values.left = 0
    case .end, .character("G"): values.top = grid.rows
    case .character("0"): values.left = 0
    case .character("$"): values.left = grid.columns - 1
    case .character("]"): values.slice += 1
    case .character("["): values.slice -= 1
    case .escape, .character("q"):
      mode = .browse
      return []
    case .character("v"):
      return toggleValuesPane()
    case .character("?"), .function(1):
      mode = .help(top: 0)
      return []
    case .control("c"):
      return [.quit]
    default:
      status = Status(
        "\(key.name) does nothing in the grid: arrows scroll, [ ] change the slice, Esc goes back.")
      return []
    }
    if (key == .character("]") || key == .character("[")) && grid.slices <= 1 {
      status = Status(
        "A \(grid.shape.count)-D tensor has one slice: [ ] step through rank 3 and up.")
    }
    values.slice = max(0, min(values.slice, grid.slices - 1))
    values.top = max(0, min(values.top, grid.rows - Int64(geometry.gridRows)))
    values.left = max(0, min(values.left, grid.columns - 1))
    return []
  }
}
