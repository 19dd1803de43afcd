/// Bit-level conversions to wider formats, exact for every finite value; the only choices are
/// what happens to NaNs, and those follow what torch's vectorized loops produce on x86.
enum Widening {
  /// bfloat16 -> float32: the bits become the top half. torch does exactly this, so a
  /// signalling NaN stays signalling (0x7F81 -> 0x7F810000).
  @inline(__always)
  static func float32(fromBFloat16 bits: UInt16) -> UInt32 {
    UInt32(bits) &<< 16
  }

  /// float16 -> float32 as F16C's `vcvtph2ps` does it (torch's vectorized path): exact, with
  /// subnormals normalised; a NaN keeps its sign and payload and gets the quiet bit
  /// (0x7C01 -> 0x7FC02000). torch's scalar tail loop writes 0x7FFFFFFF for every NaN instead;
  /// the vectorized result is the one that covers all but a tensor's last few elements.
  @inline(__always)
  static func float32(fromFloat16 bits: UInt16) -> UInt32 {
    let word = UInt32(bits)
    let magnitude = word & 0x7FFF
    // Rebias the exponent (15 -> 127) with the mantissa shifted into place.
    let normal = (magnitude &<< 13) &+ 0x3800_0000
    // 0.5 with the mantissa in its low bits, minus 0.5, is mantissa * 2^-24 exactly.
    let subnormal = (Float(bitPattern: 0x3F00_0000 | magnitude) - 0.5).bitPattern
    let quiet: UInt32 = magnitude > 0x7C00 ? 0x0040_0000 : 0
    let special = 0x7F80_0000 | (magnitude &<< 13) | quiet
    let result = magnitude < 0x0400 ? subnormal : (magnitude >= 0x7C00 ? special : normal)
    return ((word & 0x8000) &<< 16) | result
  }

  /// float32 -> float64 as `cvtss2sd` does it: exact; a NaN keeps its sign and payload (moved
  /// to the top of the wider mantissa) and gets the quiet bit. Spelled out for NaNs so the
  /// result does not depend on the host.
  @inline(__always)
  static func float64(fromFloat32 bits: UInt32) -> UInt64 {
    let sign = UInt64(bits & 0x8000_0000) &<< 32
    let nan = sign | 0x7FF8_0000_0000_0000 | (UInt64(bits & 0x007F_FFFF) &<< 29)
    let converted = Double(Float(bitPattern: bits)).bitPattern
    return bits & 0x7FFF_FFFF > 0x7F80_0000 ? nan : converted
  }
}
