/// Python's float formatting, character for character: what torch's printing calls on each
/// element (`'{:.4f}'`, `'{:.4e}'`, `'{:.0f}'`) and on a quantized tensor's scale (`str`).
///
/// Fixed and exponent forms round the exact binary value half to even (`ExactDecimal`), as
/// CPython's dtoa does. `repr` takes its digits from the standard library's `description`,
/// which is the shortest string that reads back as the same Double and, among those, the one
/// closest to it: the digits dtoa's mode 0 gives Python. Only the layout differs between the
/// two languages, so it is rebuilt here from the digits alone.
public enum PythonFloat {
  /// `format(value, '.{precision}f')`: `-0.0000`, `inf`, `nan` (never `-nan`).
  public static func fixed(_ value: Double, precision: Int) -> String {
    if let special = nonFinite(value) { return special }
    var decimal = ExactDecimal(value)
    decimal.round(keeping: decimal.pointPosition + precision)
    var text = decimal.negative ? "-" : ""
    let integerDigits = decimal.isZero ? 0 : max(decimal.pointPosition, 0)
    if integerDigits == 0 {
      text += "0"
    } else {
      for place in 0..<integerDigits { text += digitText(decimal.digit(at: place)) }
    }
    if precision > 0 {
      text += "."
      for place in 0..<precision {
        let digit = decimal.isZero ? 0 : decimal.digit(at: decimal.pointPosition + place)
        text += digitText(digit)
      }
    }
    return text
  }

  /// `format(value, '.{precision}e')`: `1.2346e+05`, `-1.0000e-100`, `0.0000e+00`.
  public static func scientific(_ value: Double, precision: Int) -> String {
    if let special = nonFinite(value) { return special }
    var decimal = ExactDecimal(value)
    var text = decimal.negative ? "-" : ""
    var exponent = 0
    if decimal.isZero {
      text += "0"
    } else {
      decimal.round(keeping: precision + 1)
      exponent = decimal.pointPosition - 1
      text += digitText(decimal.digit(at: 0))
    }
    if precision > 0 {
      text += "."
      for place in 1...precision { text += digitText(decimal.digit(at: place)) }
    }
    return text + exponentText(exponent)
  }

  /// `repr(value)` (and `str(value)`): the shortest round-tripping digits, positional from
  /// 1e-4 up to below 1e16 (`0.0001`, `100.0`), exponent form outside (`1e-05`, `1e+16`).
  public static func repr(_ value: Double) -> String {
    if let special = nonFinite(value) { return special }
    let shortest = shortestDigits(value)
    let digits = shortest.digits
    let point = shortest.pointPosition
    var text = value.sign == .minus ? "-" : ""
    if digits.isEmpty {
      return text + "0.0"
    }
    if point > -4 && point <= 16 {
      if point <= 0 {
        text += "0." + String(repeating: "0", count: -point)
        for digit in digits { text += digitText(digit) }
      } else {
        for place in 0..<max(point, digits.count) {
          if place == point { text += "." }
          text += digitText(place < digits.count ? digits[place] : 0)
        }
        if digits.count <= point { text += ".0" }
      }
      return text
    }
    text += digitText(digits[0])
    if digits.count > 1 {
      text += "."
      for digit in digits.dropFirst() { text += digitText(digit) }
    }
    return text + exponentText(point - 1)
  }

  /// The shortest round-tripping digits of a finite value, read off `description` whatever
  /// layout it chose (`1e-05`, `0.0001`, `1.2345678901234568e+17`, `100.0`).
  static func shortestDigits(_ value: Double) -> (digits: [UInt8], pointPosition: Int) {
    var digits: [UInt8] = []
    var pointPosition: Int?
    var exponent = 0
    var exponentSign = 1
    var inExponent = false
    for character in value.magnitude.description.utf8 {
      switch character {
      case UInt8(ascii: "0")...UInt8(ascii: "9"):
        if inExponent {
          exponent = exponent * 10 + Int(character - UInt8(ascii: "0"))
        } else {
          digits.append(character - UInt8(ascii: "0"))
        }
      case UInt8(ascii: "."):
        pointPosition = digits.count
      case UInt8(ascii: "e"), UInt8(ascii: "E"):
        if pointPosition == nil { pointPosition = digits.count }
        inExponent = true
      case UInt8(ascii: "-"):
        exponentSign = -1
      default:
        break
      }
    }
    var point = (pointPosition ?? digits.count) + exponentSign * exponent
    while let first = digits.first, first == 0 {
      digits.removeFirst()
      point -= 1
    }
    while let last = digits.last, last == 0 { digits.removeLast() }
    return (digits, digits.isEmpty ? 0 : point)
  }

  /// Python's spelling of the non-finite values, or nil for a finite one. NaN prints as `nan`
  /// whatever its sign bit.
  static func nonFinite(_ value: Double) -> String? {
    if value.isNaN { return "nan" }
    if value.isInfinite { return value < 0 ? "-inf" : "inf" }
    return nil
  }

  private static func digitText(_ digit: UInt8) -> String {
    String(UnicodeScalar(UInt8(ascii: "0") + digit))
  }

  /// `e+05`, `e-100`: a sign and at least two digits.
  private static func exponentText(_ exponent: Int) -> String {
    let magnitude = String(exponent.magnitude)
    return (exponent < 0 ? "e-" : "e+") + (magnitude.count < 2 ? "0" : "") + magnitude
  }
}
