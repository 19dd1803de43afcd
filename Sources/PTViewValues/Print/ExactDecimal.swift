/// The exact decimal value of a finite Double, and its rounding to fewer digits.
///
/// Python's `'{:.4f}'` and `'{:.4e}'` round the exact binary value, half to even (CPython's
/// dtoa), so 0.125 becomes `0.12` at two places but 0.375 becomes `0.38`, and 2.675 (really
/// 2.67499999...) becomes `2.67`. Rounding a printed approximation instead would get those
/// wrong, so this expands the value exactly: every finite Double is m * 2^e, which is the
/// integer m * 5^-e shifted by e decimal places when e < 0 (at most 767 significant digits) or
/// the integer m * 2^e when e >= 0.
struct ExactDecimal {
  /// Significant digits (0...9), most significant first, with no leading or trailing zeros;
  /// empty for zero.
  var digits: [UInt8]
  /// Where the decimal point sits: the value is 0.d1 d2 d3 ... * 10^pointPosition (dtoa's
  /// `decpt`). Meaningless for zero.
  var pointPosition: Int
  /// The sign bit, so negative zero and values that round to zero keep their minus sign as
  /// Python prints it.
  var negative: Bool

  /// The exact expansion of `value`, which must be finite.
  init(_ value: Double) {
    precondition(value.isFinite, "ExactDecimal of a non-finite value")
    negative = value.sign == .minus
    let exponentBits = Int(value.exponentBitPattern)
    var mantissa = value.significandBitPattern
    var exponent: Int
    if exponentBits == 0 {
      exponent = -1074
    } else {
      mantissa |= 1 << 52
      exponent = exponentBits - 1075
    }
    guard mantissa != 0 else {
      digits = []
      pointPosition = 0
      return
    }
    // Fewer factors of 5 (or 2) to multiply in: m * 2^e with m odd.
    let zeros = mantissa.trailingZeroBitCount
    mantissa >>= UInt64(zeros)
    exponent += zeros
    var number = BigUInt(mantissa)
    if exponent >= 0 {
      number.shiftLeft(by: exponent)
      digits = number.decimalDigits()
      pointPosition = digits.count
    } else {
      number.multiplyByPowerOfFive(-exponent)
      digits = number.decimalDigits()
      pointPosition = digits.count + exponent
    }
    dropTrailingZeros()
  }

  init(digits: [UInt8], pointPosition: Int, negative: Bool) {
    self.digits = digits
    self.pointPosition = pointPosition
    self.negative = negative
  }

  var isZero: Bool { digits.isEmpty }

  /// Rounds to the first `count` significant digits, half to even, exactly. `count` may be zero
  /// or negative (everything is rounded away: the result is zero or, from at least half of the
  /// first kept place, one unit of it).
  mutating func round(keeping count: Int) {
    guard count < digits.count else { return }
    if count < 0 {
      digits = []
      return
    }
    let next = digits[count]
    let roundsUp: Bool
    if next != 5 {
      roundsUp = next > 5
    } else if digits.count > count + 1 {
      // Trailing zeros are gone, so anything after the 5 is nonzero: above the half.
      roundsUp = true
    } else {
      // Exactly half: to even. Before the first digit stands an implied 0, which is even.
      roundsUp = count > 0 && digits[count - 1] % 2 == 1
    }
    digits.removeSubrange(count...)
    if roundsUp {
      var index = count - 1
      while index >= 0 && digits[index] == 9 {
        digits[index] = 0
        index -= 1
      }
      if index >= 0 {
        digits[index] += 1
      } else {
        // 9.99 -> 10.0: one more integer digit.
        digits.insert(1, at: 0)
        pointPosition += 1
      }
    }
    dropTrailingZeros()
  }

  private mutating func dropTrailingZeros() {
    while let last = digits.last, last == 0 { digits.removeLast() }
  }

  /// The digit at decimal place `place` counted from the most significant (0 is the first
  /// digit), 0 past either end.
  func digit(at place: Int) -> UInt8 {
    place >= 0 && place < digits.count ? digits[place] : 0
  }
}

/// Just enough of an unsigned big integer for `ExactDecimal`: little-endian 32-bit limbs,
/// multiplication by small numbers, shifts and conversion to decimal.
struct BigUInt {
  private var limbs: [UInt32]

  init(_ value: UInt64) {
    limbs = [UInt32(truncatingIfNeeded: value), UInt32(truncatingIfNeeded: value >> 32)]
    trim()
  }

  private mutating func trim() {
    while let last = limbs.last, last == 0 { limbs.removeLast() }
  }

  mutating func multiply(by factor: UInt32) {
    var carry: UInt64 = 0
    for index in limbs.indices {
      let product = UInt64(limbs[index]) * UInt64(factor) + carry
      limbs[index] = UInt32(truncatingIfNeeded: product)
      carry = product >> 32
    }
    if carry != 0 { limbs.append(UInt32(carry)) }
  }

  /// Multiplies by 5^power, thirteen factors at a time (5^13 is the largest power below 2^32).
  mutating func multiplyByPowerOfFive(_ power: Int) {
    var left = power
    while left >= 13 {
      multiply(by: 1_220_703_125)
      left -= 13
    }
    var factor: UInt32 = 1
    for _ in 0..<left { factor *= 5 }
    if factor != 1 { multiply(by: factor) }
  }

  mutating func shiftLeft(by bits: Int) {
    let whole = bits / 32
    let part = UInt32(bits % 32)
    if part != 0 {
      var carry: UInt32 = 0
      for index in limbs.indices {
        let limb = limbs[index]
        limbs[index] = (limb << part) | carry
        carry = limb >> (32 - part)
      }
      if carry != 0 { limbs.append(carry) }
    }
    if whole > 0 { limbs.insert(contentsOf: repeatElement(0, count: whole), at: 0) }
  }

  /// The decimal digits, most significant first, without leading zeros (`[]` for zero).
  /// Consumes the number: it is divided down to zero by 10^9 at a time.
  mutating func decimalDigits() -> [UInt8] {
    var groups: [UInt32] = []
    while !limbs.isEmpty {
      var remainder: UInt64 = 0
      for index in limbs.indices.reversed() {
        let current = (remainder << 32) | UInt64(limbs[index])
        limbs[index] = UInt32(current / 1_000_000_000)
        remainder = current % 1_000_000_000
      }
      groups.append(UInt32(remainder))
      trim()
    }
    var result: [UInt8] = []
    result.reserveCapacity(groups.count * 9)
    for (position, group) in groups.reversed().enumerated() {
      var chunk = [UInt8](repeating: 0, count: 9)
      var value = group
      for place in stride(from: 8, through: 0, by: -1) {
        chunk[place] = UInt8(value % 10)
        value /= 10
      }
      if position == 0 {
        result.append(contentsOf: chunk.drop { $0 == 0 })
      } else {
        result.append(contentsOf: chunk)
      }
    }
    return result
  }
}
