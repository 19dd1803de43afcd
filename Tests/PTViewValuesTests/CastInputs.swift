/// The long vectors' inputs, rebuilt with the recipes of `Scripts/make_cast_vectors.py`
/// (`splitmix_float32`, `splitmix_float64`) so the fixtures only need torch's output.
enum CastInputs {
  /// splitmix64 (Steele, Lea, Flood 2014), as the generator script spells it.
  struct SplitMix64 {
    var state: UInt64

    mutating func next() -> UInt64 {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
  }

  /// float32 patterns: 5/8 with exponents 2^-30...2^33, 1/8 inf or NaN, 1/8 subnormal,
  /// 1/8 raw bits.
  static func float32(seed: UInt64, count: Int) -> [UInt64] {
    var generator = SplitMix64(state: seed)
    return (0..<count).map { _ in
      let r = generator.next()
      var bits = r & 0xFFFF_FFFF
      let select = (r >> 32) & 7
      if select < 7 {
        let exponent: UInt64 = select < 5 ? 97 + ((r >> 35) & 63) : (select == 5 ? 0xFF : 0)
        bits = (bits & 0x807F_FFFF) | (exponent << 23)
      }
      return bits
    }
  }

  /// float64 patterns from two draws each: 5/8 with exponents 2^-30...2^33, 1/8 inf or NaN,
  /// 1/8 with exponents 2^-160...2^351, 1/8 raw bits.
  static func float64(seed: UInt64, count: Int) -> [UInt64] {
    var generator = SplitMix64(state: seed)
    return (0..<count).map { _ in
      var bits = generator.next()
      let s = generator.next()
      let select = s & 7
      if select < 7 {
        let exponent: UInt64
        switch select {
        case 0..<5: exponent = 1023 - 30 + ((s >> 3) & 63)
        case 5: exponent = 0x7FF
        default: exponent = 1023 - 160 + ((s >> 3) & 511)
        }
        bits = (bits & 0x800F_FFFF_FFFF_FFFF) | (exponent << 52)
      }
      return bits
    }
  }
}
