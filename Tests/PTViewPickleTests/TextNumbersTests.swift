import PTViewPickle
import Testing

/// The text number forms as CPython 3.8-3.13's C unpickler reads them, and for FLOAT also its
/// pure-Python one (each row was run through `pickle.loads` and `pickle._loads` on those versions; Tests/Interop/test_scan_differential.py keeps checking the
/// VM against them).
@Suite struct TextNumbersTests {
  static func line(_ s: String) -> ArraySlice<UInt8> { Array(s.utf8)[...] }

  static let ints: [(String, String?)] = [
    ("0x1", "1"), ("0X1F", "31"), ("0o7", "7"), ("0O7", "7"), ("0b1", "1"), ("0B1", "1"),
    ("1_0", "10"), (" 1 ", "1"), ("+1", "true"), ("01", "true"), ("00", "false"), (" 1", "true"),
    ("\t1", "true"), ("-0", "false"), ("001", "1"), ("010", "8"), ("02", "2"), ("0_0", "0"),
    ("00_0", "0"), ("1\r", "1"), ("1\u{0B}", "1"), ("1\0zz", "1"), ("0b1\0zz", "1"), ("\0", "0"),
    ("99999999999999999999", "99999999999999999999"),
    ("0x8000000000000000", "9223372036854775808"), ("-9223372036854775809", "-9223372036854775809"),
    ("08", nil), ("0_1", nil), ("1__0", nil), ("_1", nil), ("1_", nil), ("0x_", nil), ("0x", nil),
    ("1L", nil), (" ", nil), ("", nil), ("1\u{1C}", nil), ("0o", nil), ("1e3", nil),
  ]

  static func describe(_ a: Argument?) -> String? {
    switch a {
    case .bool(let b)?: b ? "true" : "false"
    case .int(let v)?: String(v)
    case .long(let bytes)?: PyLong.decimal(bytes)
    default: nil
    }
  }

  @Test("INT lines", arguments: ints)
  func int(_ text: String, _ expected: String?) {
    #expect(Self.describe(TextNumbers.int(Self.line(text), maxDigits: 4300)) == expected)
  }

  static let longs: [(String, String?)] = [
    ("0x1950a86a20f9469cfc6cL", "119547037146038801333356"), ("1", "1"), ("1L", "1"),
    (" 1L", "1"), ("1 L", "1"), ("1_0L", "10"), ("-0x10L", "-16"), ("0b101L", "5"), ("00L", "0"),
    ("0_0L", "0"), (" 0x1 L", "1"), ("+0b1L", "1"), ("1\0zzL", "1"),
    ("01L", nil), ("0LL", nil), ("L", nil), ("1l", nil), (" ", nil),
  ]

  @Test("LONG lines", arguments: longs)
  func long(_ text: String, _ expected: String?) {
    #expect(Self.describe(TextNumbers.long(Self.line(text), maxDigits: 4300)) == expected)
  }

  static let floats: [(String, Double?)] = [
    ("1.5", 1.5), ("inf", .infinity), ("INFINITY", .infinity), ("-inf", -.infinity), ("1e5", 1e5),
    (".5", 0.5), ("5.", 5), ("1.5\0zz", 1.5), ("1.5e-400", 0), ("-0.0", 0),
    // The C unpickler refuses these, the pure-Python one (joblib's, dill's) takes them.
    ("1_0", 10), (" 1.5", 1.5), ("1.5 ", 1.5), ("1e500", .infinity), ("-1e500", -.infinity),
    ("1_000.5", 1000.5), ("1e1_0", 1e10), (".5_0", 0.5), (" inf ", .infinity), ("\u{0B}1\u{0C}", 1),
    // Both refuse these.
    ("0x1p3", nil), ("1e", nil), ("1__0", nil), ("_1", nil), ("1_", nil), ("1_.5", nil),
    ("1._5", nil), ("\u{1C}1", nil), ("1e+", nil), (".", nil), ("e5", nil), ("infx", nil),
    ("-", nil), ("\0", nil), ("1L", nil),
  ]

  @Test("FLOAT lines", arguments: floats)
  func float(_ text: String, _ expected: Double?) {
    #expect(TextNumbers.float(Self.line(text)) == expected)
  }

  @Test("FLOAT nan in any case, with a sign") func nan() {
    for text in ["nan", "NaN", "+nan", "-nan"] {
      #expect(TextNumbers.float(Self.line(text))?.isNaN == true, "\(text)")
    }
  }

  static let keys: [(String, Int64?)] = [
    ("0", 0), (" 0", 0), ("00", 0), ("+0", 0), ("-0", 0), ("1_0", 10), (" 1_0 ", 10), ("-1", -1),
    ("0x0", nil), ("0L", nil), ("", nil),
  ]

  @Test("GET and PUT keys", arguments: keys)
  func memoKey(_ text: String, _ expected: Int64?) {
    #expect(TextNumbers.memoKey(Self.line(text)) == expected)
  }
}
