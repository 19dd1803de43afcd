/// Writes compact JSON text, escaping strings as RFC 8259 asks (no Foundation needed).
public struct JSONWriter: Sendable {
  /// The text so far.
  public private(set) var text = ""

  /// An empty writer.
  public init() {}

  /// A JSON string literal for `value`.
  public static func quoted(_ value: String) -> String {
    var out = "\""
    for scalar in value.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case _ where scalar.value < 0x20:
        out += "\\u" + String(scalar.value, radix: 16).leftPad(4)
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out + "\""
  }

  /// Appends raw text.
  public mutating func raw(_ s: String) { text += s }
}

extension String {
  func leftPad(_ width: Int, _ pad: Character = "0") -> String {
    count >= width ? self : String(repeating: pad, count: width - count) + self
  }
}

/// Builds JSON text as UTF-8 bytes in a buffer it manages itself: for outputs with tens of
/// thousands of objects, plain stores into owned memory are several times cheaper than
/// `Array.append` (which re-checks uniqueness and capacity on every call).
public struct JSONBytes: ~Copyable {
  private var base: UnsafeMutablePointer<UInt8>
  private var count = 0
  private var capacity: Int

  /// An empty buffer.
  public init(capacity: Int = 0) {
    self.capacity = max(256, capacity)
    base = .allocate(capacity: self.capacity)
  }

  deinit { base.deallocate() }

  @inline(__always)
  private mutating func reserve(_ extra: Int) {
    guard count + extra > capacity else { return }
    var newCapacity = capacity * 2
    while newCapacity < count + extra { newCapacity *= 2 }
    let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
    grown.update(from: base, count: count)
    base.deallocate()
    base = grown
    capacity = newCapacity
  }

  @inline(__always)
  private mutating func append(_ byte: UInt8) {
    reserve(1)
    base[count] = byte
    count += 1
  }

  @inline(__always)
  private mutating func append(_ buffer: UnsafeBufferPointer<UInt8>) {
    reserve(buffer.count)
    if buffer.count <= 24, let source = buffer.baseAddress {
      // Keys, punctuation and most values are this short: a plain loop beats calling memmove.
      for i in 0..<buffer.count { base[count + i] = source[i] }
    } else if let source = buffer.baseAddress {
      (base + count).update(from: source, count: buffer.count)
    }
    count += buffer.count
  }

  /// Appends bytes as they are (text rendered once and written many times).
  public mutating func raw(_ bytes: [UInt8]) {
    bytes.withUnsafeBufferPointer { append($0) }
  }

  /// Appends text as is.
  public mutating func raw(_ text: String) {
    var copy = text
    copy.withUTF8 { append($0) }
  }

  /// Appends literal text (read in place: a literal is a pointer into the binary).
  @inline(__always)
  public mutating func literal(_ text: StaticString) {
    if text.hasPointerRepresentation {
      append(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    } else {
      text.withUTF8Buffer { append($0) }
    }
  }

  /// Appends a quoted, escaped JSON string (one pass over the UTF-8, which for the small
  /// strings most keys are is iterated in place).
  public mutating func string(_ text: String) {
    reserve(text.utf8.count * 6 + 2)
    base[count] = 0x22
    count += 1
    escaped(text)
    base[count] = 0x22
    count += 1
  }

  /// Appends the escaped content of a string without the quotes.
  public mutating func unquoted(_ text: String) {
    reserve(text.utf8.count * 6)
    escaped(text)
  }

  /// Writes `text` escaped; the caller has reserved 6 bytes per UTF-8 byte.
  @inline(__always)
  private mutating func escaped(_ text: String) {
    let done = text.utf8.withContiguousStorageIfAvailable { utf8 -> Bool in
      escaped(utf8)
      return true
    }
    if done != true {
      let copy = Array(text.utf8)
      copy.withUnsafeBufferPointer { escaped($0) }
    }
  }

  @inline(__always)
  private mutating func escaped(_ utf8: UnsafeBufferPointer<UInt8>) {
    // Fast path: nothing to escape, one copy.
    var plain = true
    for byte in utf8 where byte < 0x20 || byte == 0x22 || byte == 0x5C {
      plain = false
      break
    }
    if plain {
      if let source = utf8.baseAddress { (base + count).update(from: source, count: utf8.count) }
      count += utf8.count
      return
    }
    for byte in utf8 {
      if byte >= 0x20 && byte != 0x22 && byte != 0x5C {
        base[count] = byte
        count += 1
        continue
      }
      base[count] = 0x5C
      switch byte {
      case 0x22, 0x5C: base[count + 1] = byte
      case 0x0A: base[count + 1] = 0x6E
      case 0x0D: base[count + 1] = 0x72
      case 0x09: base[count + 1] = 0x74
      default:
        let hex: StaticString = "0123456789abcdef"
        base[count + 1] = 0x75
        base[count + 2] = 0x30
        base[count + 3] = 0x30
        base[count + 4] = hex.utf8Start[Int(byte >> 4)]
        base[count + 5] = hex.utf8Start[Int(byte & 15)]
        count += 4
      }
      count += 2
    }
  }

  /// Appends a decimal integer.
  public mutating func int(_ value: Int64) {
    reserve(20)
    if value < 0 { append(0x2D) }
    var v = value.magnitude
    let start = count
    repeat {
      base[count] = UInt8(v % 10) + 0x30
      v /= 10
      count += 1
    } while v > 0
    // Digits were written least significant first.
    var i = start
    var j = count - 1
    while i < j {
      let t = base[i]
      base[i] = base[j]
      base[j] = t
      i += 1
      j -= 1
    }
  }

  /// Appends `[a, b, c]`.
  public mutating func ints(_ values: [Int64]) {
    append(0x5B)
    for (i, v) in values.enumerated() {
      if i > 0 {
        append(0x2C)
        append(0x20)
      }
      int(v)
    }
    append(0x5D)
  }

  /// Bytes waiting to be flushed.
  public var pendingCount: Int { count }

  /// Hands the bytes so far to `sink` and empties the buffer (for streaming big outputs).
  public mutating func flush(_ sink: (UnsafeRawBufferPointer) -> Void) {
    sink(UnsafeRawBufferPointer(start: base, count: count))
    count = 0
  }

  /// The bytes so far, copied out.
  public var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

  /// The text.
  public var text: String {
    String(decoding: UnsafeBufferPointer(start: base, count: count), as: UTF8.self)
  }
}
