/// A terminal size in character cells.
public struct Size: Hashable, Sendable, CustomStringConvertible {
  /// Cells per row.
  public var columns: Int
  /// Rows.
  public var rows: Int

  /// Creates a size; negative values count as zero.
  public init(columns: Int, rows: Int) {
    self.columns = max(0, columns)
    self.rows = max(0, rows)
  }

  /// The size every test and the tmux runs use: the smallest the explorer promises to serve.
  public static let standard = Size(columns: 80, rows: 24)

  public var description: String { "\(columns)x\(rows)" }
}
