/// The text forms of protocol 0's number opcodes, parsed exactly as CPython's C unpickler
/// (`Modules/_pickle.c`) parses them, which is not what `pickletools` accepts.
///
/// Established by running CPython 3.8 to 3.13 (see docs/safety.md, "Parser differentials"):
///
/// * `INT` tries C's `strtol(s, &end, 0)` first (leading blanks, a sign, `0x` hex, a leading `0`
///   for octal: `I010` is 8) and accepts it when it stops at the newline or at a NUL; otherwise
///   it falls back to `int(s, 0)` (`0x`/`0o`/`0b` prefixes, underscores between digits, blanks
///   around, `0` only as all zeros). A line of exactly two characters whose `strtol` value is 0
///   or 1 (`00`, `01`, `+1`, ` 1`) is a bool.
/// * `LONG` drops one trailing `L` and parses the rest with `int(s, 0)`.
/// * `GET`/`PUT` parse their key with `int(s, 10)`: blanks, sign, underscores, leading zeros.
/// * `FLOAT` uses `PyOS_string_to_double`: no blanks, no underscores, `inf`/`infinity`/`nan` in
///   any case with a sign; it must stop at the newline or a NUL; overflow is an error. The
///   pure-Python unpickler (joblib's, dill's) uses `float()`, which takes blanks around,
///   underscores between digits and overflows to infinity: the union of both is accepted.
///
/// Every one of them is a C string: a NUL ends the text early, and what follows it on the line
/// is ignored (`I1\0anything\n` is 1).
public enum TextNumbers {
  /// The number of an `INT` line (without its newline).
  public static func int(_ line: ArraySlice<UInt8>, maxDigits: Int) -> Argument? {
    guard !line.isEmpty else { return nil }
    let s = cString(line)
    if let (value, end) = strtol(s), end == s.endIndex {
      if line.count == 2 && (value == 0 || value == 1) { return .bool(value == 1) }
      return .int(value)
    }
    guard let bytes = fromString(s, base: 0, maxDigits: maxDigits) else { return nil }
    if let small = PyLong.int64(bytes) { return .int(small) }
    return .long(bytes)
  }

  /// The number of a `LONG` line (without its newline).
  public static func long(_ line: ArraySlice<UInt8>, maxDigits: Int) -> Argument? {
    guard !line.isEmpty else { return nil }
    var text = line
    if text.last == UInt8(ascii: "L") { text = text.dropLast() }
    guard let bytes = fromString(cString(text), base: 0, maxDigits: maxDigits) else { return nil }
    if let small = PyLong.int64(bytes) { return .int(small) }
    return .long(bytes)
  }

  /// The key of a `GET` or `PUT` line, or nil when CPython refuses it (or it does not fit).
  public static func memoKey(_ line: ArraySlice<UInt8>) -> Int64? {
    guard !line.isEmpty,
      let bytes = fromString(cString(line), base: 10, maxDigits: 4300)
    else { return nil }
    return PyLong.int64(bytes)
  }

  /// The value of a `FLOAT` line, or nil when both of CPython's unpicklers refuse it: the C
  /// one (`PyOS_string_to_double`, above) and the pure-Python one that joblib and dill use
  /// (`float(line)`: blanks around, underscores between digits, overflow to infinity).
  public static func float(_ line: ArraySlice<UInt8>, includingPurePython: Bool = true) -> Double? {
    guard !line.isEmpty else { return nil }
    if let value = decimalFloat(cString(line), overflowIsError: true) { return value }
    guard includingPurePython else { return nil }
    // Python's float(): strip blanks, then drop underscores that sit between two digits.
    var start = line.startIndex
    var end = line.endIndex
    while start < end, isSpace(line[start]) { start += 1 }
    while end > start, isSpace(line[end - 1]) { end -= 1 }
    let trimmed = line[start..<end]
    var text: [UInt8] = []
    text.reserveCapacity(trimmed.count)
    for i in trimmed.indices {
      guard trimmed[i] == UInt8(ascii: "_") else {
        text.append(trimmed[i])
        continue
      }
      guard i > trimmed.startIndex, i + 1 < trimmed.endIndex,
        digitValue(trimmed[i - 1]) < 10, digitValue(trimmed[i + 1]) < 10
      else { return nil }
    }
    guard !text.contains(0) else { return nil }
    return decimalFloat(text[...], overflowIsError: false)
  }

  /// `[sign] (inf | infinity | nan | digits[.digits][e[sign]digits])`, all of `s`.
  static func decimalFloat(_ s: ArraySlice<UInt8>, overflowIsError: Bool) -> Double? {
    guard !s.isEmpty else { return nil }
    var i = s.startIndex
    var negative = false
    if s[i] == UInt8(ascii: "+") || s[i] == UInt8(ascii: "-") {
      negative = s[i] == UInt8(ascii: "-")
      i += 1
    }
    let rest = String(decoding: s[i...], as: UTF8.self).lowercased()
    switch rest {
    case "inf", "infinity": return negative ? -.infinity : .infinity
    case "nan": return .nan
    default: break
    }
    func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    var digits = 0
    while i < s.endIndex, isDigit(s[i]) {
      i += 1
      digits += 1
    }
    if i < s.endIndex, s[i] == UInt8(ascii: ".") {
      i += 1
      while i < s.endIndex, isDigit(s[i]) {
        i += 1
        digits += 1
      }
    }
    guard digits > 0 else { return nil }
    if i < s.endIndex, s[i] == UInt8(ascii: "e") || s[i] == UInt8(ascii: "E") {
      var j = i + 1
      if j < s.endIndex, s[j] == UInt8(ascii: "+") || s[j] == UInt8(ascii: "-") { j += 1 }
      let start = j
      while j < s.endIndex, isDigit(s[j]) { j += 1 }
      if j > start { i = j }
    }
    guard i == s.endIndex, let value = Double(String(decoding: s, as: UTF8.self)),
      value.isFinite || !overflowIsError
    else { return nil }
    return value
  }

  // MARK: - C's view of the text

  /// The text up to the first NUL (the rest of the line is invisible to C's parsers).
  static func cString(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
    guard let nul = line.firstIndex(of: 0) else { return line }
    return line[line.startIndex..<nul]
  }

  /// `Py_ISSPACE` and C's `isspace` in the C locale.
  static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }

  static func digitValue(_ b: UInt8) -> Int {
    switch b {
    case 0x30...0x39: Int(b - 0x30)
    case 0x61...0x7A: Int(b - 0x61 + 10)
    case 0x41...0x5A: Int(b - 0x41 + 10)
    default: 99
    }
  }

  /// glibc's `strtol(s, &end, 0)`: the value and where it stopped, or nil on overflow (ERANGE,
  /// which sends CPython to its fallback).
  static func strtol(_ s: ArraySlice<UInt8>) -> (Int64, Int)? {
    var i = s.startIndex
    while i < s.endIndex, isSpace(s[i]) { i += 1 }
    var negative = false
    if i < s.endIndex, s[i] == UInt8(ascii: "+") || s[i] == UInt8(ascii: "-") {
      negative = s[i] == UInt8(ascii: "-")
      i += 1
    }
    var base = 10
    if i < s.endIndex, s[i] == UInt8(ascii: "0") {
      if i + 2 < s.endIndex, s[i + 1] == UInt8(ascii: "x") || s[i + 1] == UInt8(ascii: "X"),
        digitValue(s[i + 2]) < 16
      {
        base = 16
        i += 2
      } else {
        base = 8
      }
    }
    let start = i
    var magnitude: UInt64 = 0
    var overflow = false
    while i < s.endIndex, digitValue(s[i]) < base {
      let (m, o1) = magnitude.multipliedReportingOverflow(by: UInt64(base))
      let (a, o2) = m.addingReportingOverflow(UInt64(digitValue(s[i])))
      if o1 || o2 { overflow = true }
      magnitude = a
      i += 1
    }
    if i == start { return (0, s.startIndex) }  // no digits: end is the start
    let limit: UInt64 = negative ? UInt64(Int64.max) + 1 : UInt64(Int64.max)
    if overflow || magnitude > limit { return nil }
    let value = negative ? Int64(truncatingIfNeeded: 0 &- magnitude) : Int64(magnitude)
    return (value, i)
  }

  /// `PyLong_FromString(s, NULL, base)` for base 0 or 10, as minimal two's complement bytes.
  static func fromString(_ s: ArraySlice<UInt8>, base requested: Int, maxDigits: Int) -> [UInt8]? {
    var i = s.startIndex
    let end = s.endIndex
    while i < end, isSpace(s[i]) { i += 1 }
    var negative = false
    if i < end, s[i] == UInt8(ascii: "+") || s[i] == UInt8(ascii: "-") {
      negative = s[i] == UInt8(ascii: "-")
      i += 1
    }
    func at(_ k: Int) -> UInt8 { k < end ? s[k] : 0 }
    var base = requested
    var mustBeZero = false
    if base == 0 {
      if at(i) != UInt8(ascii: "0") {
        base = 10
      } else {
        switch at(i + 1) | 0x20 {
        case UInt8(ascii: "x"): base = 16
        case UInt8(ascii: "o"): base = 8
        case UInt8(ascii: "b"): base = 2
        default:
          base = 10
          mustBeZero = true
        }
      }
      if base != 10 {
        i += 2
        if at(i) == UInt8(ascii: "_") { i += 1 }
      }
    }
    if at(i) == UInt8(ascii: "_") { return nil }
    var digits: [UInt8] = []
    var previousUnderscore = false
    while i < end {
      let b = s[i]
      if b == UInt8(ascii: "_") {
        if previousUnderscore { return nil }
        previousUnderscore = true
        i += 1
        continue
      }
      let v = digitValue(b)
      guard v < base else { break }
      digits.append(UInt8(v))
      previousUnderscore = false
      i += 1
    }
    if previousUnderscore || digits.isEmpty { return nil }
    while i < end, isSpace(s[i]) { i += 1 }
    guard i == end else { return nil }
    if mustBeZero && digits.contains(where: { $0 != 0 }) { return nil }
    var magnitude: [UInt8]
    if base == 10 {
      guard digits.count <= maxDigits,
        let parsed = PyLong.parseDecimal(digits.map { $0 + 0x30 }, maxDigits: maxDigits)
      else { return nil }
      magnitude = parsed
      return negative ? PyLong.negated(magnitude) : magnitude
    }
    // Power-of-two bases: bits straight into bytes, least significant digit first.
    let bits = base == 16 ? 4 : base == 8 ? 3 : 1
    magnitude = []
    magnitude.reserveCapacity(digits.count * bits / 8 + 2)
    var accumulator: UInt32 = 0
    var filled = 0
    for d in digits.reversed() {
      accumulator |= UInt32(d) << UInt32(filled)
      filled += bits
      while filled >= 8 {
        magnitude.append(UInt8(truncatingIfNeeded: accumulator))
        accumulator >>= 8
        filled -= 8
      }
    }
    if filled > 0 { magnitude.append(UInt8(truncatingIfNeeded: accumulator)) }
    magnitude.append(0)  // room for the sign bit
    let minimal = PyLong.minimal(magnitude)
    return negative ? PyLong.negated(minimal) : minimal
  }
}
