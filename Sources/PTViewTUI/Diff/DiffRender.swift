import PTViewCore

/// Styles of the diff view: each mark has a colour and an attribute, so `NO_COLOR` keeps them.
enum DiffTheme {
  static let removed = Style(foreground: .red, attributes: [.bold])
  static let added = Style(foreground: .green, attributes: [.bold])
  static let changed = Style(foreground: .yellow, attributes: [.bold])
  static let change = Style(foreground: .yellow)

  static func mark(_ status: DiffReport.Status) -> (String, Style) {
    switch status {
    case .onlyA: ("-", removed)
    case .onlyB: ("+", added)
    case .changed: ("~", changed)
    case .same: ("=", Theme.dim)
    }
  }
}

extension DiffModel {
  /// The frame for the current state.
  public func render() -> Screen {
    var screen = Screen(size: size)
    guard size.rows >= 3, size.columns >= 10 else {
      screen.put("ptview diff", x: 0, y: 0, style: .plain)
      return screen
    }
    let glyphs = asciiOnly ? Glyphs.ascii : Glyphs.unicode
    drawHeader(&screen)
    if showingHelp {
      drawHelp(&screen)
    } else {
      drawList(&screen)
      drawDetails(&screen, glyphs: glyphs)
    }
    if asciiOnly { screen.asciiOnly() }
    return screen
  }

  private func drawHeader(_ screen: inout Screen) {
    screen.fill(x: 0, y: 0, width: size.columns, style: Theme.header)
    var x = 1
    x += screen.put("diff", x: x, y: 0, style: Theme.headerTitle)
    x += screen.put("  A ", x: x, y: 0, style: Theme.header)
    let counts =
      report.isIdentical
      ? "identical: \(report.rows.count) tensors"
      : "-\(report.onlyA.count) +\(report.onlyB.count) ~\(report.changed.count) =\(report.identicalCount)"
    // Long paths keep their ends (the file names), sharing what the counts leave.
    let room = max(8, (size.columns - 16 - TextWidth.width(counts)) / 2)
    x += screen.put(TextWidth.truncateLeft(nameA, to: room), x: x, y: 0, style: Theme.headerTitle)
    x += screen.put("  B ", x: x, y: 0, style: Theme.header)
    x += screen.put(TextWidth.truncateLeft(nameB, to: room), x: x, y: 0, style: Theme.headerTitle)
    let width = TextWidth.width(counts)
    let at = max(x + 2, size.columns - width - 1)
    screen.put(counts, x: at, y: 0, style: report.isIdentical ? Theme.chipGood : Theme.header)
  }

  /// Width of the key column: the longest key shown, within half the screen.
  private var keyWidth: Int {
    let longest = visible.reduce(3) { widest, line in
      guard case .row(let index) = line else { return widest }
      return max(widest, TextWidth.width(report.rows[index].key))
    }
    return min(longest, max(10, size.columns / 2))
  }

  private func drawList(_ screen: inout Screen) {
    let keyColumn = 3
    let changeColumn = keyColumn + keyWidth + 2
    screen.put("KEY", x: keyColumn, y: 1, style: Theme.titles)
    screen.put("DIFFERENCE", x: changeColumn, y: 1, style: Theme.titles)
    let lines = visible
    for row in 0..<listHeight {
      let index = top + row
      guard index < lines.count else { break }
      let y = 2 + row
      switch lines[index] {
      case .row(let at):
        let item = report.rows[at]
        let (mark, markStyle) = DiffTheme.mark(item.status)
        let dim = item.status == .same
        screen.put(mark, x: 1, y: y, style: markStyle)
        screen.put(
          TextWidth.truncateLeft(item.key, to: keyWidth), x: keyColumn, y: y,
          style: dim ? Theme.dim : .plain)
        let text: String
        let style: Style
        switch item.status {
        case .onlyA: (text, style) = ("only in A", DiffTheme.removed)
        case .onlyB: (text, style) = ("only in B", DiffTheme.added)
        case .changed: (text, style) = (DiffReport.describe(item), DiffTheme.change)
        case .same: (text, style) = (item.note ?? "same", Theme.dim)
        }
        screen.put(text, x: changeColumn, y: y, style: style)
      case .folded(let count):
        screen.put(
          "… \(count) unchanged key\(count == 1 ? "" : "s") (u shows them)", x: keyColumn, y: y,
          style: Theme.dim)
      }
      if index == cursor {
        screen.restyle(x: 0, y: y, width: size.columns) { $0.adding(.reverse) }
      }
    }
  }

  private func drawDetails(_ screen: inout Screen, glyphs: Glyphs) {
    let separatorRow = 2 + listHeight
    guard separatorRow < size.rows else { return }
    let position = " \(visible.isEmpty ? 0 : cursor + 1)/\(visible.count) "
    let rule = String(
      repeating: glyphs.horizontal,
      count: max(0, size.columns - TextWidth.width(position) - 2))
    screen.put(
      rule + position + glyphs.horizontal + glyphs.horizontal, x: 0, y: separatorRow,
      style: Theme.separator)
    var y = separatorRow + 1
    func line(_ text: String, _ style: Style = .plain) {
      guard y < size.rows - 1 else { return }
      screen.put(text, x: 1, y: y, style: style)
      y += 1
    }
    if let row = selectedRow {
      line(row.key, Theme.detailKey)
      line("A  " + (row.a.map(Self.summary) ?? "(no such key)"))
      line("B  " + (row.b.map(Self.summary) ?? "(no such key)"))
      switch row.status {
      case .onlyA: line("only in A", DiffTheme.removed)
      case .onlyB: line("only in B", DiffTheme.added)
      case .changed: line(DiffReport.describe(row), DiffTheme.change)
      case .same: line(row.note ?? "identical: dtype, shape, device and values", Theme.dim)
      }
    } else if case .folded(let count)? = visible.indices.contains(cursor) ? visible[cursor] : nil {
      line("\(count) key\(count == 1 ? "" : "s") with the same dtype, shape, device and values")
    }
    drawHints(&screen)
  }

  private func drawHints(_ screen: inout Screen) {
    let y = size.rows - 1
    if let searchText {
      let x = 1 + screen.put("/", x: 1, y: y, style: Theme.prompt)
      let shown = x + screen.put(searchText, x: x, y: y, style: .plain)
      screen.put(" ", x: shown, y: y, style: Theme.cursor)
      return
    }
    if searchMissed {
      screen.put("no key contains \(lastSearch)", x: 1, y: y, style: Theme.status(.warning))
      return
    }
    let hints: [(String, String)] = [
      ("↑↓", "move"), ("n/N", "next/prev difference"),
      ("u", showUnchanged ? "fold unchanged" : "show unchanged"), ("/", "search"),
      ("?", "keys"), ("q", "quit"),
    ]
    var x = 1
    for (key, what) in hints {
      x += screen.put(key, x: x, y: y, style: Theme.hintKey)
      x += screen.put(" " + what + "  ", x: x, y: y, style: Theme.hintText)
    }
  }

  private func drawHelp(_ screen: inout Screen) {
    screen.put("Keys of the diff view", x: 1, y: 2, style: Theme.titles)
    var y = 4
    for (keys, what) in Self.keys where y < size.rows - 1 {
      screen.put(keys, x: 3, y: y, style: Theme.hintKey)
      screen.put(what, x: 22, y: y, style: Theme.hintText)
      y += 1
    }
    if y + 1 < size.rows - 1 {
      screen.put(
        "Marks: - only in A, + only in B, ~ changed, = unchanged (dim)", x: 1, y: y + 1,
        style: Theme.dim)
    }
    screen.put("any key closes this list", x: 1, y: size.rows - 1, style: Theme.dim)
  }

  /// `float32  [4, 5]  cuda:0`.
  static func summary(_ tensor: TensorInfo) -> String {
    "\(tensor.dtype.name)  \(Format.shape(tensor.shape))  \(tensor.device)"
  }
}
