import PTViewCore
import PTViewPickle

/// The graph view's keys that the key view does not have (the rest are the key view's own:
/// moving, folding, `/`, `n`, `N`, `!`, `?`, `q`). Kept apart so the help screen can list
/// them under their own heading.
public enum GraphKeymap {
  /// The graph view's own bindings, in help order.
  public static let bindings: [KeyBinding] = [
    KeyBinding(
      "Graph view", [.enter], .toggle, "on a *reference: jump to where it is shown (&)"),
    KeyBinding("Graph view", [.backspace], .parent, "jump back to the reference"),
    KeyBinding("Graph view", [.character("o")], .toggle, "opcode pane: ptview dis around the node"),
  ]
}

/// How the graph view divides the screen: rows above, then the opcode pane or the detail.
struct GraphLayout {
  /// Rows of the graph.
  var body: Range<Int>
  /// The line above the pane, if any.
  var separator: Int?
  /// Pane lines (opcodes, or the detail).
  var pane: Range<Int>

  init(_ layout: Layout, opcodes: Bool) {
    guard opcodes else {
      body = layout.body
      separator = layout.separator
      pane = layout.detail
      return
    }
    let all = layout.body.lowerBound..<layout.status
    let paneLines = max(0, min(all.count - 4, all.count / 2))
    if paneLines < 3 {
      body = layout.body
      separator = layout.separator
      pane = layout.detail
      return
    }
    pane = (all.upperBound - paneLines)..<all.upperBound
    separator = pane.lowerBound - 1
    body = all.lowerBound..<(pane.lowerBound - 1)
  }

  var bodyHeight: Int { max(1, body.count) }
}

extension Model {
  /// The checkpoint whose graph the graph view shows: the file, or a folder's shard.
  var graphCheckpoint: Checkpoint? {
    if let folder {
      guard let shard = graphShard, folder.shards.indices.contains(shard) else { return nil }
      return folder.shards[shard].checkpoint
    }
    return checkpoint
  }

  /// The pickle bytes for the graph view's opcode pane.
  var graphPickles: [String: PickleBytes] {
    guard folder != nil else { return pickles }
    guard let shard = graphShard, shardPickles.indices.contains(shard) else { return [:] }
    return shardPickles[shard]
  }

  /// Whether the graph view has the screen.
  public var showingGraph: Bool { graph?.active == true }

  /// The graph view's layout for the current size.
  var graphLayout: GraphLayout { GraphLayout(layout, opcodes: graph?.pane == true) }

  /// `Tab` in the key view: the pickle graph, opened on the focused tensor's rebuild call (or,
  /// the first time, on the first tensor's).
  mutating func switchToGraph() {
    var target: ValueID? = nil
    if let folder {
      // A folder has one graph per shard: the focused tensor's, else the first shard's.
      var shard = graphShard ?? 0
      if let id = focusedNode, tree[id].kind == .tensor, let found = folder.locate(tree[id].entry) {
        shard = found.shard
        target = tree.entry(of: id)?.tensor.node.map { folder.localNode($0, shard: shard) }
      }
      guard folder.shards.indices.contains(shard) else {
        status = Status(
          folder.readOnly != nil
            ? "No pickle graph: a DCP folder's tensors are described by .metadata only."
            : "No pickle graph in this folder.", .warning)
        return
      }
      if graphShard != shard { graph = nil }
      graphShard = shard
    }
    guard let checkpoint = graphCheckpoint, !checkpoint.pickles.isEmpty else {
      status = Status(
        "No pickle graph: \(graphCheckpoint?.format.rawValue ?? "this") files hold no pickle.",
        .warning)
      return
    }
    if folder == nil, let id = focusedNode, tree[id].kind == .tensor,
      let entry = tree.entry(of: id)
    {
      target = entry.tensor.node
    }
    let height = GraphLayout(layout, opcodes: graph?.pane == true).bodyHeight
    if var view = graph {
      if let target, view.reveal(node: target) {
        view.back.removeAll()
        view.openToStorage()
        view.top = max(0, view.focus - height / 3)
      }
      view.active = true
      graph = view
    } else {
      var view = GraphView(checkpoint: checkpoint, safety: safety, target: target)
      // The tensor's call near the top, its arguments below it on the same screen.
      view.top = max(0, view.focus - height / 3)
      graph = view
    }
    if let folder, let shard = graphShard {
      status = Status(
        "The pickle graph of \(folder.shards[shard].name): Tab returns to the keys, ? lists the keys."
      )
    } else {
      status = Status("The pickle graph: Tab returns to the keys, ? lists the keys.")
    }
    graphChanged()
  }

  /// `Tab` in the graph view: back to the keys, on the tensor the focused call makes.
  mutating func switchToKeys() {
    guard var view = graph else { return }
    view.active = false
    graph = view
    status = nil
    guard let row = view.focusedRow else { return }
    // The call itself, or the call whose argument the focus is on.
    var candidates = [row.node]
    if row.parent >= 0 { candidates.append(ValueID(row.parent)) }
    for local in candidates {
      // A folder's tree names nodes shifted past the earlier shards' graphs.
      let node =
        folder.flatMap { f in graphShard.map { ValueID(local.index &+ f.nodeOffset[$0]) } }
        ?? local
      if let e = tree.entries.firstIndex(where: { $0.tensor.node == node }) {
        reveal(tree.entryNode[e])
        return
      }
    }
  }

  /// Takes the graph view's keys: nil when the key belongs to the shared handling (help, a
  /// picker the graph never opens).
  mutating func graphKey(_ key: KeyEvent) -> [Effect]? {
    switch mode {
    case .browse:
      return graphBrowse(key)
    case .prompt(let prompt) where prompt.purpose == .search:
      var prompt = prompt
      switch prompt.editor.handle(key) {
      case .edited, .ignored: mode = .prompt(prompt)
      case .cancelled:
        mode = .browse
        status = nil
      case .submitted:
        mode = .browse
        graphSearch(prompt.editor.text)
      }
      return []
    default:
      return nil
    }
  }

  mutating func graphBrowse(_ key: KeyEvent) -> [Effect] {
    status = nil
    guard var view = graph else { return [] }
    switch key {
    case .enter, .character(" "):
      if view.focusedRow?.reference == true {
        graphJump()
        return []
      }
    case .backspace:
      if let path = view.back.popLast() {
        view.reveal(path)
        graph = view
        status = Status("Back at the reference.")
      } else {
        status = Status("No jump to go back from.")
      }
      graphChanged()
      return []
    case .character("o"):
      view.pane.toggle()
      view.opcodes = nil
      graph = view
      graphChanged()
      return []
    default:
      break
    }
    guard let action = Keymap.action(for: key) else {
      if key == .control("c") { return [.quit] }
      status = Status("\(key.name) does nothing here; ? lists the keys.")
      return []
    }
    return graphPerform(action)
  }

  /// Runs a key-view action in the graph view.
  mutating func graphPerform(_ action: Action) -> [Effect] {
    guard var view = graph else { return [] }
    let height = graphLayout.bodyHeight
    switch action {
    case .moveDown: view.focus += 1
    case .moveUp: view.focus -= 1
    case .pageDown:
      view.focus += height
      view.top += height
    case .pageUp:
      view.focus -= height
      view.top -= height
    case .halfPageDown:
      view.focus += height / 2
      view.top += height / 2
    case .halfPageUp:
      view.focus -= height / 2
      view.top -= height / 2
    case .top: view.focus = 0
    case .bottom: view.focus = view.rows.count - 1
    case .expandOrEnter:
      if let row = view.focusedRow {
        if row.reference {
          graph = view
          graphJump()
          return []
        } else if row.expandable && !row.expanded {
          view.expand(row: view.focus)
        } else if row.expanded, view.focus + 1 < view.rows.count {
          view.focus += 1
        }
      }
    case .collapseOrParent:
      if let row = view.focusedRow {
        if row.expanded {
          view.collapse(row: view.focus)
        } else if let p = view.parentRow(of: view.focus) {
          view.focus = p
        }
      }
    case .toggle:
      if let row = view.focusedRow {
        if row.expanded { view.collapse(row: view.focus) } else { view.expand(row: view.focus) }
      }
    case .parent:
      if let p = view.parentRow(of: view.focus) { view.focus = p }
    case .nextSibling, .previousSibling:
      let step = action == .nextSibling ? 1 : -1
      if let row = view.focusedRow {
        var i = view.focus + step
        while view.rows.indices.contains(i) && view.rows[i].depth > row.depth { i += step }
        if view.rows.indices.contains(i) && view.rows[i].depth == row.depth { view.focus = i }
      }
    case .expandRecursively:
      if view.focusedRow != nil {
        // Everything below, up to a bound: a whole 80,000-tensor dict opened is 700,000 rows.
        var i = view.focus
        var end = view.endOfSubtree(i)
        if !view.rows[i].expanded { view.expand(row: i) }
        end = view.endOfSubtree(view.focus)
        i += 1
        while i < end && view.rows.count < 200_000 {
          if view.rows[i].expandable && !view.rows[i].expanded {
            view.expand(row: i)
            end = view.endOfSubtree(view.focus)
          }
          i += 1
        }
        if view.rows.count >= 200_000 { status = Status("Opened the first 200,000 rows.") }
      }
    case .collapseRecursively:
      if let row = view.focusedRow {
        let target = row.expanded ? view.focus : (view.parentRow(of: view.focus) ?? view.focus)
        view.collapse(row: target)
        view.focus = target
      }
    case .collapseToDepth(let depth):
      var i = 0
      while i < view.rows.count {
        if view.rows[i].depth >= depth - 1 && view.rows[i].expanded {
          view.collapse(row: i)
        } else if view.rows[i].depth < depth - 1 && view.rows[i].expandable
          && !view.rows[i].expanded && view.rows.count < 200_000
        {
          view.expand(row: i)
        }
        i += 1
      }
      status = Status("Showing \(depth) level\(depth == 1 ? "" : "s").")
    case .search:
      mode = .prompt(Prompt(purpose: .search, editor: LineEditor()))
    case .nextMatch, .previousMatch:
      graph = view
      graphNextMatch(forward: action == .nextMatch)
      return []
    case .nextFinding:
      graph = view
      graphNextFinding()
      return []
    case .switchView:
      graph = view
      switchToKeys()
      return []
    case .help: mode = .help(top: 0)
    case .quit:
      graph = view
      return perform(.quit)
    case .cancel:
      if view.search != nil {
        view.search = nil
        status = Status("Search cleared.")
      }
    case .filter, .mapSelection, .mapAll, .stripPrefix, .rename, .drop, .extract, .stateDict,
      .cast, .undo, .write:
      status = Status("The graph is read-only: Tab goes back to the keys to edit.", .warning)
    case .valuesPane, .checkValues:
      status = Status("Values are shown in the key view: Tab goes back to the keys.", .warning)
    }
    graph = view
    graphChanged()
    return []
  }

  /// The wheel scrolls the graph, a click selects a row, a double click opens, closes or jumps.
  mutating func graphMouse(_ event: MouseEvent) {
    guard var view = graph else { return }
    let body = graphLayout.body
    switch event {
    case .wheelUp:
      view.focus -= 3
      view.top -= 3
    case .wheelDown:
      view.focus += 3
      view.top += 3
    case .click(_, let y), .doubleClick(_, let y):
      guard body.contains(y) else { return }
      let r = view.top + (y - body.lowerBound)
      guard view.rows.indices.contains(r) else { return }
      view.focus = r
      if case .doubleClick = event {
        graph = view
        _ = graphPerform(.toggle)
        if graph?.focusedRow?.reference == true { graphJump() }
        return
      }
    }
    graph = view
    graphChanged()
  }

  /// Enter on a reference: to where the object is shown in full; Backspace comes back.
  mutating func graphJump() {
    guard var view = graph, let row = view.focusedRow, row.reference else { return }
    let from = view.path(ofRow: view.focus)
    if view.reveal(node: row.node) {
      view.back.append(from)
      status = Status("&\(row.node.index): Backspace goes back to the reference.")
    }
    graph = view
    graphChanged()
  }

  mutating func graphSearch(_ query: String) {
    guard var view = graph else { return }
    if query.isEmpty {
      view.search = nil
      graph = view
      return
    }
    view.search = view.find(query)
    graph = view
    if view.search?.matches.isEmpty ?? true {
      status = Status("No node matches \(query).", .warning)
      return
    }
    graphNextMatch(forward: true, including: true)
  }

  mutating func graphNextMatch(forward: Bool, including: Bool = false) {
    guard var view = graph, let search = view.search, !search.matches.isEmpty else {
      status = Status(
        graph?.search == nil ? "No search yet: press / to search." : "No matches.", .warning)
      return
    }
    let position = view.focusOrder
    var i: Int
    if forward {
      i = view.firstMatch(atOrAfter: including ? position : position + 1, in: search)
      if i >= search.matches.count { i = 0 }
    } else {
      i = view.firstMatch(atOrAfter: position, in: search) - 1
      if i < 0 { i = search.matches.count - 1 }
    }
    _ = view.reveal(node: search.matches[i])
    graph = view
    status = Status("/\(search.query)  match \(i + 1) of \(search.matches.count)")
    graphChanged()
  }

  mutating func graphNextFinding() {
    guard var view = graph else { return }
    guard !view.flagged.isEmpty else {
      status = Status(
        safety.scan == nil
          ? "No safety scan for this file." : "The safety scan flags nothing in this graph.")
      return
    }
    let position = view.focusOrder
    let i =
      view.flagged.firstIndex { view.index.order[Int($0.index)] > position } ?? 0
    let node = view.flagged[i]
    _ = view.reveal(node: node)
    graph = view
    if let mark = view.marks[node.index] {
      status = Status(
        "Finding \(i + 1) of \(view.flagged.count): \(mark.text)",
        mark.level == .dangerous ? .error : .warning)
    }
    graphChanged()
  }

  /// Keeps the focus on a row and in view, and the opcode pane on the focused node.
  mutating func graphChanged() {
    guard var view = graph else { return }
    let height = graphLayout.bodyHeight
    view.focus = max(0, min(view.focus, view.rows.count - 1))
    let margin = min(2, (height - 1) / 2)
    if view.focus < view.top + margin { view.top = view.focus - margin }
    if view.focus > view.top + height - 1 - margin { view.top = view.focus - (height - 1 - margin) }
    view.top = max(0, min(view.top, view.rows.count - height))
    if view.pane, let row = view.focusedRow, view.opcodes?.node != row.node,
      let checkpoint = graphCheckpoint
    {
      let lines = graphLayout.pane.count - 1
      var window = OpcodeWindow.make(
        node: row.node, checkpoint: checkpoint, pickles: graphPickles, height: max(1, lines))
      // The storage reader reads the opened file; a folder's shards leave the hex view out.
      if folder == nil, let tensor = checkpoint.tensors[row.node], let storage = tensor.storage,
        let head = storageReader?.head(of: storage.record)
      {
        window.hex = OpcodeWindow.hexLines(Array(head.prefix(32)))
      }
      view.opcodes = window
    }
    graph = view
  }

  /// Rebuilds the graph view when the safety findings arrive, keeping where it was.
  mutating func graphAssessed() {
    guard let old = graph, let checkpoint = graphCheckpoint else { return }
    var view = GraphView(checkpoint: checkpoint, safety: safety, target: nil)
    view.active = old.active
    view.pane = old.pane
    if let row = old.focusedRow {
      let path = old.path(ofRow: old.focus)
      view.reveal(path)
      if view.focusedRow?.node != row.node { _ = view.reveal(node: row.node) }
    }
    graph = view
    graphChanged()
  }
}
