public import PTViewCore

/// The state of `ptview diff`'s explorer view: one merged list of both files' keys with change
/// marks (`-` only in A, `+` only in B, `~` changed, unchanged dimmed), a cursor, and the
/// details of the selected key. Pure like the main explorer's `Model`: messages in, a frame
/// out; `DiffRuntime` runs it on a terminal.
public struct DiffModel: Sendable {
  /// The comparison shown.
  public let report: DiffReport
  /// The two files as the user named them.
  public let nameA: String
  public let nameB: String
  /// The terminal size.
  public var size: Size
  /// Whether unchanged keys are listed (dimmed) or folded into one count line.
  public var showUnchanged: Bool
  /// Whether the key list overlay is up.
  public var showingHelp = false
  /// The search being typed after `/` (nil when not typing).
  public private(set) var searchText: String?
  /// The last search, which `/` then Enter repeats.
  public private(set) var lastSearch = ""
  /// Set when a search found nothing, for the hint line.
  public private(set) var searchMissed = false
  /// Plain ASCII glyphs (a terminal whose locale is not UTF-8).
  public var asciiOnly: Bool
  /// Index into `visible` of the selected line.
  public private(set) var cursor = 0
  /// Index into `visible` of the first line shown.
  public private(set) var top = 0

  /// A model for `report`; unchanged keys start folded when anything differs.
  public init(
    report: DiffReport, nameA: String, nameB: String, size: Size, asciiOnly: Bool = false
  ) {
    self.report = report
    self.nameA = nameA
    self.nameB = nameB
    self.size = size
    self.asciiOnly = asciiOnly
    showUnchanged = report.isIdentical
  }

  /// One line of the list: a row of the report, or the count of folded unchanged keys.
  public enum Line: Sendable, Equatable {
    case row(Int)
    case folded(Int)
  }

  /// The lines the list shows, in order.
  public var visible: [Line] {
    var lines: [Line] = []
    var hidden = 0
    for (index, row) in report.rows.enumerated() {
      if row.status == .same && !showUnchanged {
        hidden += 1
      } else {
        lines.append(.row(index))
      }
    }
    if hidden > 0 { lines.append(.folded(hidden)) }
    return lines
  }

  /// The report row under the cursor, if the cursor is on one.
  public var selectedRow: DiffReport.Row? {
    let lines = visible
    guard cursor < lines.count, case .row(let index) = lines[cursor] else { return nil }
    return report.rows[index]
  }

  /// Rows of the screen the list gets: all but the header, the column titles, the separator,
  /// the four detail lines and the hint line.
  var listHeight: Int { max(1, size.rows - 8) }

  /// Applies `message`; returns false when the view should close.
  public mutating func update(_ message: Message) -> Bool {
    switch message {
    case .resize(let newSize):
      size = newSize
    case .key(let key):
      if searchText != nil {
        typeSearch(key)
        return true
      }
      searchMissed = false
      if showingHelp {
        showingHelp = false
        return key != .character("q")
      }
      return press(key)
    case .mouse(let event):
      switch event {
      case .wheelUp: move(by: -3)
      case .wheelDown: move(by: 3)
      case .click(_, let y), .doubleClick(_, let y):
        let line = top + y - 2
        if y >= 2, y < 2 + listHeight, line < visible.count { move(to: line) }
      }
    default:
      break
    }
    return true
  }

  private mutating func press(_ key: KeyEvent) -> Bool {
    switch key {
    case .character("q"), .escape, .control("c"): return false
    case .up, .character("k"): move(by: -1)
    case .down, .character("j"): move(by: 1)
    case .pageUp, .control("b"): move(by: -listHeight)
    case .pageDown, .control("f"), .character(" "): move(by: listHeight)
    case .home, .character("g"): move(to: 0)
    case .end, .character("G"): move(to: visible.count - 1)
    case .character("n"): jumpToChange(forward: true)
    case .character("N"), .character("p"): jumpToChange(forward: false)
    case .character("u"):
      toggleUnchanged()
    case .enter where isOnFold:
      toggleUnchanged()
    case .character("?"): showingHelp = true
    case .character("/"): searchText = ""
    default: break
    }
    return true
  }

  /// A key while the search is typed: text, Backspace, Enter (search; an empty text repeats
  /// the last search), Esc (cancel).
  private mutating func typeSearch(_ key: KeyEvent) {
    switch key {
    case .character(let c):
      searchText?.append(c)
    case .backspace:
      if searchText?.isEmpty == false { searchText?.removeLast() }
    case .escape, .control("c"):
      searchText = nil
    case .enter:
      let text = searchText ?? ""
      searchText = nil
      if !text.isEmpty { lastSearch = text }
      search(lastSearch)
    default:
      break
    }
  }

  /// Selects the next key (after the cursor, wrapping) containing `text`, ignoring case;
  /// unchanged keys are shown first when the match is among them.
  private mutating func search(_ text: String) {
    guard !text.isEmpty else { return }
    let needle = text.lowercased()
    let rows = report.rows
    let current: Int = {
      let lines = visible
      guard cursor < lines.count, case .row(let index) = lines[cursor] else { return -1 }
      return index
    }()
    for step in 1...max(1, rows.count) {
      let index = (current + step + rows.count) % rows.count
      guard rows[index].key.lowercased().contains(needle) else { continue }
      if rows[index].status == .same && !showUnchanged { showUnchanged = true }
      if let at = visible.firstIndex(of: .row(index)) { move(to: at) }
      return
    }
    searchMissed = true
  }

  private var isOnFold: Bool {
    let lines = visible
    guard cursor < lines.count, case .folded = lines[cursor] else { return false }
    return true
  }

  /// Shows or folds the unchanged keys, keeping the selected key selected.
  private mutating func toggleUnchanged() {
    let selected: Int? = {
      let lines = visible
      guard cursor < lines.count, case .row(let index) = lines[cursor] else { return nil }
      return index
    }()
    showUnchanged.toggle()
    let lines = visible
    if let selected, let at = lines.firstIndex(of: .row(selected)) {
      move(to: at)
    } else {
      move(to: min(cursor, lines.count - 1))
    }
  }

  /// The next (or previous) key that differs, wrapping around.
  private mutating func jumpToChange(forward: Bool) {
    let lines = visible
    guard !lines.isEmpty else { return }
    for step in 1...lines.count {
      let at = (cursor + (forward ? step : -step) % lines.count + lines.count) % lines.count
      if case .row(let index) = lines[at], report.rows[index].status != .same {
        move(to: at)
        return
      }
    }
  }

  private mutating func move(by delta: Int) { move(to: cursor + delta) }

  private mutating func move(to line: Int) {
    let count = visible.count
    cursor = max(0, min(count - 1, line))
    if cursor < top { top = cursor }
    if cursor >= top + listHeight { top = cursor - listHeight + 1 }
    top = max(0, min(top, max(0, count - listHeight)))
  }

  /// The section of docs/keys.md about this view.
  static var markdown: String {
    var out = """

      ## The diff view

      `ptview diff A B` on a terminal opens one merged list of both files' keys: `-` only in
      A (red), `+` only in B (green), `~` changed (yellow) with what changed (dtype, shape,
      device, values with the largest |a-b|), `=` unchanged (dim). When anything differs, the
      unchanged keys start folded into one line. The pane below shows the selected key's
      dtype, shape and device in A and in B. The exit status is the same as the text's.

      | Keys | Action |
      |---|---|

      """
    for (keys, what) in keys { out += "| `\(keys)` | \(what) |\n" }
    return out
  }

  /// The keys of the view, for `?` and docs/keys.md.
  public static let keys: [(keys: String, what: String)] = [
    ("↑ ↓  j k", "move"),
    ("PgUp PgDn  Space", "page"),
    ("Home End  g G", "first, last"),
    ("n  N", "next, previous difference"),
    ("u", "show or fold unchanged keys (Enter on the fold too)"),
    ("/", "search keys (Enter: next match; / Enter: again)"),
    ("?", "this list"),
    ("q  Esc", "quit"),
  ]
}
