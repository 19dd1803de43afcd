/// Reads opcodes and their inline arguments from a byte buffer, driven by the opcode table.
///
/// Offsets are absolute file offsets: `base` is the file offset of `bytes[0]`, so a pickle that
/// sits inside a larger file reports errors where a hex viewer would find them.
public struct InstructionReader: Sendable {
  /// The buffer.
  public let bytes: [UInt8]
  /// File offset of `bytes[0]`.
  public let base: Int
  /// Index of the next byte to read.
  public var position: Int
  /// Bounds every counted argument.
  public let limits: Limits
  /// Reads what the pure-Python unpickler also reads (joblib's, dill's): a last line without
  /// its newline (`readline()[:-1]` at the end of the data drops the last byte, or gives an
  /// empty line, instead of failing) and FLOAT through `float()`. Off for the disassembler,
  /// which follows pickletools, and for checkpoint readers, which follow torch.load.
  public var lenient = false

  /// Creates a reader starting at `position` (an index into `bytes`).
  public init(bytes: [UInt8], base: Int = 0, position: Int = 0, limits: Limits = .default) {
    self.bytes = bytes
    self.base = base
    self.position = position
    self.limits = limits
  }

  /// Argument kind per opcode byte, computed once (see `Opcode.protocolByByte`).
  static let argumentKinds: [ArgumentKind?] = {
    var table = [ArgumentKind?](repeating: nil, count: 256)
    for op in Opcode.allCases { table[Int(op.rawValue)] = op.info.argument }
    return table
  }()

  /// Whether every byte has been read.
  public var atEnd: Bool { position >= bytes.count }

  /// Reads the next instruction.
  /// - Throws: `PickleError` for unknown opcodes, truncated or malformed arguments.
  public mutating func next() throws(PickleError) -> Instruction {
    let start = position
    guard start < bytes.count else {
      throw PickleError(offset: base + start, opcode: nil, reason: .endOfData)
    }
    guard let opcode = Opcode(rawValue: bytes[start]) else {
      throw PickleError(offset: base + start, opcode: nil, reason: .unknownOpcode(bytes[start]))
    }
    position += 1
    var argument: Argument? = nil
    if let kind = Self.argumentKinds[Int(opcode.rawValue)] {
      do {
        argument = try read(kind, opcode)
      } catch let reason {
        position = start
        throw PickleError(offset: base + start, opcode: opcode, reason: reason)
      }
    }
    return Instruction(
      offset: base + start, opcode: opcode, argument: argument, end: base + position)
  }

  // MARK: - Argument decoding

  private mutating func take(_ count: Int) throws(PickleError.Reason) -> ArraySlice<UInt8> {
    let available = bytes.count - position
    guard count <= available else {
      throw .truncated(needed: count, available: available)
    }
    let slice = bytes[position..<(position + count)]
    position += count
    return slice
  }

  private mutating func unsigned(_ width: Int) throws(PickleError.Reason) -> UInt64 {
    let slice = try take(width)
    var value: UInt64 = 0
    for (i, byte) in slice.enumerated() { value |= UInt64(byte) << (8 * UInt64(i)) }
    return value
  }

  private mutating func counted(_ lengthWidth: Int) throws(PickleError.Reason) -> ArraySlice<UInt8>
  {
    let length = try unsigned(lengthWidth)
    let available = bytes.count - position
    guard length <= UInt64(available) else {
      throw .truncated(needed: Int(clamping: length), available: available)
    }
    guard length <= UInt64(limits.maxArgumentBytes) else {
      throw .limitExceeded(.argumentBytes, limit: limits.maxArgumentBytes)
    }
    return try take(Int(length))
  }

  private mutating func line() throws(PickleError.Reason) -> ArraySlice<UInt8> {
    guard position < bytes.count, let newline = bytes[position...].firstIndex(of: 0x0A) else {
      if lenient {
        // What is left, without its last byte; nothing at all at the very end.
        let slice = bytes[min(position, bytes.count)..<max(position, bytes.count - 1)]
        position = bytes.count
        return slice
      }
      throw .invalidArgument("no newline found")
    }
    let slice = bytes[position..<newline]
    position = newline + 1
    return slice
  }

  private mutating func read(_ kind: ArgumentKind, _ opcode: Opcode) throws(PickleError.Reason)
    -> Argument
  {
    switch kind {
    case .uint1: return .int(Int64(try unsigned(1)))
    case .uint2: return .int(Int64(try unsigned(2)))
    case .uint4: return .int(Int64(try unsigned(4)))
    case .int4: return .int(Int64(Int32(truncatingIfNeeded: try unsigned(4))))
    case .uint8:
      let value = try unsigned(8)
      guard value <= UInt64(Int64.max) else {
        throw .invalidArgument("length \(value) is too large")
      }
      return .int(Int64(value))
    case .float8:
      return .float(Double(bitPattern: (try take(8)).reduce(0) { ($0 << 8) | UInt64($1) }))
    case .long1:
      return .long(Array(try counted(1)))
    case .long4:
      let length = Int32(truncatingIfNeeded: try unsigned(4))
      guard length >= 0 else { throw .invalidArgument("LONG4 byte count \(length) is negative") }
      position -= 4
      return .long(Array(try counted(4)))
    case .string1, .bytes1, .unicodestring1:
      return .bytes(try counted(1))
    case .string4:
      let length = Int32(truncatingIfNeeded: try unsigned(4))
      guard length >= 0 else { throw .invalidArgument("BINSTRING length \(length) is negative") }
      position -= 4
      return .bytes(try counted(4))
    case .bytes4, .unicodestring4:
      return .bytes(try counted(4))
    case .bytes8, .bytearray8, .unicodestring8:
      return .bytes(try counted(8))
    case .floatnl:
      // CPython's C unpickler (TextNumbers), not pickletools: no blanks, a NUL ends the text.
      let text = try line()
      guard let value = TextNumbers.float(text, includingPurePython: lenient) else {
        throw .invalidArgument(
          "could not convert string to float: \(Self.quoted(text))")
      }
      return .float(value)
    case .decimalnlShort:
      let text = try line()
      if opcode != .int {
        // GET and PUT: int(key, 10).
        guard let key = TextNumbers.memoKey(text) else {
          throw .invalidArgument("invalid memo key \(Self.quoted(text))")
        }
        return .int(key)
      }
      guard let value = TextNumbers.int(text, maxDigits: limits.maxIntegerDigits) else {
        throw .invalidArgument("invalid integer literal \(Self.quoted(text))")
      }
      return value
    case .decimalnlLong:
      let text = try line()
      guard let value = TextNumbers.long(text, maxDigits: limits.maxIntegerDigits) else {
        throw .invalidArgument("invalid integer literal \(Self.quoted(text))")
      }
      return value
    case .stringnl:
      return .text(try Self.unquote(try line()))
    case .stringnlNoescape:
      return .text(Array(try line()))
    case .stringnlNoescapePair:
      let module = Array(try line())
      let name = Array(try line())
      return .pair(module, name)
    case .unicodestringnl:
      return .text(try Self.rawUnicodeEscape(try line()))
    }
  }

  // MARK: - Text forms

  static func quoted(_ text: ArraySlice<UInt8>) -> String {
    String(decoding: text.prefix(40), as: UTF8.self).debugDescription
  }

  /// Python's `int(text)` for the forms picklers write: optional blanks, sign, decimal digits.
  static func integer(_ text: ArraySlice<UInt8>, maxDigits: Int) throws(PickleError.Reason)
    -> Argument
  {
    let trimmed = text.drop(while: { $0 == 0x20 || $0 == 0x09 }).reversed()
      .drop(while: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }).reversed()
    let digits = Array(trimmed)
    guard let encoded = PyLong.parseDecimal(digits, maxDigits: maxDigits) else {
      throw .invalidArgument(
        "invalid integer literal \(String(decoding: text.prefix(40), as: UTF8.self).debugDescription)"
      )
    }
    if let small = PyLong.int64(encoded) { return .int(small) }
    return .long(encoded)
  }

  /// Python's `float(text)`: decimal and exponent forms, `inf`, `nan`, surrounding blanks.
  static func parseFloat(_ raw: String) -> Double? {
    let text = raw.trimmingBlanks()
    let lower = text.lowercased()
    switch lower {
    case "inf", "+inf", "infinity", "+infinity": return .infinity
    case "-inf", "-infinity": return -.infinity
    case "nan", "+nan", "-nan": return .nan
    default: break
    }
    guard !text.isEmpty,
      text.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) })
    else { return nil }
    return Double(text)
  }

  /// Undoes a STRING argument's quotes and backslash escapes (CPython's `escape_decode`).
  static func unquote(_ line: ArraySlice<UInt8>) throws(PickleError.Reason) -> [UInt8] {
    guard line.count >= 2, let first = line.first, first == line.last,
      first == UInt8(ascii: "'") || first == UInt8(ascii: "\"")
    else { throw .invalidArgument("the STRING opcode argument must be quoted") }
    let body = line.dropFirst().dropLast()
    var out: [UInt8] = []
    out.reserveCapacity(body.count)
    var i = body.startIndex
    func hex(_ b: UInt8) -> UInt8? {
      switch b {
      case 0x30...0x39: b - 0x30
      case 0x61...0x66: b - 0x61 + 10
      case 0x41...0x46: b - 0x41 + 10
      default: nil
      }
    }
    while i < body.endIndex {
      let b = body[i]
      i += 1
      guard b == UInt8(ascii: "\\") else {
        out.append(b)
        continue
      }
      guard i < body.endIndex else { throw .invalidArgument("trailing \\ in string") }
      let e = body[i]
      i += 1
      switch e {
      case UInt8(ascii: "\n"): break
      case UInt8(ascii: "\\"): out.append(0x5C)
      case UInt8(ascii: "'"): out.append(0x27)
      case UInt8(ascii: "\""): out.append(0x22)
      case UInt8(ascii: "a"): out.append(0x07)
      case UInt8(ascii: "b"): out.append(0x08)
      case UInt8(ascii: "f"): out.append(0x0C)
      case UInt8(ascii: "n"): out.append(0x0A)
      case UInt8(ascii: "r"): out.append(0x0D)
      case UInt8(ascii: "t"): out.append(0x09)
      case UInt8(ascii: "v"): out.append(0x0B)
      case UInt8(ascii: "0")...UInt8(ascii: "7"):
        var value = Int(e - 0x30)
        var n = 1
        while n < 3, i < body.endIndex, (0x30...0x37).contains(body[i]) {
          value = value * 8 + Int(body[i] - 0x30)
          i += 1
          n += 1
        }
        out.append(UInt8(truncatingIfNeeded: value))
      case UInt8(ascii: "x"):
        guard i + 2 <= body.endIndex, let h = hex(body[i]), let l = hex(body[i + 1])
        else { throw .invalidArgument("invalid \\x escape") }
        out.append(h << 4 | l)
        i += 2
      default:
        out.append(0x5C)
        out.append(e)
      }
    }
    return out
  }

  /// Decodes `raw-unicode-escape` (protocol 0 UNICODE) into UTF-8 with surrogates passed.
  static func rawUnicodeEscape(_ line: ArraySlice<UInt8>) throws(PickleError.Reason) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(line.count)
    var i = line.startIndex
    while i < line.endIndex {
      guard line[i] == UInt8(ascii: "\\") else {
        UTF8Writer.append(UInt32(line[i]), to: &out)
        i += 1
        continue
      }
      var j = i
      while j < line.endIndex, line[j] == UInt8(ascii: "\\") { j += 1 }
      let run = j - i
      guard run % 2 == 1, j < line.endIndex,
        line[j] == UInt8(ascii: "u") || line[j] == UInt8(ascii: "U")
      else {
        for _ in 0..<run { out.append(0x5C) }
        i = j
        continue
      }
      for _ in 0..<(run - 1) { out.append(0x5C) }
      let width = line[j] == UInt8(ascii: "u") ? 4 : 8
      let digitsStart = j + 1
      guard digitsStart + width <= line.endIndex else {
        throw .invalidArgument("truncated \\uXXXX escape")
      }
      var code: UInt32 = 0
      for k in digitsStart..<(digitsStart + width) {
        let c = line[k]
        let v: UInt32
        switch c {
        case 0x30...0x39: v = UInt32(c - 0x30)
        case 0x61...0x66: v = UInt32(c - 0x61 + 10)
        case 0x41...0x46: v = UInt32(c - 0x41 + 10)
        default: throw .invalidArgument("truncated \\uXXXX escape")
        }
        code = code << 4 | v
      }
      guard code <= 0x10FFFF else { throw .invalidArgument("\\Uxxxxxxxx out of range") }
      UTF8Writer.append(code, to: &out)
      i = digitsStart + width
    }
    return out
  }
}

/// UTF-8 encoding and validation with CPython's `surrogatepass` behaviour.
public enum UTF8Writer {
  /// Appends one code point (surrogates included, as surrogatepass writes them).
  public static func append(_ code: UInt32, to out: inout [UInt8]) {
    switch code {
    case 0..<0x80: out.append(UInt8(code))
    case 0x80..<0x800:
      out.append(UInt8(0xC0 | (code >> 6)))
      out.append(UInt8(0x80 | (code & 0x3F)))
    case 0x800..<0x10000:
      out.append(UInt8(0xE0 | (code >> 12)))
      out.append(UInt8(0x80 | ((code >> 6) & 0x3F)))
      out.append(UInt8(0x80 | (code & 0x3F)))
    default:
      out.append(UInt8(0xF0 | (code >> 18)))
      out.append(UInt8(0x80 | ((code >> 12) & 0x3F)))
      out.append(UInt8(0x80 | ((code >> 6) & 0x3F)))
      out.append(UInt8(0x80 | (code & 0x3F)))
    }
  }

  /// Decodes UTF-8 (surrogates allowed) into code points, or nil when malformed.
  public static func codePoints<C: Collection<UInt8>>(_ bytes: C) -> [UInt32]?
  where C.Index == Int {
    var out: [UInt32] = []
    out.reserveCapacity(bytes.count)
    var i = bytes.startIndex
    let end = bytes.endIndex
    while i < end {
      let b0 = bytes[i]
      if b0 < 0x80 {
        out.append(UInt32(b0))
        i += 1
        continue
      }
      let need: Int
      var code: UInt32
      switch b0 {
      case 0xC2...0xDF: need = 1; code = UInt32(b0 & 0x1F)
      case 0xE0...0xEF: need = 2; code = UInt32(b0 & 0x0F)
      case 0xF0...0xF4: need = 3; code = UInt32(b0 & 0x07)
      default: return nil
      }
      guard i + need < end else { return nil }
      for k in 1...need {
        let b = bytes[i + k]
        guard b & 0xC0 == 0x80 else { return nil }
        code = code << 6 | UInt32(b & 0x3F)
      }
      // Reject overlong forms and values above U+10FFFF, as CPython does.
      if (need == 2 && code < 0x800) || (need == 3 && (code < 0x10000 || code > 0x10FFFF)) {
        return nil
      }
      out.append(code)
      i += need + 1
    }
    return out
  }

  /// Whether `bytes` is UTF-8 with surrogates allowed.
  public static func isValid<C: Collection<UInt8>>(_ bytes: C) -> Bool where C.Index == Int {
    // Fast path: pure ASCII.
    if bytes.allSatisfy({ $0 < 0x80 }) { return true }
    return codePoints(bytes) != nil
  }
}

extension String {
  /// Drops leading and trailing ASCII blanks (space, tab, CR, LF, VT, FF).
  public func trimmingBlanks() -> String {
    let blanks: Set<Character> = [" ", "\t", "\r", "\n", "\u{0B}", "\u{0C}"]
    var s = Substring(self)
    while let f = s.first, blanks.contains(f) { s = s.dropFirst() }
    while let l = s.last, blanks.contains(l) { s = s.dropLast() }
    return String(s)
  }
}
