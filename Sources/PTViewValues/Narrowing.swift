/// Bit-level conversions to narrower formats, as torch's vectorized CPU loops produce them.
///
/// Every function takes and returns raw bit patterns, so NaN payloads and signs survive exactly
/// as written here rather than as the host's floating-point unit happens to treat them, and the
/// loop stays in integer registers the optimiser can vectorise.
enum Narrowing {
  /// bfloat16 NaN written by torch's vectorized float32 -> bfloat16 loop (AVX2 / AVX-512
  /// `cvtfp32_bf16` blends every unordered lane with 0xFFFF): negative, all mantissa bits set.
  /// Contiguous float32 and float64 tensors of every length come out this way.
  static let vectorizedBFloat16NaN: UInt16 = 0xFFFF

  /// bfloat16 NaN written by `c10::BFloat16`'s scalar constructor (`round_to_nearest_even`):
  /// positive, quiet. torch converts float16 and the float8 formats to bfloat16 element by
  /// element through float32 and this constructor, so they get this NaN.
  static let scalarBFloat16NaN: UInt16 = 0x7FC0

  /// float64 -> float32 as `cvtsd2ss` does it: round to nearest even, subnormals kept,
  /// overflow to infinity; a NaN keeps its sign and the top 23 payload bits and gets the quiet
  /// bit. The finite case is the host's conversion (IEEE, the same everywhere); the NaN case
  /// is spelled out so the result does not depend on the host's NaN rules.
  @inline(__always)
  static func float32(fromFloat64 bits: UInt64) -> UInt32 {
    let sign = UInt32(truncatingIfNeeded: bits >> 32) & 0x8000_0000
    let nan = sign | 0x7FC0_0000 | UInt32(truncatingIfNeeded: (bits >> 29) & 0x007F_FFFF)
    let converted = Float(Double(bitPattern: bits)).bitPattern
    return bits & 0x7FFF_FFFF_FFFF_FFFF > 0x7FF0_0000_0000_0000 ? nan : converted
  }

  /// float32 -> float16 as F16C's `vcvtps2ph` does it (torch's vectorized path): round to
  /// nearest even, subnormals kept, overflow to infinity; a NaN keeps its sign and the top 10
  /// payload bits and gets the quiet bit (c10's scalar fallback would write 0x7E00 instead).
  ///
  /// The finite case is the branch-free float trick of c10's `fp16_ieee_from_fp32_value`:
  /// scaling by 2^112 then 2^-110 turns everything from 2^16 up into infinity, and adding a
  /// power of two chosen from the exponent makes the float32 adder round the mantissa to
  /// float16's width (or to the fixed subnormal step) in round-to-nearest-even.
  @inline(__always)
  static func float16(fromFloat32 bits: UInt32) -> UInt16 {
    let magnitude = Float(bitPattern: bits & 0x7FFF_FFFF)
    let scaled = (magnitude * Float(bitPattern: 0x7780_0000)) * Float(bitPattern: 0x0880_0000)
    let doubled = bits &<< 1
    let bias = max(doubled & 0xFF00_0000, 0x7100_0000)
    let rounded = (Float(bitPattern: (bias >> 1) &+ 0x0780_0000) + scaled).bitPattern
    let finite = ((rounded >> 13) & 0x7C00) &+ (rounded & 0x0FFF)
    let nan = 0x7E00 | ((bits >> 13) & 0x03FF)
    let result = ((bits >> 16) & 0x8000) | (doubled > 0xFF00_0000 ? nan : finite)
    return UInt16(truncatingIfNeeded: result)
  }

  /// float32 -> bfloat16: round to nearest even by adding 0x7FFF plus the lowest kept bit and
  /// dropping the low half (overflow carries into the exponent and lands on infinity; subnormals
  /// round like everything else), with every NaN replaced by `nan`, because neither torch path
  /// keeps NaN payloads or signs.
  @inline(__always)
  static func bfloat16(fromFloat32 bits: UInt32, nan: UInt16) -> UInt16 {
    let rounded = UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    return bits & 0x7FFF_FFFF > 0x7F80_0000 ? nan : rounded
  }
}
