/// How one stored element of a dtype becomes a value: its width in the storage and the rule
/// that turns its bytes into an `ElementValue`.
public enum ValueEncoding: Sendable, Equatable {
  /// A floating format (float64 down to the float8 formats).
  case float(FloatFormat)
  /// A two's-complement integer of 1, 2, 4 or 8 bytes.
  case signed(byteWidth: Int)
  /// An unsigned integer of 1, 2, 4 or 8 bytes.
  case unsigned(byteWidth: Int)
  /// torch.bool: one byte, nonzero is true.
  case bool
  /// A complex number: two components of the format (float16 for complex32, bfloat16 for
  /// bcomplex32, float32 for complex64, float64 for complex128), real first.
  case complex(FloatFormat)
  /// A quantized integer and the affine map torch's `dequantize()` applies to it.
  case quantized(Dequantization)

  /// The encoding of torch dtype `name` (`float32`, `int64`, `complex64`, ...); nil for the
  /// quantized dtypes (they need their quantizer: `.quantized`) and for dtypes whose values
  /// torch itself cannot compute with (`bits8`, `float4_e2m1fn_x2`, `uint1`...`int7`).
  public init?(torchName name: String) {
    if let format = FloatFormat(torchName: name) {
      self = .float(format)
      return
    }
    switch name {
    case "int8": self = .signed(byteWidth: 1)
    case "int16": self = .signed(byteWidth: 2)
    case "int32": self = .signed(byteWidth: 4)
    case "int64": self = .signed(byteWidth: 8)
    case "uint8": self = .unsigned(byteWidth: 1)
    case "uint16": self = .unsigned(byteWidth: 2)
    case "uint32": self = .unsigned(byteWidth: 4)
    case "uint64": self = .unsigned(byteWidth: 8)
    case "bool": self = .bool
    case "complex32": self = .complex(.float16)
    case "bcomplex32": self = .complex(.bfloat16)
    case "complex64": self = .complex(.float32)
    case "complex128": self = .complex(.float64)
    default: return nil
    }
  }

  /// Bytes per stored element.
  public var byteWidth: Int {
    switch self {
    case .float(let format): format.byteWidth
    case .signed(let width), .unsigned(let width): width
    case .bool: 1
    case .complex(let component): 2 * component.byteWidth
    case .quantized(let dequantization): dequantization.storedWidth
    }
  }

  /// Whether values are complex (statistics then count only).
  public var isComplex: Bool {
    if case .complex = self { return true }
    return false
  }

  /// Whether the dtype can hold NaN or an infinity at all.
  public var canBeNonFinite: Bool {
    switch self {
    case .float, .complex, .quantized: true
    case .signed, .unsigned, .bool: false
    }
  }
}

/// torch's `dequantize()` of a quantized tensor, bit for bit (measured with torch 2.15 on
/// x86-64, every element compared):
/// - per-tensor affine: `(float(q) - float(zero_point)) * float(scale)` in float32;
/// - per-channel affine: `float((q - zero_point) * scale)`, the product in float64 with the
///   float64 scale and int64 zero point of the channel;
/// - per-channel affine with float qparams: `(float(q) - zero_point) * scale` in float32.
/// The result is a float32 value, as `dequantize()` returns a float32 tensor.
public struct Dequantization: Sendable, Equatable {
  /// How scales and zero points apply.
  public enum Scheme: Sendable, Equatable {
    /// One scale and zero point for the whole tensor.
    case perTensor(scale: Double, zeroPoint: Int64)
    /// One float64 scale and int64 zero point per index along `axis`.
    case perChannel(axis: Int, scales: [Double], zeroPoints: [Int64])
    /// One float32 scale and float32 zero point per index along `axis`.
    case perChannelFloat(axis: Int, scales: [Float], zeroPoints: [Float])
  }

  /// Whether the stored integer is signed (qint8, qint32) or not (quint8).
  public var storedSigned: Bool
  /// Bytes per stored integer (1 for qint8 and quint8, 4 for qint32).
  public var storedWidth: Int
  /// The affine map.
  public var scheme: Scheme

  /// A dequantization for torch's quantized dtype `name` (`qint8`, `quint8`, `qint32`); nil
  /// for others (the packed quint4x2 and quint2x4 are not read).
  public init?(torchName name: String, scheme: Scheme) {
    switch name {
    case "qint8": (storedSigned, storedWidth) = (true, 1)
    case "quint8": (storedSigned, storedWidth) = (false, 1)
    case "qint32": (storedSigned, storedWidth) = (true, 4)
    default: return nil
    }
    self.scheme = scheme
  }

  /// The channel axis of a per-channel scheme.
  public var axis: Int? {
    switch scheme {
    case .perTensor: nil
    case .perChannel(let axis, _, _), .perChannelFloat(let axis, _, _): axis
    }
  }

  /// The value of stored integer `q` in channel `channel` (ignored per tensor).
  @inline(__always)
  public func value(_ q: Int64, channel: Int) -> Float {
    switch scheme {
    case .perTensor(let scale, let zeroPoint):
      return (Float(q) - Float(zeroPoint)) * Float(scale)
    case .perChannel(_, let scales, let zeroPoints):
      return Float(Double(q &- zeroPoints[channel]) * scales[channel])
    case .perChannelFloat(_, let scales, let zeroPoints):
      return (Float(q) - zeroPoints[channel]) * scales[channel]
    }
  }
}
