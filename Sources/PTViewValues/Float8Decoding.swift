/// The float8 formats widened to float32 bits, as torch's c10 `Float8_*` types do it.
///
/// Every float8 value is exact in float32, so one table of 256 float32 patterns per format
/// carries everything; a conversion encodes the table into the target once and then looks
/// elements up (`Float8Table`).
enum Float8Decoding {
  /// The NaN c10 widens the fnuz formats' and e8m0fnu's NaN to: a positive signalling NaN with
  /// payload 1 (a float64 target then sees it quieted, a float16 target as 0x7E00).
  static let unsignedNaN: UInt32 = 0x7F80_0001

  /// float32 bits of one float8 element of `format` (a float8 case).
  static func float32(from byte: UInt8, format: FloatFormat) -> UInt32 {
    let word = UInt32(byte)
    let sign = (word & 0x80) &<< 24
    let magnitude = word & 0x7F
    switch format {
    case .float8_e4m3fn:
      // Bias 7. S.1111.111 is NaN; c10 moves its mantissa bits up: 0x7F -> 0x7FF00000.
      if magnitude == 0x7F { return sign | 0x7F80_0000 | (0x7 &<< 20) }
      if magnitude < 0x08 { return sign | scaled(magnitude, by: -9) }
      return sign | ((magnitude &<< 20) &+ (120 &<< 23))
    case .float8_e5m2:
      // The top byte of a float16, NaN quieting included.
      return Widening.float32(fromFloat16: UInt16(byte) &<< 8)
    case .float8_e4m3fnuz:
      // Bias 8; 0x80, which would be negative zero, is the NaN.
      if word == 0x80 { return unsignedNaN }
      if magnitude < 0x08 { return sign | scaled(magnitude, by: -10) }
      return sign | ((magnitude &<< 20) &+ (119 &<< 23))
    case .float8_e5m2fnuz:
      // Bias 16; 0x80 is the NaN.
      if word == 0x80 { return unsignedNaN }
      if magnitude < 0x04 { return sign | scaled(magnitude, by: -17) }
      return sign | ((magnitude &<< 21) &+ (111 &<< 23))
    case .float8_e8m0fnu:
      // 2^(byte - 127), no sign; 0 is 2^-127, a float32 subnormal.
      if word == 0xFF { return unsignedNaN }
      if word == 0 { return 0x0040_0000 }
      return word &<< 23
    case .float64, .float32, .float16, .bfloat16:
      preconditionFailure("\(format) is not a float8 format")
    }
  }

  /// float32 bits of the small integer `mantissa` times 2^`exponent` (exact).
  private static func scaled(_ mantissa: UInt32, by exponent: Int) -> UInt32 {
    (Float(mantissa) * Float(sign: .plus, exponent: exponent, significand: 1)).bitPattern
  }
}

/// A float8 format's 256 values encoded in a target format, for a lookup per element.
enum Float8Table {
  /// Fills `table` (256 entries) with `encode` of each float8 value's float32 bits. Going
  /// through float32 is what torch does: its float8 types convert through `float`.
  static func fill<Target: FixedWidthInteger>(
    _ table: UnsafeMutableBufferPointer<Target>, format: FloatFormat,
    encode: (UInt32) -> Target
  ) {
    for byte in 0...255 {
      table[byte] = encode(Float8Decoding.float32(from: UInt8(byte), format: format))
    }
  }
}
