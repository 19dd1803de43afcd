/// Where the values pane is: to the right of the tree on a wide terminal (the tree keeps
/// its columns, the detail pane stays below both), under the tree otherwise (in place of the
/// detail pane, whose facts the pane's first line repeats).
public struct ValuesPaneFrame: Hashable, Sendable {
  /// First column and line of the frame; line `y` is its title.
  public var x: Int
  public var y: Int
  /// Columns and lines, the title line included.
  public var width: Int
  public var height: Int
  /// Right of the tree (a border column at `x`), or under it.
  public var onRight: Bool

  /// First cell of the text inside.
  public var contentX: Int { onRight ? x + 2 : x + 1 }
  /// Cells for text inside.
  public var contentWidth: Int { max(1, onRight ? width - 3 : width - 2) }
  /// Lines for text inside (below the title).
  public var contentHeight: Int { max(0, height - 1) }
}

extension Layout {
  /// The smallest terminal width that puts the pane on the right: the tree keeps about 80
  /// columns, the pane gets the rest (at least 64).
  static let valuesOnRightFrom = 150

  /// The layout for `size`, with the values pane when `valuesPane` is true (and the terminal
  /// has room for it: at least 10 lines).
  public init(_ size: Size, valuesPane: Bool) {
    self.init(size)
    guard valuesPane else { return }
    let rows = max(size.rows, 5)
    if size.columns >= Self.valuesOnRightFrom && rows >= 16 {
      let width = max(64, size.columns * 45 / 100)
      let end = separator ?? status
      self.valuesPane = ValuesPaneFrame(
        x: size.columns - width, y: titles, width: width, height: end - titles, onRight: true)
      return
    }
    // Under the tree: lines between the titles and the status line are shared, about half
    // each (the pane a little more); from 40 lines the pane has 17.
    let shared = status - body.lowerBound
    let height = shared >= 38 ? 17 : min(shared - 3, shared * 60 / 100)
    guard height >= 3 else { return }
    self.valuesPane = ValuesPaneFrame(
      x: 0, y: status - height, width: size.columns, height: height, onRight: false)
    body = body.lowerBound..<(status - height)
    separator = nil
    detail = status..<status
  }

  /// Columns the tree has (all of them, unless the values pane is on the right).
  public var treeWidth: Int {
    guard let pane = valuesPane, pane.onRight else { return size.columns }
    return pane.x
  }
}
