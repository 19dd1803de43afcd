import PTViewCore
import PTViewPickle

/// Drawing the graph view: the key view's header, status and prompt, with the graph's rows,
/// its detail or opcode pane, and its own hints.
extension Renderer {
  mutating func drawGraph(_ view: GraphView) {
    header()
    screen.fill(x: 0, y: layout.titles, width: width, style: .plain)
    let gl = GraphLayout(layout, opcodes: view.pane)
    var x = 1 + screen.put("PICKLE GRAPH", x: 1, y: layout.titles, style: Theme.titles)
    if let row = view.focusedRow, let section = section(of: row.node) {
      x += screen.put("  " + section, x: x, y: layout.titles, style: Theme.dim)
    }
    // A folder's graphs are one per shard: say whose this is.
    if let folder = model.folder, let shard = model.graphShard,
      folder.shards.indices.contains(shard)
    {
      x += screen.put(
        "  in " + folder.shards[shard].name, x: x, y: layout.titles, style: Theme.dim,
        limit: max(0, width - 1 - x))
    }
    graphRows(view, gl)
    if let sep = gl.separator {
      screen.put(
        String(repeating: g.horizontal, count: width), x: 0, y: sep, style: Theme.separator)
      if !view.rows.isEmpty {
        let position = " \(view.focus + 1)/\(view.rows.count) "
        screen.put(
          position, x: width - TextWidth.width(position) - 2, y: sep, style: Theme.separator)
      }
      if view.pane {
        opcodePane(view, gl, separator: sep)
      } else {
        graphDetail(view, gl)
      }
    }
    if case .browse = model.mode {
      graphStatus(view)
      graphHints(view)
    } else {
      statusLine()
      hints()
    }
  }

  func section(of id: ValueID) -> String? {
    model.graphCheckpoint?.pickles.first { $0.nodes.contains(Int(id.index)) }?.name
  }

  mutating func graphRows(_ view: GraphView, _ gl: GraphLayout) {
    let gutter = view.marks.isEmpty ? 0 : 1
    for (i, y) in gl.body.enumerated() {
      let r = view.top + i
      guard r < view.rows.count else { break }
      let row = view.rows[r]
      var x = 1 + gutter + Int(row.depth) * 2
      let marker = row.expandable ? (row.expanded ? g.expanded : g.collapsed) : " "
      x += screen.put(marker + " ", x: x, y: y, style: Theme.marker, limit: width - 1 - x)
      let label = view.label(row)
      let match = view.isMatch(r)
      let plain = match ? Theme.label.adding(.underline) : Theme.label
      x += screen.put(label, x: x, y: y, style: Theme.groupLabel, limit: width - 1 - x)
      let text = view.text(row)
      let style: Style = row.reference ? Theme.dim : (row.expandable ? plain : Theme.value)
      x += screen.put(
        text, x: x, y: y, style: match ? style.adding(.underline) : style, limit: width - 1 - x)
      if !row.reference, let note = view.outline.tensorNote(row.node), width - 1 - x > 8 {
        screen.put("  " + note, x: x, y: y, style: Theme.dim, limit: width - 1 - x)
      }
      if let mark = view.marks[row.node.index] {
        screen.put(
          mark.level == .dangerous ? "!" : "?", x: 0, y: y, style: Theme.mark(mark.level))
      }
      if r == view.focus {
        screen.restyle(x: 0, y: y, width: width) { $0.adding(.reverse) }
      }
    }
  }

  /// What the focused node is, where its opcode is, and what it points at.
  mutating func graphDetail(_ view: GraphView, _ gl: GraphLayout) {
    guard let row = view.focusedRow else { return }
    let outline = view.outline
    let id = row.node
    var lines: [[(String, Style)]] = []
    var first: [(String, Style)] = [(outline.kind(id), Theme.detailKey)]
    if outline.valid(id) {
      var offset = outline.graph.offset(of: id)
      let section = model.graphCheckpoint?.pickles.first { $0.nodes.contains(Int(id.index)) }
      // Numbered as `ptview dis` numbers it: from the record's start inside an archive.
      if let section, let format = model.graphCheckpoint?.format,
        format == .zip || format == .torchScript
      {
        offset -= Int(section.fileOffset)
      }
      first.append(("  at byte \(offset)", Theme.fieldName))
      if let section { first.append((" of " + section.name, Theme.fieldName)) }
    }
    if view.index.isShared(id) && outline.isAnchorable(id) {
      first.append(("  shared: &\(id.index), on \(view.index.uses[Int(id.index)]) rows", Theme.dim))
    }
    lines.append(first)
    if let mark = view.marks[id.index] {
      lines.append([
        (mark.level == .dangerous ? "dangerous: " : "suspicious: ", Theme.mark(mark.level)),
        (mark.text, .plain),
      ])
    }
    if row.reference {
      lines.append([
        ("Enter", Theme.hintKey), (" jumps to where it is shown; ", .plain),
        ("Backspace", Theme.hintKey), (" comes back", .plain),
      ])
    }
    if let note = outline.tensorNote(id) {
      var text = note
      if let t = outline.tensors[id], let s = t.storage {
        text += "  storage \(s.record)" + (t.offset != 0 ? " +\(t.offset)" : "")
      }
      lines.append([(text, .plain), ("  Tab: its key", Theme.dim)])
    }
    if let storage = outline.storages[id.index] {
      let size = outline.extents[storage.record]?.size
      lines.append([
        ("storage ", Theme.fieldName), (storage.record, Theme.detailKey),
        (
          "  " + (size.map(Format.bytes) ?? "missing from the archive") + ", "
            + "\(storage.numel) × \(storage.storageDType.shortName), saved on ", .plain
        ),
        (storage.location, Theme.device(storage.location)),
      ])
    }
    lines.append([("o", Theme.hintKey), (" shows the opcodes around it", Theme.dim)])
    for (i, y) in gl.pane.enumerated() where i < lines.count {
      var x = 1
      for (text, style) in lines[i] {
        x += screen.put(text, x: x, y: y, style: style, limit: width - 1 - x)
      }
    }
  }

  /// The disassembly around the focused node, its own opcodes highlighted, and for a tensor
  /// the first bytes of its storage.
  mutating func opcodePane(_ view: GraphView, _ gl: GraphLayout, separator: Int) {
    guard let window = view.opcodes else { return }
    let title = " opcodes · \(window.section) · ptview dis "
    screen.put(title, x: 2, y: separator, style: Theme.prompt, limit: width - 16)
    var lines = gl.pane.map { $0 }
    if let note = window.note {
      if let y = lines.first { screen.put(note, x: 1, y: y, style: Theme.dim, limit: width - 2) }
      return
    }
    var hexRows: [Int] = []
    if !window.hex.isEmpty && lines.count > window.hex.count + 3 {
      hexRows = Array(lines.suffix(window.hex.count + 1))
      lines.removeLast(window.hex.count + 1)
    }
    for (i, y) in lines.enumerated() where i < window.lines.count {
      let own = window.own.contains(i)
      screen.put(
        window.lines[i], x: 1, y: y, style: own ? Theme.chosen : .plain, limit: width - 2)
    }
    if let y = hexRows.first {
      screen.put("storage, first bytes:", x: 1, y: y, style: Theme.fieldName)
      for (i, line) in window.hex.enumerated() {
        screen.put(line, x: 1, y: hexRows[i + 1], style: Theme.dim, limit: width - 2)
      }
    }
  }

  mutating func graphStatus(_ view: GraphView) {
    let y = layout.status
    if model.status != nil {
      statusLine()
      return
    }
    // The way down to the focused row, as labels.
    var crumbs: [String] = []
    var at: Int? = view.focus
    while let r = at, view.rows.indices.contains(r) {
      var label = Substring(view.label(view.rows[r]))
      while let last = label.last, last == " " || last == ":" || last == "=" { label.removeLast() }
      crumbs.append(String(label))
      at = view.parentRow(of: r)
    }
    var right = ""
    if let search = view.search {
      right =
        "/\(search.query) · \(search.matches.count) match\(search.matches.count == 1 ? "" : "es")"
    }
    let rightWidth = right.isEmpty ? 0 : TextWidth.width(right) + 2
    screen.put(
      TextWidth.truncateLeft(
        crumbs.reversed().joined(separator: g.crumb), to: width - 2 - rightWidth),
      x: 1, y: y, style: Theme.dim)
    if !right.isEmpty {
      screen.put(right, x: width - 1 - TextWidth.width(right), y: y, style: Theme.dim)
    }
  }

  mutating func graphHints(_ view: GraphView) {
    guard !hintsTaken else { return }
    let onReference = view.focusedRow?.reference == true
    var items: [(String, String)] = [("Tab", "keys")]
    if !view.marks.isEmpty { items.append(("!", "findings")) }
    items += [
      ("Enter", onReference ? "jump" : "open"), ("Bksp", "back"), ("/", "search"),
      ("o", view.pane ? "close opcodes" : "opcodes"), ("?", "help"), ("q", "quit"),
    ]
    hintLine(items, y: layout.hints)
  }
}
