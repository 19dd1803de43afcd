import PTViewCore
import PTViewValues

/// Styles of the values pane and of the full-file check's marks.
extension Theme {
  /// Rows holding NaN (`N`) or Inf (`I`): magenta and bold, apart from the safety marks' red
  /// and yellow (bold keeps them visible under `NO_COLOR`).
  static let nonFinite = Style(foreground: .magenta, attributes: [.bold])
  /// A count of NaN or Inf above zero.
  static let alarm = Style(foreground: .red, attributes: [.bold])
  static let sparkline = Style(foreground: .blue)
  static let gridLabel = Style(attributes: [.dim])
}

extension Renderer {
  /// Column of the full-file check's marks (the tree shifts one cell right when there are
  /// marks, after the safety gutter).
  static let valueMarkColumn = 1

  /// The full-file check's mark on a tree row: its own, or for a folded row the worst below.
  mutating func valueMark(_ id: Int32, isOpen: Bool, y: Int) {
    guard model.valueCheck.hasMarks else { return }
    let check = model.valueCheck
    let mark =
      isOpen && tree[id].isExpandable ? check.mark(of: id) : check.markBelow(id)
    guard mark != .none else { return }
    screen.put(mark == .nan ? "N" : "I", x: Self.valueMarkColumn, y: y, style: Theme.nonFinite)
  }

  /// Draws the values pane in its frame.
  mutating func valuesPane() {
    guard let frame = layout.valuesPane else { return }
    for y in frame.y..<(frame.y + frame.height) {
      screen.fill(x: frame.x, y: y, width: frame.width, style: .plain)
    }
    let pane = model.values
    let key = pane.node >= 0 ? tree[pane.node].key : ""
    if frame.onRight {
      for y in (frame.y + 1)..<(frame.y + frame.height) {
        screen.put(g.vertical, x: frame.x, y: y, style: Theme.separator)
      }
      var x = frame.contentX
      x += screen.put("VALUES", x: x, y: frame.y, style: Theme.titles)
      if !key.isEmpty {
        screen.put(
          "  " + TextWidth.truncateLeft(key, to: max(8, frame.contentWidth - 8)), x: x,
          y: frame.y, style: Theme.detailKey, limit: frame.x + frame.width - x)
      }
    } else {
      screen.put(
        String(repeating: g.horizontal, count: width), x: 0, y: frame.y, style: Theme.separator)
      var title = " values "
      if !key.isEmpty { title += "· " + key + " " }
      let position = model.rows.isEmpty ? "" : " \(model.focus + 1)/\(model.rows.count) "
      let room = width - TextWidth.width(position) - 6
      screen.put(
        TextWidth.truncateLeft(title, to: max(8, room)), x: 2, y: frame.y,
        style: isGridFocused ? Theme.prompt.adding(.reverse) : Theme.prompt)
      if !position.isEmpty {
        screen.put(
          position, x: width - TextWidth.width(position) - 2, y: frame.y, style: Theme.separator)
      }
    }
    if frame.onRight && isGridFocused {
      screen.restyle(x: frame.contentX, y: frame.y, width: 6) { $0.adding(.reverse) }
    }
    let lines = valuesLines()
    for (i, line) in lines.enumerated() where i < frame.contentHeight {
      var x = frame.contentX
      let end = frame.contentX + frame.contentWidth
      for (text, style) in line {
        guard x < end else { break }
        x += screen.put(text, x: x, y: frame.y + 1 + i, style: style, limit: end - x)
      }
    }
  }

  var isGridFocused: Bool {
    if case .values = model.mode { return true }
    return false
  }

  /// The pane's lines under its title.
  func valuesLines() -> [[(String, Style)]] {
    let pane = model.values
    guard pane.node >= 0, let entry = tree.entry(of: pane.node),
      let geometry = model.valuesGeometry(pane.node)
    else {
      return [[("Select a tensor to see its values.", Theme.dim)]]
    }
    let t = entry.tensor
    let grid = geometry.grid
    // A nested tensor's elements are its buffer's.
    let elements = t.layout == "nested" ? t.components.first?.numel ?? 0 : t.numel
    var first: [(String, Style)] = [
      (t.dtype.name, .plain), ("  ", .plain),
      (t.layout == "nested" ? "nested" : Format.compactShape(t.shape), .plain),
      ("  " + Format.count(elements) + " elements", Theme.dim),
    ]
    if grid.slices > 1 {
      first += [
        ("  slice ", Theme.fieldName), (grid.sliceText(pane.slice), Theme.detailKey),
        (" of \(grid.slices)", Theme.dim),
      ]
    }
    var lines = [first]
    switch pane.phase {
    case .idle:
      return lines
    case .unavailable(let why):
      lines.append([(why.prefix(1).uppercased() + why.dropFirst() + ".", Theme.pending)])
      return lines
    case .failed(let why):
      lines.append([("Cannot read the values: " + why, Theme.status(.error))])
      return lines
    case .reading, .done:
      break
    }
    lines += statisticsLines(geometry)
    while lines.count < geometry.factLines { lines.append([]) }
    lines += gridLines(geometry)
    return lines
  }

  /// Counts, min/max/mean/std (as `ptview stats` writes them) and the histogram.
  func statisticsLines(_ geometry: ValuesGeometry) -> [[(String, Style)]] {
    let pane = model.values
    guard let s = pane.statistics else {
      var text = "computing statistics…"
      if let (done, total) = pane.progress, total > 0 {
        text += " \(Int(Double(min(done, total)) / Double(total) * 100))%"
      }
      return [[(text, Theme.dim)]]
    }
    func count(_ name: String, _ value: Int64, alarm: Bool) -> [(String, Style)] {
      [(name + " ", Theme.fieldName), (String(value), alarm && value > 0 ? Theme.alarm : .plain)]
    }
    var counts: [(String, Style)] = count("count", s.count, alarm: false)
    for (name, value) in [("nan", s.nan), ("+inf", s.posinf), ("-inf", s.neginf)] {
      counts.append(("  ", .plain))
      counts += count(name, value, alarm: true)
    }
    counts.append(("  ", .plain))
    counts += count("zeros", s.zeros, alarm: false)
    var numbers: [(String, Style)] = []
    for (i, (name, value)) in [("min", s.min), ("max", s.max), ("mean", s.mean), ("std", s.std)]
      .enumerated()
    {
      numbers += [
        ((i == 0 ? "" : "  ") + name + " ", Theme.fieldName), (Format.statistic(value), .plain),
      ]
    }
    var lines: [[(String, Style)]] =
      geometry.factLines == 3 ? [counts + [("   ", .plain)] + numbers] : [counts, numbers]
    let complex = tree.entry(of: pane.node)?.tensor.dtype.name.hasPrefix("complex") ?? false
    if complex {
      lines.append([("complex: counts only", Theme.dim)])
    } else if s.finite == 0 {
      lines.append([("no finite values", Theme.dim)])
    } else if let histogram = pane.histogram {
      let cells = max(8, geometry.width - 6)
      lines.append([
        ("hist ", Theme.fieldName), (sparkline(histogram, cells: cells), Theme.sparkline),
      ])
    } else {
      lines.append([("hist ", Theme.fieldName), ("…", Theme.dim)])
    }
    return lines
  }

  /// The histogram in `cells` cells (bins merged when there are more), each an eighth-block
  /// by its share of the fullest cell; a non-empty cell is never blank.
  func sparkline(_ histogram: ValueHistogram, cells: Int) -> String {
    let bins = histogram.counts
    var merged = [Int64](repeating: 0, count: min(cells, bins.count))
    for (i, n) in bins.enumerated() { merged[i * merged.count / bins.count] += n }
    let top = max(1, merged.max() ?? 1)
    let levels =
      model.settings.asciiOnly
      ? [" ", ".", ".", ":", "-", "=", "+", "*", "#"]
      : [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
    // Few bins are widened to fill the cells.
    let each = max(1, cells / merged.count)
    return merged.map { n in
      guard n > 0 else { return String(repeating: levels[0], count: each) }
      return String(
        repeating: levels[max(1, Int((Double(n) / Double(top) * 8).rounded()))], count: each)
    }.joined()
  }

  /// The column header and the rows of the grid on screen, formatted as torch prints them
  /// (one layout for the window: fixed, scientific or integral, as `print` would choose).
  func gridLines(_ geometry: ValuesGeometry) -> [[(String, Style)]] {
    let pane = model.values
    let grid = geometry.grid
    guard geometry.gridRows > 0 else { return [] }
    if let note = pane.gridNote { return [[(note, Theme.dim)]] }
    guard grid.count > 0 else { return [[("(no elements)", Theme.dim)]] }
    guard !pane.loaded.isEmpty, pane.loaded == pane.requested,
      let entry = tree.entry(of: pane.node)
    else {
      return [[("reading…", Theme.dim)]]
    }
    // torch picks one layout for what it prints: here, for the cells on screen. How many fit
    // depends on their width, which depends on the layout: settle it in a few rounds.
    let dtype = PrintDType(torchName: entry.tensor.dtype.name)
    let room = geometry.width - geometry.labelWidth - 1
    let widest = pane.values.reduce(1) { max($0, $1.count) }
    func layout(_ n: Int) -> (texts: [[String]], cell: Int, fit: Int) {
      let visible = pane.values.map { Array($0.prefix(n)) }
      let flat = visible.flatMap { $0 }
      let formatted =
        dtype.map { TensorPrinter.elementTexts(flat, dtype: $0).texts } ?? flat.map { "\($0)" }
      var texts: [[String]] = []
      var at = 0
      for row in visible {
        texts.append(Array(formatted[at..<(at + row.count)]))
        at += row.count
      }
      let cell = formatted.reduce(1) { max($0, TextWidth.width($1)) }
      return (texts, cell, min(widest, max(1, (room + 2) / (cell + 2))))
    }
    var shown = widest
    var result = layout(shown)
    var tried: Set<Int> = [shown]
    while result.fit != shown && tried.count < 8 {
      // Fewer cells may pick a narrower layout that fits more; stop where it settles.
      if result.fit > shown && tried.contains(result.fit) { break }
      let again = tried.contains(result.fit)
      shown = result.fit
      tried.insert(shown)
      result = layout(shown)
      if again { break }
    }
    shown = min(shown, result.fit)
    let (texts, cell) = (result.texts, result.cell)
    var lines: [[(String, Style)]] = []
    // Column numbers, right-aligned over their cells (`+3` for a wrapped 1-D tensor).
    var header = String(repeating: " ", count: geometry.labelWidth + 1)
    let firstColumn = pane.left
    for c in 0..<Int64(shown) where firstColumn + c < grid.columns {
      let label = (grid.shape.count == 1 ? "+" : "") + String(firstColumn + c)
      header += (c == 0 ? "" : "  ") + TextWidth.padLeft(label, to: cell)
    }
    lines.append([(header, Theme.gridLabel)])
    for (r, run) in pane.loaded.enumerated() {
      let row = pane.top + Int64(r)
      let label =
        grid.shape.count == 1 ? String(row * grid.columns) : String(row)
      var line: [(String, Style)] = [
        (TextWidth.padLeft(label, to: geometry.labelWidth) + " ", Theme.gridLabel)
      ]
      for c in 0..<min(shown, run.count, texts[r].count) {
        let value = pane.values[r][c]
        line.append(
          ((c == 0 ? "" : "  ") + TextWidth.padLeft(texts[r][c], to: cell), style(of: value)))
      }
      lines.append(line)
    }
    return lines
  }

  /// NaN and infinities stand out in the grid.
  func style(of value: ElementValue) -> Style {
    switch value {
    case .float(let v) where !v.isFinite: Theme.nonFinite
    case .complex(let re, let im) where !re.isFinite || !im.isFinite: Theme.nonFinite
    default: .plain
    }
  }
}
