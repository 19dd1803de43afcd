/// Segments laid end to end (the parts of a concatenated source, the chunks of a write plan
/// read as a file): where each starts, and which one holds a byte. Kept apart so every
/// "several pieces read as one" source finds its piece the same way, by binary search.
public struct SegmentStarts: Sendable {
  /// Where each segment starts, in order.
  public let starts: [Int64]
  /// The length of all segments together.
  public let total: Int64

  public init(lengths: some Sequence<Int64>) {
    var starts: [Int64] = []
    var at: Int64 = 0
    for length in lengths {
      starts.append(at)
      at += length
    }
    self.starts = starts
    self.total = at
  }

  /// The last segment starting at or before `offset` (callers keep `offset` below `total`).
  public func segment(at offset: Int64) -> Int {
    var low = 0
    var high = starts.count - 1
    while low < high {
      let mid = (low + high + 1) / 2
      if starts[mid] <= offset { low = mid } else { high = mid - 1 }
    }
    return low
  }
}
