/// Statistics of a tensor's values, as `ptview stats` reports them: counts of every element,
/// NaNs, infinities and zeros, and the minimum, maximum, mean and sample standard deviation of
/// the finite values, in float64.
///
/// Values arrive in blocks. Each block is summed twice while it is still in cache (its mean,
/// then its squared deviations from that mean), and blocks are merged with Chan et al.'s
/// pairwise update. That keeps the variance accurate when the mean is large against the
/// spread (where summing squares cancels), and makes merging partial results from several
/// threads exact in form: results are merged in a fixed order, so they do not depend on
/// scheduling.
public struct ValueStatistics: Sendable, Equatable {
  /// Elements, finite or not.
  public var count: Int64 = 0
  /// NaN elements (complex: either part NaN).
  public var nan: Int64 = 0
  /// +infinity elements (complex: not NaN, a part is +infinity).
  public var posinf: Int64 = 0
  /// -infinity elements (complex: not NaN, no part +infinity, a part -infinity).
  public var neginf: Int64 = 0
  /// Elements equal to zero (complex: both parts).
  public var zeros: Int64 = 0
  /// Finite elements (the ones min, max, mean and std describe).
  public var finite: Int64 = 0
  /// Smallest finite value (+infinity while there is none).
  public var minimum: Double = .infinity
  /// Largest finite value (-infinity while there is none).
  public var maximum: Double = -.infinity
  /// Mean of the finite values (0 while there is none).
  public var runningMean: Double = 0
  /// Sum of squared deviations of the finite values from their mean.
  public var squaredDeviations: Double = 0

  /// Empty statistics.
  public init() {}

  /// The minimum, if any value is finite.
  public var min: Double? { finite > 0 ? minimum : nil }
  /// The maximum, if any value is finite.
  public var max: Double? { finite > 0 ? maximum : nil }
  /// The mean, if any value is finite.
  public var mean: Double? { finite > 0 ? runningMean : nil }
  /// The sample standard deviation (torch's default, correction 1), with two finite values or
  /// more (torch gives NaN for one).
  public var std: Double? {
    finite > 1 ? (squaredDeviations / Double(finite - 1)).squareRoot() : nil
  }

  /// Adds another part's statistics (Chan et al.'s update for the mean and deviations).
  public mutating func merge(_ other: ValueStatistics) {
    count = count.addingSaturated(other.count)
    nan = nan.addingSaturated(other.nan)
    posinf = posinf.addingSaturated(other.posinf)
    neginf = neginf.addingSaturated(other.neginf)
    zeros = zeros.addingSaturated(other.zeros)
    if other.finite > 0 {
      if finite == 0 {
        runningMean = other.runningMean
        squaredDeviations = other.squaredDeviations
      } else {
        let a = Double(finite)
        let b = Double(other.finite)
        let n = a + b
        let delta = other.runningMean - runningMean
        runningMean += delta * (b / n)
        squaredDeviations += other.squaredDeviations + delta * delta * (a * b / n)
      }
      finite = finite.addingSaturated(other.finite)
      if other.minimum < minimum { minimum = other.minimum }
      if other.maximum > maximum { maximum = other.maximum }
    }
  }

  /// The statistics of every value repeated `times` times (an expanded dimension).
  public func repeated(_ times: Int64) -> ValueStatistics {
    guard times != 1 else { return self }
    var out = self
    func scale(_ v: Int64) -> Int64 {
      let (p, overflow) = v.multipliedReportingOverflow(by: times)
      return overflow ? Int64.max : p
    }
    out.count = scale(count)
    out.nan = scale(nan)
    out.posinf = scale(posinf)
    out.neginf = scale(neginf)
    out.zeros = scale(zeros)
    out.finite = scale(finite)
    out.squaredDeviations = squaredDeviations * Double(times)
    if times == 0 { out = ValueStatistics() }
    return out
  }

  /// Adds `count` real values.
  public mutating func add(reals values: UnsafePointer<Double>, count n: Int) {
    guard n > 0 else { return }
    var block = ValueStatistics()
    block.count = Int64(n)
    let vectors = n / 4
    var sum = SIMD4<Double>(repeating: 0)
    var finite = SIMD4<Double>(repeating: 0)
    var zeros = SIMD4<Double>(repeating: 0)
    var low = SIMD4<Double>(repeating: .infinity)
    var high = SIMD4<Double>(repeating: -.infinity)
    let raw = UnsafeRawPointer(values)
    let one = SIMD4<Double>(repeating: 1)
    let none = SIMD4<Double>(repeating: 0)
    for v in 0..<vectors {
      let x = raw.loadUnaligned(fromByteOffset: v &* 32, as: SIMD4<Double>.self)
      // x - x is 0 for finite x and NaN for infinities and NaNs.
      let isFinite = (x - x) .== none
      sum += none.replacing(with: x, where: isFinite)
      finite += none.replacing(with: one, where: isFinite)
      zeros += none.replacing(with: one, where: x .== none)
      low.replace(with: x, where: isFinite .& (x .< low))
      high.replace(with: x, where: isFinite .& (x .> high))
    }
    var total = sum.sum()
    var finiteCount = finite.sum()
    var zeroCount = zeros.sum()
    var minimum = low.min()
    var maximum = high.max()
    for i in (vectors * 4)..<n {
      let x = values[i]
      if x == 0 { zeroCount += 1 }
      if x.isFinite {
        total += x
        finiteCount += 1
        if x < minimum { minimum = x }
        if x > maximum { maximum = x }
      }
    }
    block.finite = Int64(finiteCount)
    block.zeros = Int64(zeroCount)
    if block.finite < block.count {
      for i in 0..<n where !values[i].isFinite {
        if values[i].isNaN {
          block.nan += 1
        } else if values[i] > 0 {
          block.posinf += 1
        } else {
          block.neginf += 1
        }
      }
    }
    if block.finite > 0 {
      let mean = total / finiteCount
      block.minimum = minimum
      block.maximum = maximum
      block.runningMean = mean
      // Second pass while the block is in cache: squared deviations from the block's mean.
      let center = SIMD4<Double>(repeating: mean)
      var squares = SIMD4<Double>(repeating: 0)
      for v in 0..<vectors {
        let x = raw.loadUnaligned(fromByteOffset: v &* 32, as: SIMD4<Double>.self)
        let d = none.replacing(with: x - center, where: (x - x) .== none)
        squares += d * d
      }
      var deviations = squares.sum()
      for i in (vectors * 4)..<n where values[i].isFinite {
        let d = values[i] - mean
        deviations += d * d
      }
      block.squaredDeviations = deviations
    }
    merge(block)
  }

  /// Adds `count` complex values (counts only: complex tensors have no order).
  public mutating func add(
    real: UnsafePointer<Double>, imaginary: UnsafePointer<Double>, count n: Int
  ) {
    count = count.addingSaturated(Int64(n))
    for i in 0..<n {
      let re = real[i]
      let im = imaginary[i]
      if re.isNaN || im.isNaN {
        nan += 1
      } else if re == .infinity || im == .infinity {
        posinf += 1
      } else if re == -.infinity || im == -.infinity {
        neginf += 1
      } else if re == 0 && im == 0 {
        zeros += 1
      }
    }
  }
}

extension Int64 {
  /// `self + other`, clamped to Int64.max.
  fileprivate func addingSaturated(_ other: Int64) -> Int64 {
    let (sum, overflow) = addingReportingOverflow(other)
    return overflow ? Int64.max : sum
  }
}
