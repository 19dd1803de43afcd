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
