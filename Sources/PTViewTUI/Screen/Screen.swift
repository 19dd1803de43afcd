/// One character cell: a grapheme and its style. A wide grapheme's second cell holds the
/// empty string, so backends skip it and text readers see the row's true width.
public struct Cell: Hashable, Sendable {
  /// The grapheme drawn here ("" for the second half of a wide one).
  public var text: String
  /// Its style.
  public var style: Style

  /// Creates a cell.
  public init(_ text: String = " ", style: Style = .plain) {
    self.text = text
    self.style = style
  }
}

/// A frame: a grid of cells that `render` produces and a backend draws.
///
/// Keeping the frame a plain value is what makes the explorer testable: tests compare whole
/// screens as text (and styles as a second overlay) without any terminal.
public struct Screen: Hashable, Sendable {
  /// Its size.
  public let size: Size
  /// Cells in row-major order.
  public private(set) var cells: [Cell]

  /// A blank screen.
  public init(size: Size, style: Style = .plain) {
    self.size = size
    cells = Array(repeating: Cell(" ", style: style), count: size.columns * size.rows)
  }

  /// A screen holding `lines` in the default style, for building expectations in tests.
  public init(lines: [String], columns: Int? = nil) {
    let width = columns ?? lines.map { TextWidth.width($0) }.max() ?? 0
    self.init(size: Size(columns: width, rows: lines.count))
    for (y, line) in lines.enumerated() { put(line, x: 0, y: y, style: .plain) }
  }

  /// The cell at (`x`, `y`); a blank cell outside the screen.
  public subscript(x: Int, y: Int) -> Cell {
    guard x >= 0, y >= 0, x < size.columns, y < size.rows else { return Cell() }
    return cells[y * size.columns + x]
  }

  /// Writes `text` from (`x`, `y`), clipped to the screen and to `limit` cells.
  /// - Returns: the cells written.
  @discardableResult
  public mutating func put(_ text: String, x: Int, y: Int, style: Style, limit: Int? = nil) -> Int {
    guard y >= 0, y < size.rows else { return 0 }
    let end = min(size.columns, limit.map { x + max(0, $0) } ?? size.columns)
    var column = x
    for raw in text {
      let c = TextWidth.safe(raw)
      let w = TextWidth.width(c)
      if w == 0 {
        continue
      }
      if column + w > end { break }
      if column >= 0 {
        cells[y * size.columns + column] = Cell(String(c), style: style)
        if w == 2 { cells[y * size.columns + column + 1] = Cell("", style: style) }
      }
      column += w
    }
    return max(0, column - x)
  }

  /// Fills `width` cells of row `y` from `x` with spaces in `style`.
  public mutating func fill(x: Int, y: Int, width: Int, style: Style) {
    guard y >= 0, y < size.rows else { return }
    let start = max(0, x)
    let end = min(size.columns, x + width)
    guard start < end else { return }
    for column in start..<end { cells[y * size.columns + column] = Cell(" ", style: style) }
  }

  /// Changes the style of `width` cells of row `y` from `x`, keeping their text.
  public mutating func restyle(x: Int, y: Int, width: Int, _ change: (Style) -> Style) {
    guard y >= 0, y < size.rows else { return }
    let start = max(0, x)
    let end = min(size.columns, x + width)
    guard start < end else { return }
    for column in start..<end {
      let i = y * size.columns + column
      cells[i].style = change(cells[i].style)
    }
  }

  /// Every row as text, trailing spaces removed.
  public var lines: [String] {
    (0..<size.rows).map { line($0) }
  }

  /// Row `y` as text, trailing spaces removed.
  public func line(_ y: Int) -> String {
    guard y >= 0, y < size.rows else { return "" }
    var out = ""
    for x in 0..<size.columns { out += cells[y * size.columns + x].text }
    while out.last == " " { out.removeLast() }
    return out
  }

  /// Every row as one character per cell chosen by `code` (trailing spaces removed): a
  /// compact way to assert styles next to a text golden.
  public func styleLines(_ code: (Style) -> Character) -> [String] {
    (0..<size.rows).map { y in
      var out = ""
      for x in 0..<size.columns { out.append(code(cells[y * size.columns + x].style)) }
      while out.last == " " { out.removeLast() }
      return out
    }
  }

  /// The whole screen as text, one line per row.
  public var text: String { lines.joined(separator: "\n") }
}
