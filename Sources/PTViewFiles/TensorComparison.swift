public import PTViewCore
public import PTViewValues

#if canImport(Glibc)
  import Glibc
#endif

/// How two tensors' values compare, element by element in row-major order.
public struct ValueComparison: Sendable, Equatable {
  /// Whether any element differs. Equal means: the same number (`-0.0 == 0.0`; equal
  /// infinities), NaN on both sides, or for integers the same integer exactly.
  public var changed = false
  /// The largest float64 `|a - b|` over the elements that differ (0 when none does); NaN once
  /// an element is NaN on one side only, as torch's `max()` propagates NaN.
  public var maxAbsDiff: Double = 0

  public init() {}

  /// Folds in the comparison of another part of the same tensors.
  public mutating func merge(_ other: ValueComparison) {
    changed = changed || other.changed
    if other.maxAbsDiff.isNaN || maxAbsDiff.isNaN {
      maxAbsDiff = .nan
    } else {
      maxAbsDiff = max(maxAbsDiff, other.maxAbsDiff)
    }
  }

  /// Folds in one element pair's difference (`same`: the pair is equal).
  @inline(__always)
  mutating func add(same: Bool, difference: Double) {
    guard !same else { return }
    changed = true
    if difference.isNaN || maxAbsDiff.isNaN {
      maxAbsDiff = .nan
    } else if difference > maxAbsDiff {
      maxAbsDiff = difference
    }
  }
}

extension TensorValues {
  /// Elements decoded per side at a time when comparing values.
  static let compareElements = 32768

  /// Compares the values of `a` (read by `self`) with those of `b` (read by `other`), which
  /// have the same logical shape, streaming both in blocks of `compareElements`: memory stays
  /// a few MB whatever the sizes. Integer dtypes on both sides compare exactly; otherwise
  /// values compare as float64 (complex values as complex128, `|a - b|` the modulus).
  /// Only logical elements `start..<end` are compared when given (parts of one comparison run
  /// on different threads; `merge` joins them). `progress(bytes)` reports the bytes read from
  /// both sides so far.
  public func compare(
    _ a: StoredTensor, with b: StoredTensor, in other: TensorValues, from start: Int64 = 0,
    to end: Int64? = nil, progress: (Int64) -> Void = { _ in }
  ) throws(ComparisonFailure) -> ValueComparison {
    let count = min(end ?? Int64.max, a.layout.count ?? 0)
    for (inB, side) in [(false, a), (true, b)]
    where !side.layout.isNonOverlapping && count > Self.overlapVisitLimit {
      let error = CheckpointError(
        .unsupportedFormat, record: side.record, offset: side.dataOffset,
        "a view of \(count) overlapping elements (shape \(side.layout.shape), stride \(side.layout.strides)); ptview stops at \(Self.overlapVisitLimit)"
      )
      throw ComparisonFailure(inB: inB, error: error)
    }
    let kind = ComparisonKind(a.encoding, b.encoding)
    let block = Self.compareElements
    let left = BlockBuffer(capacity: block)
    let right = BlockBuffer(capacity: block)
    // Bytes that decode the same way: equal bytes are equal values, so a block is compared
    // byte for byte first and decoded only when its bytes differ (-0.0, NaN payloads and
    // real changes then decide).
    let sameDecoding =
      a.encoding == b.encoding && a.bigEndian == b.bigEndian && a.negated == b.negated
      && a.conjugated == b.conjugated
    let width = a.encoding.byteWidth
    let rawLeft =
      sameDecoding ? UnsafeMutableRawPointer.allocate(byteCount: block * width, alignment: 16) : nil
    let rawRight =
      sameDecoding ? UnsafeMutableRawPointer.allocate(byteCount: block * width, alignment: 16) : nil
    defer {
      rawLeft?.deallocate()
      rawRight?.deallocate()
    }
    var result = ValueComparison()
    var from = max(0, start)
    var done: Int64 = 0
    while from < count {
      let to = min(count, from + Int64(block))
      if let rawLeft, let rawRight {
        do { try gatherBytes(a, from: from, to: to, into: rawLeft) } catch {
          throw ComparisonFailure(inB: false, error: error)
        }
        do { try other.gatherBytes(b, from: from, to: to, into: rawRight) } catch {
          throw ComparisonFailure(inB: true, error: error)
        }
        if memcmp(rawLeft, rawRight, Int(to - from) * width) == 0 {
          done += (to - from) * Int64(2 * width)
          progress(done)
          from = to
          continue
        }
      }
      do { try gather(a, from: from, to: to, kind: kind, into: left) } catch {
        throw ComparisonFailure(inB: false, error: error)
      }
      do { try other.gather(b, from: from, to: to, kind: kind, into: right) } catch {
        throw ComparisonFailure(inB: true, error: error)
      }
      let n = Int(to - from)
      switch kind {
      case .real:
        for i in 0..<n {
          let x = left.real[i]
          let y = right.real[i]
          result.add(same: x == y || (x.isNaN && y.isNaN), difference: abs(x - y))
        }
      case .integer:
        for i in 0..<n {
          let x = left.integer[i]
          let y = right.integer[i]
          result.add(same: x == y, difference: abs(Double(x) - Double(y)))
        }
      case .complex:
        for i in 0..<n {
          let (xr, xi, yr, yi) = (
            left.real[i], left.imaginary[i], right.real[i], right.imaginary[i]
          )
          let same =
            (xr == yr || (xr.isNaN && yr.isNaN)) && (xi == yi || (xi.isNaN && yi.isNaN))
          result.add(same: same, difference: hypot(xr - yr, xi - yi))
        }
      }
      done += Int64(n) * Int64(a.encoding.byteWidth + b.encoding.byteWidth)
      progress(done)
      from = to
    }
    return result
  }

  /// Copies the bytes of logical elements `from..<to` of `stored` into `buffer`, in logical
  /// order (element `from` first).
  private func gatherBytes(
    _ stored: StoredTensor, from: Int64, to: Int64, into buffer: UnsafeMutableRawPointer
  ) throws(CheckpointError) {
    let width = stored.encoding.byteWidth
    try forEachPiece(of: stored, from: from, to: to) { pointer, piece in
      for run in piece.runs {
        let target = buffer + Int(run.logicalStart - from) * width
        if run.step == 1 {
          target.copyMemory(from: pointer + run.firstByte, byteCount: run.count * width)
        } else {
          for i in 0..<run.count {
            (target + i * width).copyMemory(
              from: pointer + run.firstByte + i * run.step * width, byteCount: width)
          }
        }
      }
    }
  }

  /// Decodes logical elements `from..<to` of `stored` into `buffer` (index 0 is `from`).
  private func gather(
    _ stored: StoredTensor, from: Int64, to: Int64, kind: ComparisonKind, into buffer: BlockBuffer
  ) throws(CheckpointError) {
    let decoder = ElementDecoder(
      encoding: stored.encoding, bigEndian: stored.bigEndian, negated: stored.negated,
      conjugated: stored.conjugated, shape: stored.layout.shape)
    let complex = stored.encoding.isComplex
    let width = stored.encoding.byteWidth
    try forEachPiece(of: stored, from: from, to: to) { pointer, piece in
      for run in piece.runs {
        let at = Int(run.logicalStart - from)
        switch kind {
        case .real:
          decoder.reals(pointer, run: run, first: 0, count: run.count, into: buffer.real + at)
        case .integer:
          for i in 0..<run.count {
            let value = decoder.value(
              pointer, at: run.firstByte + i * run.step * width,
              logical: run.logicalStart + Int64(i))
            buffer.integer[at + i] = value.wideInteger
          }
        case .complex:
          if complex {
            decoder.complexParts(
              pointer, run: run, first: 0, count: run.count, real: buffer.real + at,
              imaginary: buffer.imaginary + at)
          } else {
            decoder.reals(pointer, run: run, first: 0, count: run.count, into: buffer.real + at)
            (buffer.imaginary + at).update(repeating: 0, count: run.count)
          }
        }
      }
    }
  }
}

/// A value comparison that could not read one side.
public struct ComparisonFailure: Error, Sendable {
  /// Whether the failing side is the second file.
  public var inB: Bool
  /// What went wrong there.
  public var error: CheckpointError
}

/// How a pair of tensors is compared: integers exactly (int64 and uint64 do not fit a
/// float64), complex as pairs of parts, everything else as float64.
enum ComparisonKind {
  case real, integer, complex

  init(_ a: ValueEncoding, _ b: ValueEncoding) {
    if a.isComplex || b.isComplex {
      self = .complex
    } else if a.isInteger && b.isInteger {
      self = .integer
    } else {
      self = .real
    }
  }
}

extension ValueEncoding {
  /// Signed, unsigned and bool encodings.
  fileprivate var isInteger: Bool {
    switch self {
    case .signed, .unsigned, .bool: true
    case .float, .complex, .quantized: false
    }
  }
}

extension ElementValue {
  /// An integer value exactly (int64 and uint64 alike).
  fileprivate var wideInteger: Int128 {
    switch self {
    case .int(let v): Int128(v)
    case .uint(let v): Int128(v)
    case .bool(let b): b ? 1 : 0
    case .float(let v), .complex(let v, _): v.isFinite && abs(v) < 1e30 ? Int128(v) : 0
    }
  }
}

/// Decoded values of one block of one side.
private final class BlockBuffer {
  let real: UnsafeMutablePointer<Double>
  let imaginary: UnsafeMutablePointer<Double>
  let integer: UnsafeMutablePointer<Int128>

  init(capacity: Int) {
    real = .allocate(capacity: capacity)
    imaginary = .allocate(capacity: capacity)
    integer = .allocate(capacity: capacity)
  }

  deinit {
    real.deallocate()
    imaginary.deallocate()
    integer.deallocate()
  }
}
