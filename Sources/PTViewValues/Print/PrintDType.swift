/// A dtype as torch's tensor printing sees it: its name (for the `dtype=torch.<name>` suffix)
/// and how its elements are written.
///
/// Only dtypes `print(t)` can print exist here: torch raises for the bit and sub-byte integer
/// dtypes (`bits8`, `int4`, `uint3`, ...: "_local_scalar_dense_cpu not implemented"), so
/// `ptview cat` has nothing to match there and says so instead of inventing a layout.
public struct PrintDType: Sendable, Equatable, CustomStringConvertible {
  /// How the elements of a dtype are printed.
  public enum Kind: Sendable, Equatable {
    /// Floating dtypes: torch's `_Formatter` picks integer, fixed or scientific layout.
    /// float4_e2m1fn_x2 is here too: torch prints its bytes as integer-valued floats.
    case floating
    /// Signed and unsigned integers: `str(int)`.
    case integer
    /// `True` / `False`.
    case boolean
    /// Real and imaginary parts, each with its own floating layout.
    case complex
    /// Quantized integers: printed dequantized, as float32 values, with the quantization
    /// parameters in the suffix.
    case quantized
  }

  /// torch's name without `torch.` (`float32`, `qint8`, `float8_e4m3fn`).
  public let name: String
  public let kind: Kind

  /// The dtype torch names `torchName`; nil for dtypes torch itself cannot print and for names
  /// that are no dtype. Only canonical names: checkpoints never spell dtypes by alias.
  public init?(torchName: String) {
    guard let kind = Self.kinds[torchName] else { return nil }
    self.name = torchName
    self.kind = kind
  }

  public var description: String { name }

  /// Whether torch leaves `dtype=` off (`has_default_dtype` in torch/_tensor_str.py, with
  /// torch's default dtype float32): float32, its complex partner complex64, int64 and bool.
  var isPrintedWithoutSuffix: Bool {
    ["float32", "complex64", "int64", "bool"].contains(name)
  }

  private static let kinds: [String: Kind] = {
    var table: [String: Kind] = [:]
    for name in [
      "float64", "float32", "float16", "bfloat16", "float8_e4m3fn", "float8_e5m2",
      "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu", "float4_e2m1fn_x2",
    ] {
      table[name] = .floating
    }
    for name in ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"] {
      table[name] = .integer
    }
    table["bool"] = .boolean
    for name in ["complex32", "complex64", "complex128", "bcomplex32"] { table[name] = .complex }
    for name in ["qint8", "quint8", "qint32", "quint4x2", "quint2x4"] { table[name] = .quantized }
    return table
  }()
}
