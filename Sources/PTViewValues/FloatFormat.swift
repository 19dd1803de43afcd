/// Floating formats ptview converts between (torch dtype names in comments).
///
/// The raw values are torch's dtype names, so a format read from a checkpoint's metadata maps
/// straight onto a case. The float8 cases keep torch's spelling (underscores and all) for the
/// same reason, hence the lint exception.
// swift-format-ignore: AlwaysUseLowerCamelCase
public enum FloatFormat: String, Sendable, CaseIterable {
  /// torch.float64: IEEE binary64.
  case float64
  /// torch.float32: IEEE binary32.
  case float32
  /// torch.float16: IEEE binary16.
  case float16
  /// torch.bfloat16: the top half of a binary32 (8 exponent bits, 7 mantissa bits).
  case bfloat16
  /// torch.float8_e4m3fn: bias 7, no infinities, S.1111.111 is NaN.
  case float8_e4m3fn
  /// torch.float8_e5m2: the top byte of a binary16, infinities and NaNs included.
  case float8_e5m2
  /// torch.float8_e4m3fnuz: bias 8, no infinities, no negative zero, 0x80 is the only NaN.
  case float8_e4m3fnuz
  /// torch.float8_e5m2fnuz: bias 16, no infinities, no negative zero, 0x80 is the only NaN.
  case float8_e5m2fnuz
  /// torch.float8_e8m0fnu: an unsigned power of two, 2^(bits - 127); 0xFF is NaN.
  case float8_e8m0fnu

  /// Bytes per element.
  public var byteWidth: Int {
    switch self {
    case .float64: 8
    case .float32: 4
    case .float16, .bfloat16: 2
    case .float8_e4m3fn, .float8_e5m2, .float8_e4m3fnuz, .float8_e5m2fnuz, .float8_e8m0fnu: 1
    }
  }

  /// From torch's dtype name ("float32", "bfloat16", "float8_e4m3fn", ...); nil for others.
  ///
  /// Only the canonical names: torch's aliases ("float", "half", "double") never appear as
  /// dtype names in a checkpoint, so accepting them would only hide a misread.
  public init?(torchName: String) {
    self.init(rawValue: torchName)
  }
}
