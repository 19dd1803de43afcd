/// Where a strided tensor's elements are in its storage: sizes, strides and a storage offset,
/// all in elements, as torch keeps them. Walking it yields runs of elements in logical
/// (row-major) order; views, transposes, expanded (zero) strides and overlapping strides are
/// all just layouts.
public struct StridedLayout: Sendable, Equatable {
  /// Sizes, outermost first.
  public var shape: [Int64]
  /// Strides in elements, one per size.
  public var strides: [Int64]
  /// Storage offset in elements.
  public var offset: Int64

  /// A layout; `validate` checks it against its storage before anything is read.
  public init(shape: [Int64], strides: [Int64], offset: Int64) {
    self.shape = shape
    self.strides = strides
    self.offset = offset
  }

  /// The row-major layout of `shape` at offset 0.
  public static func contiguous(_ shape: [Int64]) -> StridedLayout {
    var strides = [Int64](repeating: 1, count: shape.count)
    var running: Int64 = 1
    for i in shape.indices.reversed() {
      strides[i] = running
      running = running &* max(shape[i], 1)
    }
    return StridedLayout(shape: shape, strides: strides, offset: 0)
  }

  /// Number of elements (1 for a scalar), or nil when it overflows Int64.
  public var count: Int64? {
    var product: Int64 = 1
    for size in shape {
      let (p, overflow) = product.multipliedReportingOverflow(by: size)
      if overflow { return nil }
      product = p
    }
    return product
  }

  /// Why a layout cannot be read from its storage.
  public struct Problem: Error, Equatable, Sendable, CustomStringConvertible {
    /// What is wrong, in one line.
    public var message: String
    /// Creates a problem.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
  }

  /// Checks that every element lies inside a storage of `storageElements` elements: sizes,
  /// strides and offset non-negative, one stride per size, nothing overflowing. torch's
  /// `set_()` refuses the same views.
  public func validate(storageElements: Int64) throws(Problem) {
    guard shape.count == strides.count else {
      throw Problem("size has \(shape.count) dimensions but stride has \(strides.count)")
    }
    guard offset >= 0 else { throw Problem("negative storage offset \(offset)") }
    guard shape.allSatisfy({ $0 >= 0 }) else { throw Problem("negative size \(shape)") }
    guard strides.allSatisfy({ $0 >= 0 }) else { throw Problem("negative stride \(strides)") }
    guard let count else { throw Problem("shape \(shape) has more than 2^63 elements") }
    guard count > 0 else { return }
    guard let last = lastElement else {
      throw Problem("shape \(shape) with stride \(strides) overflows")
    }
    guard last < storageElements else {
      throw Problem(
        "shape \(shape) with stride \(strides) at offset \(offset) reaches element \(last) but the storage holds \(storageElements)"
      )
    }
  }

  /// The highest storage element the layout touches (nil on overflow; `offset` when empty).
  public var lastElement: Int64? {
    var last = offset
    for (size, stride) in zip(shape, strides) where size > 0 {
      let (step, o1) = (size - 1).multipliedReportingOverflow(by: stride)
      let (sum, o2) = last.addingReportingOverflow(step)
      if o1 || o2 { return nil }
      last = sum
    }
    return last
  }

  /// The same elements in the same order with as few dimensions as possible: sizes of 1
  /// dropped, and neighbours merged where the outer stride is the inner one times its size.
  public func coalesced() -> StridedLayout {
    if shape.contains(0) { return StridedLayout(shape: [0], strides: [1], offset: offset) }
    var outShape: [Int64] = []
    var outStrides: [Int64] = []
    for (size, stride) in zip(shape, strides) where size != 1 {
      if let lastSize = outShape.last, let lastStride = outStrides.last,
        lastStride == stride &* size
      {
        outShape[outShape.count - 1] = lastSize &* size
        outStrides[outStrides.count - 1] = stride
      } else {
        outShape.append(size)
        outStrides.append(stride)
      }
    }
    return StridedLayout(shape: outShape, strides: outStrides, offset: offset)
  }

  /// For order-free work (statistics): the layout with zero-stride dimensions removed and the
  /// rest ordered by decreasing stride, coalesced, and how many times each of its elements
  /// occurs in the original. The multiset of visited elements is the same, each element's
  /// occurrences multiplied by `multiplicity`; an expanded tensor of 10^12 elements over one
  /// stored value is one element with multiplicity 10^12.
  public func orderFree() -> (layout: StridedLayout, multiplicity: Int64) {
    if shape.contains(0) { return (StridedLayout(shape: [0], strides: [1], offset: offset), 1) }
    var multiplicity: Int64 = 1
    var dims: [(size: Int64, stride: Int64)] = []
    for (size, stride) in zip(shape, strides) where size != 1 {
      if stride == 0 {
        multiplicity =
          multiplicity.multipliedReportingOverflow(by: size).overflow
          ? Int64.max : multiplicity &* size
      } else {
        dims.append((size, stride))
      }
    }
    dims.sort { $0.stride > $1.stride }
    let layout = StridedLayout(shape: dims.map(\.size), strides: dims.map(\.stride), offset: offset)
    return (layout.coalesced(), multiplicity)
  }

  /// True when no two elements share a storage element (checked by a sufficient rule: with
  /// dimensions by increasing stride, each stride exceeds the reach of all smaller ones).
  /// Zero strides of sizes above 1 overlap.
  public var isNonOverlapping: Bool {
    var dims = zip(shape, strides).filter { $0.0 > 1 }
    dims.sort { $0.1 < $1.1 }
    var reach: Int64 = 0
    for (size, stride) in dims {
      guard stride > reach else { return false }
      let (span, overflow) = (size - 1).multipliedReportingOverflow(by: stride)
      if overflow { return false }
      reach = reach &+ span
    }
    return true
  }

  /// The runs of the layout in logical order, from logical element `start` up to (not
  /// including) `end`.
  public func runs(from start: Int64 = 0, to end: Int64? = nil) -> RunIterator {
    RunIterator(coalesced(), start: start, end: end)
  }
}

/// Elements at `start`, `start + step`, ... (`count` of them, storage element indices), the
/// `logicalStart`-th element of the tensor in row-major order first. `step` may be 0 (an
/// expanded dimension: the same element `count` times).
public struct ElementRun: Sendable, Equatable {
  /// Storage index of the first element.
  public var start: Int64
  /// Number of elements.
  public var count: Int64
  /// Distance between elements, in storage elements.
  public var step: Int64
  /// Row-major index of the first element in the tensor.
  public var logicalStart: Int64

  /// Creates a run.
  public init(start: Int64, count: Int64, step: Int64, logicalStart: Int64) {
    self.start = start
    self.count = count
    self.step = step
    self.logicalStart = logicalStart
  }

  /// Storage index of the last element.
  public var last: Int64 { start + (count - 1) * step }
}

/// Walks a coalesced layout's innermost dimension as runs, the outer ones as an odometer.
public struct RunIterator: Sendable, IteratorProtocol, Sequence {
  private let shape: [Int64]
  private let strides: [Int64]
  private var index: [Int64]
  private var position: Int64
  private let end: Int64
  private var base: Int64

  init(_ layout: StridedLayout, start: Int64, end: Int64?) {
    let total = layout.count ?? 0
    // A scalar is one run of one element.
    shape = layout.shape.isEmpty ? [1] : layout.shape
    strides = layout.strides.isEmpty ? [1] : layout.strides
    self.end = Swift.min(end ?? total, total)
    position = Swift.max(0, start)
    index = [Int64](repeating: 0, count: shape.count)
    base = layout.offset
    guard position < self.end else { return }
    var rest = position
    for d in shape.indices.reversed() {
      index[d] = rest % shape[d]
      rest /= shape[d]
      base = base &+ index[d] &* strides[d]
    }
  }

  /// The next run, or nil at the end.
  public mutating func next() -> ElementRun? {
    guard position < end else { return nil }
    let inner = shape.count - 1
    let count = Swift.min(shape[inner] - index[inner], end - position)
    let run = ElementRun(
      start: base, count: count, step: strides[inner], logicalStart: position)
    position += count
    // Advance the odometer past this run.
    index[inner] += count
    base = base &+ count &* strides[inner]
    var d = inner
    while d > 0 && index[d] == shape[d] {
      base = base &- index[d] &* strides[d]
      index[d] = 0
      d -= 1
      index[d] += 1
      base = base &+ strides[d]
    }
    return run
  }
}
