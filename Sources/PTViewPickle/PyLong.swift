/// Python integers of any size in pickle's encoding: little-endian two's complement bytes.
///
/// The graph stores integers that fit in `Int64` directly and keeps bigger ones as these
/// bytes; this namespace converts between the forms and to and from decimal text.
public enum PyLong {
  /// The value as `Int64`, or nil when it does not fit. Empty bytes mean 0 (as LONG1 0).
  public static func int64<C: Collection<UInt8>>(_ bytes: C) -> Int64? {
    if bytes.isEmpty { return 0 }
    let negative = (bytes[bytes.index(bytes.endIndex, offsetBy: -1)] & 0x80) != 0
    let fill: UInt8 = negative ? 0xFF : 0x00
    var value: UInt64 = 0
    for (i, byte) in bytes.enumerated() {
      if i < 8 {
        value |= UInt64(byte) << (8 * UInt64(i))
      } else if byte != fill {
        return nil
      }
    }
    if bytes.count < 8 && negative {
      value |= ~UInt64(0) << (8 * UInt64(bytes.count))
    }
    let result = Int64(bitPattern: value)
    // A 8-byte encoding whose sign disagrees with the fill bytes does not fit.
    if bytes.count > 8 && (result < 0) != negative { return nil }
    return result
  }

  /// The shortest two's complement encoding, as CPython's `pickle.encode_long` writes it.
  public static func bytes(_ value: Int64) -> [UInt8] {
    if value == 0 { return [] }
    var out: [UInt8] = []
    var v = value
    repeat {
      out.append(UInt8(truncatingIfNeeded: v))
      v >>= 8
    } while !((v == 0 && out[out.count - 1] & 0x80 == 0)
      || (v == -1 && out[out.count - 1] & 0x80 != 0))
    return out
  }

  /// Magnitude limbs (base 2^32, little-endian) and sign of a two's complement byte string.
  static func magnitude<C: Collection<UInt8>>(_ bytes: C) -> (negative: Bool, limbs: [UInt32]) {
    var raw = Array(bytes)
    let negative = !raw.isEmpty && raw[raw.count - 1] & 0x80 != 0
    if negative {
      // Negate: invert and add one.
      var carry: UInt16 = 1
      for i in raw.indices {
        let sum = UInt16(~raw[i]) + carry
        raw[i] = UInt8(truncatingIfNeeded: sum)
        carry = sum >> 8
      }
    }
    var limbs = [UInt32](repeating: 0, count: (raw.count + 3) / 4)
    for (i, byte) in raw.enumerated() {
      limbs[i / 4] |= UInt32(byte) << (8 * UInt32(i % 4))
    }
    while let last = limbs.last, last == 0 { limbs.removeLast() }
    return (negative, limbs)
  }

  /// Decimal text of a two's complement byte string (`-` for negatives), or nil when it would
  /// exceed `maxDigits` digits (CPython refuses such conversions too).
  public static func decimal<C: Collection<UInt8>>(_ bytes: C, maxDigits: Int = 4300) -> String? {
    if let small = int64(bytes) { return String(small) }
    var (negative, limbs) = magnitude(bytes)
    // Each limb holds up to 9.64 decimal digits.
    if limbs.count * 10 > maxDigits + 20 && limbs.count * 9 > maxDigits { return nil }
    var chunks: [UInt32] = []
    while !limbs.isEmpty {
      var remainder: UInt64 = 0
      for i in stride(from: limbs.count - 1, through: 0, by: -1) {
        let current = (remainder << 32) | UInt64(limbs[i])
        limbs[i] = UInt32(current / 1_000_000_000)
        remainder = current % 1_000_000_000
      }
      chunks.append(UInt32(remainder))
      while let last = limbs.last, last == 0 { limbs.removeLast() }
    }
    var text = String(chunks.last ?? 0)
    for chunk in chunks.dropLast().reversed() {
      text += String(chunk).leftPadded(to: 9)
    }
    if text.count > maxDigits { return nil }
    if negative && text != "0" { text = "-" + text }
    negative = false
    return text
  }

  /// Parses optional sign and decimal digits into minimal two's complement bytes.
  /// Returns nil for anything else (empty, stray characters, too many digits).
  public static func parseDecimal<C: Collection<UInt8>>(_ text: C, maxDigits: Int = 4300)
    -> [UInt8]?
  {
    var digits = ArraySlice(text)
    var negative = false
    if let first = digits.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
      negative = first == UInt8(ascii: "-")
      digits = digits.dropFirst()
    }
    guard !digits.isEmpty, digits.count <= maxDigits,
      digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
    else { return nil }
    var limbs: [UInt32] = []
    for digit in digits {
      var carry = UInt64(digit - UInt8(ascii: "0"))
      for i in limbs.indices {
        let product = UInt64(limbs[i]) * 10 + carry
        limbs[i] = UInt32(truncatingIfNeeded: product)
        carry = product >> 32
      }
      if carry != 0 { limbs.append(UInt32(carry)) }
    }
    var bytes: [UInt8] = []
    for limb in limbs {
      for shift in stride(from: 0, to: 32, by: 8) {
        bytes.append(UInt8(truncatingIfNeeded: limb >> UInt32(shift)))
      }
    }
    bytes.append(0)  // room for the sign bit
    if negative {
      var carry: UInt16 = 1
      for i in bytes.indices {
        let sum = UInt16(~bytes[i]) + carry
        bytes[i] = UInt8(truncatingIfNeeded: sum)
        carry = sum >> 8
      }
    }
    return minimal(bytes)
  }

  /// Drops redundant sign-extension bytes; zero becomes the empty string.
  public static func minimal(_ input: [UInt8]) -> [UInt8] {
    var bytes = input
    while bytes.count > 1 {
      let last = bytes[bytes.count - 1]
      let previous = bytes[bytes.count - 2]
      if (last == 0 && previous & 0x80 == 0) || (last == 0xFF && previous & 0x80 != 0) {
        bytes.removeLast()
      } else {
        break
      }
    }
    if bytes == [0] { return [] }
    return bytes
  }
}

extension PyLong {
  /// `-value` for a minimal two's complement byte string.
  static func negated(_ value: [UInt8]) -> [UInt8] {
    guard !value.isEmpty else { return [] }
    var bytes = value
    bytes.append(bytes.last.map { $0 & 0x80 != 0 ? 0xFF : 0 } ?? 0)
    var carry: UInt16 = 1
    for i in bytes.indices {
      let sum = UInt16(~bytes[i]) + carry
      bytes[i] = UInt8(truncatingIfNeeded: sum)
      carry = sum >> 8
    }
    return minimal(bytes)
  }
}
