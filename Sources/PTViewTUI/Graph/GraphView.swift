import PTViewCore
import PTViewJudge
public import PTViewPickle

/// One row of the graph view.
public struct GraphRow: Hashable, Sendable {
  /// The pickle node.
  public var node: ValueID
  /// The node it hangs under (`GraphIndex.top` for the top rows).
  var parent: Int32
  /// Which child of `parent` it is.
  var slot: Int32
  /// Indentation level (top rows are 0).
  public var depth: Int32
  /// Whether it has children to open (references never do: they jump instead).
  public var expandable: Bool
  /// Whether its children are on display.
  public var expanded = false
  /// Shown in full elsewhere: this row stands for it and jumps there.
  public var reference: Bool
}

/// A search in the graph view: nodes whose text (a string, a global's name, a dict key, a
/// call's callee) contains the query, in display order.
struct GraphSearch: Hashable, Sendable {
  var query: String
  var matches: [ValueID]
}

/// The second view of the explorer: the pickle graph itself, as `ptview tree --raw` prints it,
/// folded. Rows exist only for nodes whose parents are open, so opening it costs the path to
/// the first tensor plus the top container's children, whatever the size of the file.
public struct GraphView: Sendable {
  let outline: GraphOutline
  let index: GraphIndex
  /// The top rows: each pickle's root, then findings no root reaches.
  let tops: [GraphKid]
  /// The children of every node opened so far (a big dict's keys are listed once).
  var kidsCache: [Int32: [GraphKid]] = [:]
  /// The rows on display, in order.
  public internal(set) var rows: [GraphRow] = []
  /// The focused row.
  public var focus = 0
  /// The first row drawn.
  public var top = 0
  /// Whether this view has the screen (Tab switches; the state is kept while hidden).
  public var active = true
  /// Whether the opcode pane is open.
  public var pane = false
  /// The last search.
  var search: GraphSearch?
  /// Where Enter on references came from, for Backspace: paths of slots from the top.
  var back: [[Int32]] = []
  /// Safety marks by node, and the call each names, as one line.
  var marks: [Int32: (level: SafetyMarks.Level, text: String)] = [:]
  /// Marked nodes in display order (what `!` visits).
  var flagged: [ValueID] = []
  /// The disassembly shown for the focused node (made when the pane is open).
  var opcodes: OpcodeWindow?

  /// The graph of `checkpoint`, opened on the path to `target` (the first tensor if nil).
  init(checkpoint: Checkpoint, safety: SafetyMarks, target: ValueID?) {
    let outline = GraphOutline(checkpoint: checkpoint)
    var tops: [GraphKid] = []
    // The main pickle first (what torch.load returns), then the others of the file.
    let main = checkpoint.root
    if let main {
      tops.append(GraphKid(slot: .top(Self.sectionName(checkpoint, main)), node: main))
    }
    for section in checkpoint.pickles where section.root != main {
      tops.append(GraphKid(slot: .top(section.name), node: section.root))
    }
    var index = GraphIndex(outline: outline, roots: tops)
    // Findings about nodes no root reaches (code run and thrown away) get rows of their own.
    var extra: [GraphKid] = []
    for finding in safety.findings {
      guard let node = finding.node, outline.valid(node),
        index.order[Int(node.index)] == GraphIndex.unseen,
        !extra.contains(where: { $0.node == node })
      else { continue }
      extra.append(GraphKid(slot: .top("(discarded)"), node: node))
    }
    if !extra.isEmpty {
      tops += extra
      index = GraphIndex(outline: outline, roots: tops)
    }
    self.outline = outline
    self.index = index
    self.tops = tops
    for finding in safety.findings {
      guard let node = finding.node, outline.valid(node) else { continue }
      let level = SafetyMarks.Level(finding.verdict)
      if level == .none { continue }
      let text = finding.rendering ?? finding.global ?? finding.detail
      if let old = marks[node.index], old.level >= level { continue }
      marks[node.index] = (level, text)
    }
    flagged = marks.keys.map { ValueID($0) }.filter {
      index.order[Int($0.index)] != GraphIndex.unseen
    }.sorted { index.order[Int($0.index)] < index.order[Int($1.index)] }
    for (i, kid) in tops.enumerated() {
      rows.append(makeRow(kid, parent: GraphIndex.top, slot: Int32(i), depth: 0))
    }
    let first = target ?? checkpoint.entries.lazy.compactMap(\.tensor.node).first
    if let first, let path = index.path(to: first) {
      reveal(path)
      openToStorage()
    } else if !rows.isEmpty {
      expand(row: 0)
    }
  }

  static func sectionName(_ checkpoint: Checkpoint, _ root: ValueID) -> String {
    checkpoint.pickles.first { $0.root == root }?.name ?? "pickle"
  }

  /// The focused row, if any.
  public var focusedRow: GraphRow? { rows.indices.contains(focus) ? rows[focus] : nil }

  // MARK: Rows

  /// The children of a node, computed once per node opened.
  mutating func kids(of id: ValueID) -> [GraphKid] {
    if let cached = kidsCache[id.index] { return cached }
    let kids = outline.kids(id)
    kidsCache[id.index] = kids
    return kids
  }

  /// The children of a row's parent as far as they are known (for labels).
  func siblings(of row: GraphRow) -> [GraphKid]? {
    row.parent == GraphIndex.top ? tops : kidsCache[row.parent]
  }

  /// The label of a row (`'embed.weight': `, `[0] `).
  func label(_ row: GraphRow) -> String {
    guard let kids = siblings(of: row), kids.indices.contains(Int(row.slot)) else { return "" }
    return outline.label(kids[Int(row.slot)].slot)
  }

  func makeRow(_ kid: GraphKid, parent: Int32, slot: Int32, depth: Int32) -> GraphRow {
    let home = index.isHome(kid.node, parent: parent, slot: slot)
    let reference = !home && outline.isAnchorable(kid.node)
    return GraphRow(
      node: kid.node, parent: parent, slot: slot, depth: depth,
      expandable: !reference && !outline.isScalar(kid.node) && !outline.kids(kid.node).isEmpty,
      reference: reference)
  }

  /// Opens the row at `r`: its children's rows follow it.
  mutating func expand(row r: Int) {
    guard rows.indices.contains(r), rows[r].expandable, !rows[r].expanded else { return }
    let row = rows[r]
    let kids = kids(of: row.node)
    var added: [GraphRow] = []
    added.reserveCapacity(kids.count)
    for (i, kid) in kids.enumerated() {
      added.append(makeRow(kid, parent: row.node.index, slot: Int32(i), depth: row.depth + 1))
    }
    rows[r].expanded = true
    rows.insert(contentsOf: added, at: r + 1)
  }

  /// Closes the row at `r`.
  mutating func collapse(row r: Int) {
    guard rows.indices.contains(r), rows[r].expanded else { return }
    let end = endOfSubtree(r)
    rows[r].expanded = false
    if end > r + 1 { rows.removeSubrange((r + 1)..<end) }
    if focus > r && focus < end {
      focus = r
    } else if focus >= end {
      focus -= end - r - 1
    }
  }

  /// The first row after `r` that is not below it.
  func endOfSubtree(_ r: Int) -> Int {
    let depth = rows[r].depth
    var i = r + 1
    while i < rows.count && rows[i].depth > depth { i += 1 }
    return i
  }

  /// The row of the parent of the row at `r`.
  func parentRow(of r: Int) -> Int? {
    guard rows.indices.contains(r), rows[r].depth > 0 else { return nil }
    var i = r - 1
    while i >= 0 && rows[i].depth >= rows[r].depth { i -= 1 }
    return i >= 0 ? i : nil
  }

  /// The slots from the top down to the row at `r`.
  func path(ofRow r: Int) -> [Int32] {
    var out: [Int32] = []
    var at: Int? = r
    while let i = at {
      out.append(rows[i].slot)
      at = parentRow(of: i)
    }
    return out.reversed()
  }

  /// Opens the way down `path` (slots from the top) and focuses where it ends.
  mutating func reveal(_ path: [Int32]) {
    guard let first = path.first else { return }
    var r = rows.firstIndex { $0.depth == 0 && $0.slot == first }
    for step in path.dropFirst() {
      guard let at = r else { break }
      expand(row: at)
      let end = endOfSubtree(at)
      let depth = rows[at].depth + 1
      r = (at + 1..<end).first { rows[$0].depth == depth && rows[$0].slot == step }
    }
    if let r { focus = r }
  }

  /// Opens the focused call down its first arguments until a persistent id shows: a
  /// parameter's `_rebuild_parameter(_rebuild_tensor_v2(('storage', …), …), …)` opens twice.
  mutating func openToStorage() {
    var r = focus
    for _ in 0..<4 {
      guard rows.indices.contains(r), rows[r].expandable else { return }
      expand(row: r)
      guard r + 1 < rows.count, rows[r + 1].depth == rows[r].depth + 1 else { return }
      let child = rows[r + 1].node
      if case .persistentID = outline.graph[child] { return }
      guard case .object = outline.graph[child] else { return }
      r += 1
    }
  }

  /// Focuses where `id` is shown in full.
  mutating func reveal(node id: ValueID) -> Bool {
    guard let path = index.path(to: id) else { return false }
    reveal(path)
    return true
  }

  /// The rows of the view, as indented text (for tests and the `tree --raw` comparison).
  public var outlineText: [String] {
    rows.map { row in
      String(repeating: "  ", count: Int(row.depth)) + label(row) + text(row)
    }
  }

  /// A row's text after its label: the anchor or reference, then the title.
  func text(_ row: GraphRow) -> String {
    let id = row.node
    var title = outline.title(id)
    if let mark = marks[id.index], case .object = outline.graph[id] { title = mark.text }
    if row.reference { return "*\(id.index) → " + title }
    if index.isShared(id) && outline.isAnchorable(id) { return "&\(id.index) " + title }
    return title
  }

  // MARK: Search

  /// Runs `query` over every node the view can show.
  mutating func find(_ query: String) -> GraphSearch {
    let matcher = KeyMatcher(query)
    let graph = outline.graph
    var hits: [ValueID] = []
    for raw in index.preorder {
      let id = ValueID(raw)
      var hit = false
      switch graph[id] {
      case .string, .legacyString:
        hit = matcher.matches(graph.keyText(id))
      case .object(let i):
        if let name = graph.globalName(graph.construction(i).callee) { hit = matcher.matches(name) }
        if !hit, let mark = marks[raw] { hit = matcher.matches(mark.text) }
      case .persistentID(let pid):
        if outline.valid(pid) { hit = matcher.matches(graph.keyText(pid)) }
      case .global:
        hit = matcher.matches(graph.globalName(id) ?? "")
      default: break
      }
      // A dict key is on its value's row.
      if !hit, index.parent[Int(raw)] >= 0 {
        let parent = index.parent[Int(raw)]
        let kids = kidsCache[parent] ?? outline.kids(ValueID(parent))
        let s = Int(index.slot[Int(raw)])
        if kids.indices.contains(s) {
          switch kids[s].slot {
          case .key(let k), .attribute(let k): hit = matcher.matches(graph.keyText(k))
          default: break
          }
        }
      }
      if hit { hits.append(id) }
    }
    return GraphSearch(query: query, matches: hits)
  }

  /// Whether the row at `r` matches the search.
  func isMatch(_ r: Int) -> Bool {
    guard let search, rows.indices.contains(r), !rows[r].reference else { return false }
    let order = index.order[Int(rows[r].node.index)]
    return firstMatch(atOrAfter: order, in: search) < search.matches.count
      && search.matches[firstMatch(atOrAfter: order, in: search)] == rows[r].node
  }

  func firstMatch(atOrAfter order: Int32, in search: GraphSearch) -> Int {
    var low = 0
    var high = search.matches.count
    while low < high {
      let mid = (low + high) / 2
      if index.order[Int(search.matches[mid].index)] < order { low = mid + 1 } else { high = mid }
    }
    return low
  }

  /// The display position of the focused row's node.
  var focusOrder: Int32 {
    guard let row = focusedRow else { return -1 }
    return index.order[Int(row.node.index)]
  }
}
