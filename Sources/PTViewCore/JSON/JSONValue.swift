import PTViewPickle

/// A parsed JSON value (for safetensors headers and index files).
public enum JSONValue: Sendable, Equatable {
  case null
  case bool(Bool)
  case number(Double, text: String)
  case string(String)
  case array([JSONValue])
  /// Members in document order (duplicate keys kept; `member` returns the last).
  case object([(String, JSONValue)])

  public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
    switch (lhs, rhs) {
    case (.null, .null): true
    case (.bool(let a), .bool(let b)): a == b
    case (.number(_, let a), .number(_, let b)): a == b
    case (.string(let a), .string(let b)): a == b
    case (.array(let a), .array(let b)): a == b
    case (.object(let a), .object(let b)):
      a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    default: false
    }
  }

  /// The value of member `key` of an object.
  public subscript(key: String) -> JSONValue? {
    guard case .object(let members) = self else { return nil }
    return members.last(where: { $0.0 == key })?.1
  }

  /// The string, if this is one.
  public var stringValue: String? {
    if case .string(let s) = self { return s }
    return nil
  }

  /// The integer, if this is a number written without fraction or exponent.
  public var intValue: Int64? {
    if case .number(_, let text) = self { return Int64(text) }
    return nil
  }

  /// The elements, if this is an array.
  public var arrayValue: [JSONValue]? {
    if case .array(let a) = self { return a }
    return nil
  }
}

/// A JSON syntax error at a byte offset.
public struct JSONError: Error, Equatable, Sendable, CustomStringConvertible {
  /// Offset in the parsed text.
  public var offset: Int
  /// What is wrong.
  public var message: String
  public var description: String { "\(message) at JSON byte \(offset)" }
}

/// A small strict JSON parser with a depth limit; iterative enough for hostile headers.
public struct JSONParser {
  private let bytes: [UInt8]
  private var i = 0
  /// The last string value read without escapes: where its bytes are, and the String made of
  /// them. A shard index names the same shard file for thousands of keys in a row; each is
  /// the same String instead of a new one (and comparing them is then one pointer compare).
  private var lastValue: (bytes: Range<Int>, string: String) = (0..<0, "")
  private let maxDepth: Int

  /// Parses `bytes` as one JSON document.
  public static func parse(_ bytes: [UInt8], maxDepth: Int = 64) throws(JSONError) -> JSONValue {
    var parser = JSONParser(bytes: bytes, maxDepth: maxDepth)
    return try parser.document()
  }

  /// Parses `bytes` as one JSON document without keeping the member `streamed` of the
  /// top-level object when it is an object: `restart` is called where each such member begins
  /// (a document may repeat a key; the last one counts, as `subscript` reads it), then
  /// `member` with each of its members as it is read, and the result holds an empty object in
  /// its place. A shard index's weight map as a tree costs several times its bytes; streamed,
  /// it costs only what the caller keeps.
  public static func parse(
    _ bytes: [UInt8], streaming streamed: String, maxDepth: Int = 64, restart: () -> Void,
    member: (String, JSONValue) -> Void
  ) throws(JSONError) -> JSONValue {
    try withoutActuallyEscaping(restart) { restart throws(JSONError) in
      try withoutActuallyEscaping(member) { member throws(JSONError) in
        var parser = JSONParser(bytes: bytes, maxDepth: maxDepth)
        parser.stream = (streamed, restart, member)
        return try parser.document()
      }
    }
  }

  /// Reads the whole input as one document: a value with nothing but space around it.
  private mutating func document() throws(JSONError) -> JSONValue {
    skipSpace()
    let value = try value(depth: 0)
    skipSpace()
    guard i == bytes.count else { throw JSONError(offset: i, message: "trailing data") }
    return value
  }

  /// The top-level member handed out instead of kept, and where it goes.
  private var stream: (key: String, restart: () -> Void, member: (String, JSONValue) -> Void)?

  private init(bytes: [UInt8], maxDepth: Int) {
    self.bytes = bytes
    self.maxDepth = maxDepth
  }

  private mutating func skipSpace() {
    while i < bytes.count,
      bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09
    {
      i += 1
    }
  }

  private func fail(_ message: String) -> JSONError { JSONError(offset: i, message: message) }

  private mutating func expect(_ literal: String) throws(JSONError) {
    for byte in literal.utf8 {
      guard i < bytes.count, bytes[i] == byte else { throw fail("expected \(literal)") }
      i += 1
    }
  }

  private mutating func value(depth: Int) throws(JSONError) -> JSONValue {
    guard depth < maxDepth else { throw fail("nesting deeper than \(maxDepth)") }
    guard i < bytes.count else { throw fail("unexpected end") }
    switch bytes[i] {
    case UInt8(ascii: "{"):
      i += 1
      var members: [(String, JSONValue)] = []
      skipSpace()
      if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
        i += 1
        return .object(members)
      }
      while true {
        skipSpace()
        guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a key") }
        let key = try string()
        skipSpace()
        try expect(":")
        skipSpace()
        if depth == 0, let stream, key == stream.key, i < bytes.count,
          bytes[i] == UInt8(ascii: "{")
        {
          stream.restart()
          try streamMembers(depth: depth + 1, to: stream.member)
          members.append((key, .object([])))
        } else {
          members.append((key, try value(depth: depth + 1)))
        }
        skipSpace()
        guard i < bytes.count else { throw fail("unexpected end") }
        if bytes[i] == UInt8(ascii: ",") {
          i += 1
          continue
        }
        try expect("}")
        return .object(members)
      }
    case UInt8(ascii: "["):
      i += 1
      var items: [JSONValue] = []
      skipSpace()
      if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
        i += 1
        return .array(items)
      }
      while true {
        skipSpace()
        items.append(try value(depth: depth + 1))
        skipSpace()
        guard i < bytes.count else { throw fail("unexpected end") }
        if bytes[i] == UInt8(ascii: ",") {
          i += 1
          continue
        }
        try expect("]")
        return .array(items)
      }
    case UInt8(ascii: "\""):
      return .string(try string(reusingLast: true))
    case UInt8(ascii: "t"):
      try expect("true")
      return .bool(true)
    case UInt8(ascii: "f"):
      try expect("false")
      return .bool(false)
    case UInt8(ascii: "n"):
      try expect("null")
      return .null
    default:
      let start = i
      while i < bytes.count, "+-0123456789.eE".utf8.contains(bytes[i]) { i += 1 }
      let text = String(decoding: bytes[start..<i], as: UTF8.self)
      guard !text.isEmpty, let number = Double(text) else {
        i = start
        throw fail("unexpected character")
      }
      return .number(number, text: text)
    }
  }

  /// Reads the object at `i` (its depth `depth`) and hands each member to `member` instead of
  /// keeping it: the same checks as `value`, without the tree.
  private mutating func streamMembers(depth: Int, to member: (String, JSONValue) -> Void)
    throws(JSONError)
  {
    guard depth < maxDepth else { throw fail("nesting deeper than \(maxDepth)") }
    i += 1  // the opening brace
    skipSpace()
    if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
      i += 1
      return
    }
    while true {
      skipSpace()
      guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a key") }
      let key = try string()
      skipSpace()
      try expect(":")
      skipSpace()
      member(key, try value(depth: depth + 1))
      skipSpace()
      guard i < bytes.count else { throw fail("unexpected end") }
      if bytes[i] == UInt8(ascii: ",") {
        i += 1
        continue
      }
      try expect("}")
      return
    }
  }

  /// Reads a string; `reusingLast`: a value equal to the last value read returns that String.
  private mutating func string(reusingLast: Bool = false) throws(JSONError) -> String {
    i += 1  // opening quote
    // Most strings (every key of a shard index) hold no escape: find the closing quote and
    // take the bytes in one piece. Anything else is read byte by byte below.
    let start = i
    let last = reusingLast ? lastValue.bytes : 0..<0
    // (plain, same as the last value, the String if it is a new one)
    let (end, same, plain) = bytes.withUnsafeBufferPointer {
      buffer -> (Int, Bool, String?) in
      guard let base = buffer.baseAddress else { return (start, false, nil) }
      var end = start
      // Eight bytes at a time while none is a quote, a backslash or a control byte (a
      // shard index is a megabyte of such strings), then byte by byte to the one that is.
      let ones: UInt64 = 0x0101_0101_0101_0101
      let highs: UInt64 = 0x8080_8080_8080_8080
      while end + 8 <= buffer.count {
        let word = UnsafeRawPointer(base + end).loadUnaligned(as: UInt64.self)
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        // Nonzero exactly when some byte of `quote` or `backslash` is zero or of `word` is
        // below 0x20.
        let special =
          ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash)
          | ((word &- ones &* 0x20) & ~word)
        if special & highs != 0 { break }
        end += 8
      }
      while end < buffer.count {
        let byte = base[end]
        if byte == 0x22 || byte == 0x5C || byte < 0x20 { break }
        end += 1
      }
      guard end < buffer.count, base[end] == 0x22 else { return (end, false, nil) }
      let count = end - start
      if reusingLast, last.count == count {
        var k = 0
        while k + 8 <= count,
          UnsafeRawPointer(base + last.lowerBound + k).loadUnaligned(as: UInt64.self)
            == UnsafeRawPointer(base + start + k).loadUnaligned(as: UInt64.self)
        {
          k += 8
        }
        while k < count, base[last.lowerBound + k] == base[start + k] { k += 1 }
        if k == count { return (end, true, nil) }
      }
      return (end, false, UTF8Text.string(UnsafeBufferPointer(start: base + start, count: count)))
    }
    if end < bytes.count, bytes[end] == 0x22 {
      i = end + 1  // where the byte-by-byte reading reports invalid UTF-8 too
      if same { return lastValue.string }
      guard let s = plain else { throw fail("invalid UTF-8") }
      if reusingLast { lastValue = (start..<end, s) }
      return s
    }
    var out: [UInt8] = []
    while i < bytes.count {
      let b = bytes[i]
      i += 1
      switch b {
      case UInt8(ascii: "\""):
        guard let s = String(validating: out, as: UTF8.self) else { throw fail("invalid UTF-8") }
        return s
      case UInt8(ascii: "\\"):
        guard i < bytes.count else { throw fail("unexpected end") }
        let e = bytes[i]
        i += 1
        switch e {
        case UInt8(ascii: "\""): out.append(0x22)
        case UInt8(ascii: "\\"): out.append(0x5C)
        case UInt8(ascii: "/"): out.append(0x2F)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
          var code = try hex4()
          if (0xD800..<0xDC00).contains(code), i + 1 < bytes.count, bytes[i] == 0x5C,
            bytes[i + 1] == UInt8(ascii: "u")
          {
            i += 2
            let low = try hex4()
            code = 0x10000 + ((code - 0xD800) << 10) + (low &- 0xDC00)
          }
          UTF8Writer.append(code, to: &out)
        default: throw fail("bad escape")
        }
      case 0..<0x20:
        throw fail("control character in string")
      default:
        out.append(b)
      }
    }
    throw fail("unterminated string")
  }

  private mutating func hex4() throws(JSONError) -> UInt32 {
    guard i + 4 <= bytes.count else { throw fail("bad \\u escape") }
    var v: UInt32 = 0
    for _ in 0..<4 {
      let c = bytes[i]
      i += 1
      let d: UInt32
      switch c {
      case 0x30...0x39: d = UInt32(c - 0x30)
      case 0x61...0x66: d = UInt32(c - 0x61 + 10)
      case 0x41...0x46: d = UInt32(c - 0x41 + 10)
      default: throw fail("bad \\u escape")
      }
      v = v << 4 | d
    }
    return v
  }
}
