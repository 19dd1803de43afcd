public import PTViewCore
import PTViewValues

/// How a storage's bytes change under `--cast`: from one floating dtype to another, in the
/// file's byte order. The kernels are `PTViewValues.FloatCast`'s (bit-exact with torch).
public struct Conversion: Sendable, Equatable {
  /// The storage's dtype in the input.
  public var from: DType
  /// Its dtype in the output.
  public var to: DType
  /// True when the file stores elements big-endian (its `byteorder` record says so).
  public var bigEndian: Bool
  /// The storage record converted (`data/3`), named when reading it fails.
  public var record: String?

  /// Creates a conversion; nil when either dtype is not a floating format ptview converts.
  public init?(from: DType, to: DType, bigEndian: Bool, record: String? = nil) {
    guard let a = FloatFormat(torchName: from.name), let b = FloatFormat(torchName: to.name),
      FloatCast.canTarget(b)
    else { return nil }
    self.from = from
    self.to = to
    self.bigEndian = bigEndian
    self.record = record
    _ = a
  }

  /// Bytes per input element.
  public var inputElementSize: Int { from.elementSize }
  /// Bytes per output element.
  public var outputElementSize: Int { to.elementSize }

  /// Output bytes for `length` input bytes.
  public func outputLength(_ length: Int64) -> Int64 {
    length / Int64(inputElementSize) * Int64(outputElementSize)
  }

  /// Converts `count` elements from `source` into `destination`.
  public func apply(
    _ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, count: Int
  ) {
    guard let a = FloatFormat(torchName: from.name), let b = FloatFormat(torchName: to.name)
    else { return }
    FloatCast.convert(source, from: a, into: destination, to: b, count: count, bigEndian: bigEndian)
  }
}
