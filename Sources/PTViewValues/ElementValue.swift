/// One element of a tensor as ptview shows it: the decoding (`stats`, `cat`, `diff`, the
/// explorer's values pane) and the printing of values meet here, so each side can be written
/// and tested on its own.
///
/// Floating dtypes (float64 down to the float8 formats, and dequantized quantized tensors)
/// decode to `.float` exactly (every one of them is exactly representable as a Double);
/// signed integers to `.int`, `uint64` and the other unsigned widths to `.uint`, `bool` to
/// `.bool`, complex dtypes to `.complex` (real and imaginary parts, each exact in a Double).
public enum ElementValue: Sendable, Equatable {
  /// A floating value (NaN, infinities and negative zero included).
  case float(Double)
  /// A signed integer.
  case int(Int64)
  /// An unsigned integer.
  case uint(UInt64)
  /// A boolean.
  case bool(Bool)
  /// A complex value.
  case complex(real: Double, imaginary: Double)
}
