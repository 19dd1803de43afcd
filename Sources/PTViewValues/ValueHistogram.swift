/// How a tensor's finite values spread between their minimum and maximum: equal-width bins
/// over `low...high`, counted exactly. The explorer's values pane draws it as a sparkline.
///
/// The bounds come from a finished statistics pass (its exact minimum and maximum), so the
/// histogram is a second pass over the values (docs/decisions.md says why not a sample).
/// NaN and infinities are left out, as they are from min and max; a value outside the bounds
/// (which a correct first pass never gives) falls into the nearest end bin.
public struct ValueHistogram: Sendable, Hashable {
  /// The smallest finite value: the left edge of the first bin.
  public let low: Double
  /// The largest finite value: the right edge of the last bin (which includes it).
  public let high: Double
  /// Values per bin.
  public private(set) var counts: [Int64]

  /// An empty histogram of `bins` bins (at least 1) over `low...high`.
  public init(low: Double, high: Double, bins: Int) {
    self.low = low
    self.high = high
    counts = Array(repeating: 0, count: Swift.max(1, bins))
  }

  /// The bin of the finite value `x`. Halves before subtracting, so a range as wide as
  /// float64 itself (-1e308...1e308) does not overflow to infinity.
  @inline(__always)
  func bin(_ x: Double) -> Int {
    let span = high / 2 - low / 2
    guard span > 0 else { return 0 }
    let position = (x / 2 - low / 2) / span * Double(counts.count)
    if !(position > 0) { return 0 }
    return Swift.min(counts.count - 1, Int(position))
  }

  /// Counts `n` values (non-finite ones are skipped).
  public mutating func add(reals values: UnsafePointer<Double>, count n: Int) {
    for i in 0..<n where values[i].isFinite {
      counts[bin(values[i])] += 1
    }
  }

  /// Adds another part's counts (same bounds and bins).
  public mutating func merge(_ other: ValueHistogram) {
    for i in counts.indices where i < other.counts.count { counts[i] += other.counts[i] }
  }

  /// The histogram of every value repeated `times` times (an expanded dimension).
  public func repeated(_ times: Int64) -> ValueHistogram {
    var out = self
    for i in out.counts.indices {
      let (p, overflow) = out.counts[i].multipliedReportingOverflow(by: times)
      out.counts[i] = overflow ? Int64.max : p
    }
    return out
  }

  /// Counts `count` zeros (a sparse tensor's unstored elements), when 0 is within the bounds.
  public mutating func addZeros(_ count: Int64) {
    guard count > 0, low <= 0, high >= 0 else { return }
    counts[bin(0)] += count
  }

  /// Values counted.
  public var total: Int64 { counts.reduce(0, &+) }
}
