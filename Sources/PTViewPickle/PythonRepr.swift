/// Python's `repr()` and `ascii()` for the values pickletools prints, so that `ptview dis`
/// matches `python3 -m pickletools` byte for byte.
public enum PythonRepr {
  /// `repr(int)` of a two's complement byte string; `<int of N bytes>` past CPython's
  /// 4300-digit conversion limit.
  public static func int<C: Collection<UInt8>>(bytes: C) -> String {
    PyLong.decimal(bytes) ?? "<int of \(bytes.count) bytes>"
  }

  /// `repr(float)`: the shortest round-tripping digits, in Python's layout.
  public static func float(_ value: Double) -> String {
    if value.isNaN { return "nan" }
    if value.isInfinite { return value < 0 ? "-inf" : "inf" }
    if value == 0 { return value.sign == .minus ? "-0.0" : "0.0" }
    // Swift's description gives the same shortest digits; re-lay them out the way Python does.
    var text = Substring(value.magnitude.description)
    var exponent = 0
    if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
      exponent = Int(text[text.index(after: e)...]) ?? 0
      text = text[..<e]
    }
    var digits = ""
    var pointPosition = text.count
    if let dot = text.firstIndex(of: ".") {
      pointPosition = text.distance(from: text.startIndex, to: dot)
      digits = String(text[..<dot]) + String(text[text.index(after: dot)...])
    } else {
      digits = String(text)
    }
    // Normalise: strip leading zeros (adjusting the point) and trailing zeros.
    var decpt = pointPosition + exponent
    while digits.first == "0" && digits.count > 1 {
      digits.removeFirst()
      decpt -= 1
    }
    while digits.last == "0" && digits.count > 1 { digits.removeLast() }
    let sign = value < 0 ? "-" : ""
    if decpt <= -4 || decpt > 16 {
      let exp = decpt - 1
      let mantissa = digits.count > 1 ? "\(digits.first!).\(digits.dropFirst())" : digits
      let expDigits = String(abs(exp)).leftPadded(to: 2)
      return "\(sign)\(mantissa)e\(exp < 0 ? "-" : "+")\(expDigits)"
    }
    if decpt <= 0 {
      return sign + "0." + String(repeating: "0", count: -decpt) + digits
    }
    if decpt >= digits.count {
      return sign + digits + String(repeating: "0", count: decpt - digits.count) + ".0"
    }
    let cut = digits.index(digits.startIndex, offsetBy: decpt)
    return sign + digits[..<cut] + "." + digits[cut...]
  }

  /// `repr(str)` of UTF-8 (surrogatepass) bytes; `ascii(str)` when `asciiOnly`.
  public static func string(codePoints: [UInt32], asciiOnly: Bool = false) -> String {
    let hasSingle = codePoints.contains(0x27)
    let hasDouble = codePoints.contains(0x22)
    let quote: UInt32 = hasSingle && !hasDouble ? 0x22 : 0x27
    var out = quote == 0x22 ? "\"" : "'"
    for code in codePoints {
      switch code {
      case quote, 0x5C: out += "\\" + String(UnicodeScalar(UInt8(code)))
      case 0x09: out += "\\t"
      case 0x0A: out += "\\n"
      case 0x0D: out += "\\r"
      case 0x20..<0x7F: out.unicodeScalars.append(UnicodeScalar(UInt8(code)))
      default:
        if !asciiOnly, code >= 0x80, isPrintable(code), let scalar = UnicodeScalar(code) {
          out.unicodeScalars.append(scalar)
        } else if code < 0x100 {
          out += "\\x" + hex(code, 2)
        } else if code < 0x10000 {
          out += "\\u" + hex(code, 4)
        } else {
          out += "\\U" + hex(code, 8)
        }
      }
    }
    out += quote == 0x22 ? "\"" : "'"
    return out
  }

  /// `repr(str)` of UTF-8 bytes, or nil when they are not valid UTF-8.
  public static func string<C: Collection<UInt8>>(utf8: C, asciiOnly: Bool = false) -> String?
  where C.Index == Int {
    guard let codes = UTF8Writer.codePoints(utf8) else { return nil }
    return string(codePoints: codes, asciiOnly: asciiOnly)
  }

  /// `repr(bytes)`.
  public static func bytes<C: Collection<UInt8>>(_ data: C) -> String {
    let hasSingle = data.contains(0x27)
    let hasDouble = data.contains(0x22)
    let quote: UInt8 = hasSingle && !hasDouble ? 0x22 : 0x27
    var out = "b" + String(UnicodeScalar(quote))
    for byte in data {
      switch byte {
      case quote, 0x5C: out += "\\" + String(UnicodeScalar(byte))
      case 0x09: out += "\\t"
      case 0x0A: out += "\\n"
      case 0x0D: out += "\\r"
      case 0x20..<0x7F: out.unicodeScalars.append(UnicodeScalar(byte))
      default: out += "\\x" + hex(UInt32(byte), 2)
      }
    }
    return out + String(UnicodeScalar(quote))
  }

  static func hex(_ value: UInt32, _ width: Int) -> String {
    String(value, radix: 16).leftPadded(to: width)
  }

  /// Python's `str.isprintable()` for one code point: every category except Cc, Cf, Cs, Co,
  /// Cn, Zl, Zp and Zs (the space itself is printable).
  static func isPrintable(_ code: UInt32) -> Bool {
    if code == 0x20 { return true }
    guard let scalar = UnicodeScalar(code) else { return false }
    switch scalar.properties.generalCategory {
    case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator,
      .paragraphSeparator, .spaceSeparator:
      return false
    default:
      return true
    }
  }
}
