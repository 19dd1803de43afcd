import PTViewCore
public import PTViewValues

/// The values pane (`v`): what it shows and what it waits for. The shell computes; the pane
/// only asks (`ValuesRequest`) and keeps the answers of its current generation.
public struct ValuesPane: Sendable {
  /// How far the pane has got with its tensor.
  public enum Phase: Hashable, Sendable {
    /// No tensor selected (a container or a value row).
    case idle
    /// Reading: the statistics are still being computed.
    case reading
    /// The tensor has no values to read, and why.
    case unavailable(String)
    /// Reading failed.
    case failed(String)
    /// Statistics in.
    case done
  }

  /// Whether the pane is on screen.
  public var isOpen = false
  /// Raised at every new tensor (and on closing): answers for older generations are stale.
  public var generation = 0
  /// The tensor node shown (-1: none).
  public var node: Int32 = -1
  /// Where the pane has got.
  public var phase: Phase = .idle
  /// The statistics, once computed.
  public var statistics: ValueStatistics?
  /// The histogram, once computed (after the statistics: it needs their min and max).
  public var histogram: ValueHistogram?
  /// Progress of the statistics pass in bytes.
  public var progress: (done: Int64, total: Int64)?
  /// For rank 3 and up: the flat index over the leading dimensions of the 2-D slice shown.
  public var slice: Int64 = 0
  /// The first grid row and column on screen.
  public var top: Int64 = 0
  public var left: Int64 = 0
  /// The window last asked for, and the one whose values are here.
  public var requested: [ValueRun] = []
  public var loaded: [ValueRun] = []
  /// The elements of `loaded`, one array per run.
  public var values: [[ElementValue]] = []
  /// Why there is no grid, for a tensor with statistics but no grid of elements.
  public var gridNote: String?

  /// A closed pane.
  public init() {}

  /// Forgets the tensor (a new selection or a closed pane): a new generation.
  mutating func reset(node: Int32) {
    generation += 1
    self.node = node
    phase = node >= 0 ? .reading : .idle
    statistics = nil
    histogram = nil
    progress = nil
    slice = 0
    top = 0
    left = 0
    requested = []
    loaded = []
    values = []
    gridNote = nil
  }
}

/// A tensor's elements laid out as the pane's grid: a 1-D tensor wraps into rows of
/// `columns`, a 2-D one is its own grid, and from rank 3 one 2-D slice at a time (the leading
/// indices fixed, `[` and `]` step through them).
struct ValueGrid: Equatable {
  /// The shape.
  var shape: [Int64]
  /// Grid rows and columns (a 1-D tensor's last row may be short).
  var rows: Int64
  var columns: Int64
  /// 2-D slices (1 below rank 3).
  var slices: Int64
  /// Elements.
  var count: Int64

  /// The grid of `shape`; `wrap` is the row length for a 1-D tensor.
  init(shape: [Int64], wrap: Int64) {
    self.shape = shape
    count = shape.reduce(Int64(1)) { a, b in
      a.multipliedReportingOverflow(by: b).overflow ? .max : a * b
    }
    switch shape.count {
    case 0:
      (rows, columns, slices) = (1, 1, 1)
    case 1:
      columns = max(1, wrap)
      rows = (shape[0] + columns - 1) / columns
      slices = 1
    default:
      rows = shape[shape.count - 2]
      columns = shape[shape.count - 1]
      slices = rows * columns == 0 ? 0 : count / (rows * columns)
    }
    if count == 0 { (rows, slices) = (0, 0) }
  }

  /// The flat index of grid cell (`row`, `column`) of `slice`.
  func index(slice: Int64, row: Int64, column: Int64) -> Int64 {
    slice * rows * columns + row * columns + column
  }

  /// Elements in grid row `row` (all but a 1-D tensor's last are full).
  func length(ofRow row: Int64) -> Int64 {
    shape.count == 1 ? min(columns, count - row * columns) : columns
  }

  /// The leading indices of `slice`, for rank 3 and up: `[2, 0, :, :]`.
  func sliceText(_ slice: Int64) -> String {
    guard shape.count >= 3 else { return "" }
    var rest = slice
    var parts: [String] = []
    for size in shape.dropLast(2).reversed() {
      parts.append(String(size > 0 ? rest % size : 0))
      rest = size > 0 ? rest / size : 0
    }
    return "[" + (parts.reversed() + [":", ":"]).joined(separator: ", ") + "]"
  }
}

/// Where the pane's parts go inside its frame, for a tensor: shared by `update` (which window
/// to read) and `render` (what to draw), so they always agree.
struct ValuesGeometry {
  /// Cells for text inside the pane.
  var width: Int
  /// Lines of facts above the grid (dtype line, counts, min/max, histogram).
  var factLines: Int
  /// Grid rows on screen (0 when the pane is too short for a grid).
  var gridRows: Int
  /// Cells of the row labels.
  var labelWidth: Int
  /// Columns to read per row (more than fit, as their text width is known only once read).
  var readColumns: Int
  /// The grid.
  var grid: ValueGrid
}

extension Model {
  /// The tensor the pane shows: the focused row, when it is a tensor.
  var valuesTarget: Int32 {
    guard let id = focusedNode, tree[id].kind == .tensor, tree[id].entry >= 0 else { return -1 }
    return id
  }

  /// The geometry of the pane for tensor node `id` in the current layout.
  func valuesGeometry(_ id: Int32) -> ValuesGeometry? {
    guard let frame = layout.valuesPane, let entry = tree.entry(of: id) else { return nil }
    let t = entry.tensor
    let width = frame.contentWidth
    // Counts and min/max share a line when the pane is wide.
    let factLines = 1 + (width >= 110 ? 1 : 2) + 1
    let gridRows = max(0, frame.contentHeight - factLines - 1)
    let shape = t.layout == "nested" ? [] : t.shape
    // Row labels: flat indices for a 1-D tensor, row numbers otherwise.
    let largest = shape.isEmpty ? 1 : shape.count == 1 ? shape[0] : shape[shape.count - 2]
    let labelWidth = max(3, String(max(1, largest)).count)
    let cell = Self.estimatedCell(t.dtype.name)
    let room = max(1, width - labelWidth - 1)
    // A 1-D tensor wraps at a round number of elements that fits.
    let fit = max(1, room / (cell + 1))
    let wrap = [64, 50, 32, 20, 16, 10, 8, 5, 4, 2, 1].first { $0 <= fit } ?? 1
    let grid = ValueGrid(shape: shape, wrap: Int64(wrap))
    let readColumns = shape.count == 1 ? wrap : max(1, min(room / 2, 64))
    return ValuesGeometry(
      width: width, factLines: factLines, gridRows: gridRows, labelWidth: labelWidth,
      readColumns: readColumns, grid: grid)
  }

  /// A guess at a cell's width by dtype, for wrapping 1-D tensors (torch's fixed layout is
  /// `-0.1234`, its scientific one `-1.2345e-05`).
  static func estimatedCell(_ dtype: String) -> Int {
    switch dtype {
    case "bool": 5
    case "uint8": 3
    case "int8": 4
    case "int16", "uint16": 6
    case _ where dtype.hasPrefix("complex"): 22
    case _ where dtype.hasPrefix("int") || dtype.hasPrefix("uint"): 8
    default: 10
    }
  }

  /// The runs the grid on screen needs: one per visible row.
  func valuesWindow(_ id: Int32) -> [ValueRun] {
    guard let geometry = valuesGeometry(id), geometry.gridRows > 0 else { return [] }
    let grid = geometry.grid
    guard grid.count > 0 else { return [] }
    var runs: [ValueRun] = []
    let last = min(grid.rows, values.top + Int64(geometry.gridRows))
    var row = values.top
    while row < last {
      let length = grid.length(ofRow: row)
      let count = min(Int64(geometry.readColumns), length - values.left)
      if count > 0 {
        runs.append(
          ValueRun(
            from: grid.index(slice: values.slice, row: row, column: values.left),
            count: Int(count)))
      }
      row += 1
    }
    return runs
  }
}
