/// Where each part of the screen goes for a size. Shared by `render` and `update` (page
/// sizes, mouse clicks), so they always agree.
public struct Layout: Hashable, Sendable {
  /// The size.
  public var size: Size
  /// The header line.
  public var header: Int { 0 }
  /// The column titles.
  public var titles: Int { 1 }
  /// Tree rows.
  public var body: Range<Int>
  /// The line above the detail pane, if there is a pane.
  public var separator: Int?
  /// Detail pane lines.
  public var detail: Range<Int>
  /// The status line.
  public var status: Int
  /// The key hints.
  public var hints: Int
  /// The values pane (`v`), when open: see `Layout(_:valuesPane:)`.
  public var valuesPane: ValuesPaneFrame?

  /// The layout for `size`: the detail pane needs 16 rows and grows to 4 lines from 40.
  public init(_ size: Size) {
    self.size = size
    let rows = max(size.rows, 5)
    hints = rows - 1
    status = rows - 2
    let detailLines = rows >= 40 ? 4 : rows >= 16 ? 3 : 0
    if detailLines > 0 {
      detail = (status - detailLines)..<status
      separator = status - detailLines - 1
      body = 2..<(status - detailLines - 1)
    } else {
      detail = status..<status
      separator = nil
      body = 2..<status
    }
  }

  /// Rows for the tree (at least 1).
  public var bodyHeight: Int { max(1, body.count) }
}

/// The columns of the tree for a width: the key column takes what the others leave, and
/// wide terminals get wider columns and a size bar.
public struct Columns: Hashable, Sendable {
  /// First cell of the key column.
  public var key: Int = 1
  /// Width of the key column.
  public var keyWidth: Int
  /// dtype column.
  public var dtype: Int
  public var dtypeWidth: Int
  /// Shape column.
  public var shape: Int
  public var shapeWidth: Int
  /// Device column.
  public var device: Int
  public var deviceWidth: Int
  /// Bytes column (right-aligned).
  public var bytes: Int
  public var bytesWidth: Int = 8
  /// Size bar and share, when wide enough (width 0 otherwise).
  public var bar: Int
  public var barWidth: Int
  /// The file column of a folder's rows (width 0 for a single file).
  public var file: Int = 0
  public var fileWidth: Int = 0

  /// The columns for `width` cells.
  public init(width: Int) {
    let gap = 2
    dtypeWidth = width >= 120 ? 8 : 5
    shapeWidth = width >= 140 ? 22 : width >= 100 ? 16 : 13
    deviceWidth = width >= 120 ? 17 : 12
    barWidth = width >= 160 ? 26 : width >= 120 ? 17 : width >= 100 ? 12 : 0
    let fixed =
      1 + gap + dtypeWidth + gap + shapeWidth + gap + deviceWidth + gap + bytesWidth
      + (barWidth > 0 ? gap + barWidth : 0) + 1
    keyWidth = max(12, width - fixed)
    dtype = key + keyWidth + gap
    shape = dtype + dtypeWidth + gap
    device = shape + shapeWidth + gap
    bytes = device + deviceWidth + gap
    bar = bytes + bytesWidth + gap
  }

  /// Adds the FILE column of a folder (`longest`: its longest file name) at the right end:
  /// below 160 cells it takes the size bar's room, then what it needs from the keys (which
  /// keep at least 12 cells); the shard names are shortened to fit it.
  public mutating func addFile(width total: Int, longest: Int) {
    let gap = 2
    if barWidth > 0 && total < 160 {
      keyWidth += barWidth + gap
      barWidth = 0
    }
    let want = min(longest, total >= 160 ? 32 : total >= 120 ? 22 : total >= 100 ? 14 : 8)
    let taken = min(want + gap, keyWidth - 12)
    guard taken > gap else { return }
    keyWidth -= taken
    fileWidth = taken - gap
    dtype = key + keyWidth + gap
    shape = dtype + dtypeWidth + gap
    device = shape + shapeWidth + gap
    bytes = device + deviceWidth + gap
    file = bytes + bytesWidth + gap
    bar = file + fileWidth + gap
  }

  /// Widens the dtype column to `width` cells, taking them from the key column (which keeps
  /// at least 12).
  public mutating func widenDType(to width: Int) {
    let extra = min(width - dtypeWidth, keyWidth - 12)
    guard extra > 0 else { return }
    keyWidth -= extra
    dtype -= extra
    dtypeWidth += extra
  }
}
