/// Why a text could not be read as a `load_state_dict` error: said to the user as is.
public struct LoadErrorParseError: Error, Sendable, Equatable {
  public var message: String

  public init(_ message: String) {
    self.message = message
  }
}

/// What torch said: the parts of a `load_state_dict` error ptview uses.
///
/// torch builds the message in `Module.load_state_dict` as
/// `Error(s) in loading state_dict for NAME:` followed by sections joined with `"\n\t"`:
/// `Missing key(s) in state_dict: "a", "b". `, `Unexpected key(s) in state_dict: ... ` and one
/// `size mismatch for KEY: copying a param with shape torch.Size([..]) from checkpoint, the
/// shape in current model is torch.Size([..]).` per mismatched tensor. Keys are quoted with no
/// escaping, so a key's own characters are taken literally.
public struct LoadErrorMessage: Sendable, Hashable {
  /// The model's class, "Net" from "Error(s) in loading state_dict for Net:"; nil when the
  /// text has only the sections.
  public var modelName: String?
  /// Keys the model has and the checkpoint lacks, in torch's order.
  public var missing: [String]
  /// Keys the checkpoint has and the model lacks, in torch's order.
  public var unexpected: [String]
  /// Keys both have, with different shapes.
  public var sizeMismatches: [SizeMismatch]

  /// One `size mismatch for KEY` line.
  public struct SizeMismatch: Sendable, Hashable {
    public var key: String
    public var checkpointShape: [Int64]
    public var modelShape: [Int64]

    public init(key: String, checkpointShape: [Int64], modelShape: [Int64]) {
      self.key = key
      self.checkpointShape = checkpointShape
      self.modelShape = modelShape
    }
  }

  public init(
    modelName: String? = nil, missing: [String] = [], unexpected: [String] = [],
    sizeMismatches: [SizeMismatch] = []
  ) {
    self.modelName = modelName
    self.missing = missing
    self.unexpected = unexpected
    self.sizeMismatches = sizeMismatches
  }

  /// Parses the message as printed: possibly with a traceback before it, a `RuntimeError: `
  /// prefix, tabs or the spaces a terminal turned them into, lines wrapped by a terminal or an
  /// email client at arbitrary points (even inside a key or a number), CRLF or CR line ends.
  ///
  /// Users paste what their terminal shows, so whitespace is not trusted: the fixed phrases
  /// match with whitespace ignored, and a line break inside a key is removed together with the
  /// spaces and tabs around it (keys have no whitespace of their own in practice; one that
  /// does keeps it, unless a line break falls next to it). When the text holds several
  /// messages, the last `Error(s) in loading state_dict` one is read.
  ///
  /// Throws when no missing, unexpected or size-mismatch section is found, and when a section
  /// is cut short: a partial key list would derive rules from half the evidence.
  public static func parse(_ text: String) throws(LoadErrorParseError) -> LoadErrorMessage {
    var scanner = MessageScanner(text)
    if scanner.isBlank {
      throw LoadErrorParseError(
        "the error text is empty: paste what torch printed for model.load_state_dict(...)")
    }
    return try scanner.message()
  }
}

/// The byte-level reader behind `LoadErrorMessage.parse`. Works on UTF-8 bytes: every
/// delimiter torch prints is ASCII, so keys pass through unchanged whatever they contain.
private struct MessageScanner {
  private static let title = phrase("Error(s) in loading state_dict for")
  private static let missingHeader = phrase("Missing key(s) in state_dict:")
  private static let unexpectedHeader = phrase("Unexpected key(s) in state_dict:")
  private static let sizeHeader = phrase("size mismatch for")
  private static let copying = phrase(": copying a param with shape")
  private static let fromCheckpoint = phrase("from checkpoint, the shape in current model is")
  private static let torchSize = phrase("torch.Size([")

  private static let quote = UInt8(ascii: "\"")
  private static let comma = UInt8(ascii: ",")
  private static let period = UInt8(ascii: ".")
  private static let colon = UInt8(ascii: ":")
  private static let newline = UInt8(ascii: "\n")

  /// The text with CRLF and CR turned into LF and no-break spaces into spaces.
  private let bytes: [UInt8]
  private var position = 0

  init(_ text: String) {
    var normalized: [UInt8] = []
    normalized.reserveCapacity(text.utf8.count)
    var previous: UInt8 = 0
    for byte in text.utf8 {
      switch (previous, byte) {
      case (0x0D, 0x0A): break  // the LF of a CRLF: the CR already became one
      case (_, 0x0D): normalized.append(Self.newline)
      case (0xC2, 0xA0): normalized[normalized.count - 1] = 0x20  // U+00A0 from mail clients
      default: normalized.append(byte)
      }
      previous = byte
    }
    bytes = normalized
  }

  var isBlank: Bool { bytes.allSatisfy(Self.isSpace) }

  /// A fixed phrase with its whitespace removed: whitespace is skipped in the text instead.
  private static func phrase(_ text: String) -> [UInt8] {
    text.utf8.filter { !isSpace($0) }
  }

  private static func isSpace(_ byte: UInt8) -> Bool {
    byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0B || byte == 0x0C
  }

  private static func isTabOrSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

  mutating func message() throws(LoadErrorParseError) -> LoadErrorMessage {
    var result = LoadErrorMessage()
    // Start at the last title: a traceback, or an earlier paste of the same error, comes first.
    var start = 0
    var titleEnd: Int?
    var searchFrom = 0
    while let end = find(Self.title, from: searchFrom) {
      titleEnd = end
      searchFrom = end
    }
    if let titleEnd {
      position = titleEnd
      result.modelName = modelName()
      start = position
    }
    position = start
    var sections = 0
    while position < bytes.count {
      if let end = match(Self.missingHeader, at: position) {
        position = end
        result.missing += try keyList("missing")
        sections += 1
      } else if let end = match(Self.unexpectedHeader, at: position) {
        position = end
        result.unexpected += try keyList("unexpected")
        sections += 1
      } else if let end = match(Self.sizeHeader, at: position) {
        position = end
        result.sizeMismatches.append(try sizeMismatch())
        sections += 1
      } else {
        position += 1
      }
    }
    if sections == 0 {
      throw LoadErrorParseError(
        "no \"Missing key(s)\", \"Unexpected key(s)\" or \"size mismatch\" in the text: paste "
          + "the whole error torch printed for model.load_state_dict(...)")
    }
    return result
  }

  /// The class name up to the colon, line breaks and spaces dropped; nil when empty or when
  /// the text ends first.
  private mutating func modelName() -> String? {
    var name: [UInt8] = []
    var index = position
    while index < bytes.count, bytes[index] != Self.colon {
      if !Self.isSpace(bytes[index]) { name.append(bytes[index]) }
      index += 1
    }
    guard index < bytes.count, !name.isEmpty else { return nil }
    position = index + 1
    return String(decoding: name, as: UTF8.self)
  }

  /// `"a", "b". `: quoted keys separated by commas, ended by a period (or the end of the
  /// text, for a paste that stops right after the last quote).
  ///
  /// A quote ends the key only when a comma and another quote, or a period, or the end follow
  /// it (whitespace allowed between); any other quote belongs to the key.
  private mutating func keyList(_ what: String) throws(LoadErrorParseError) -> [String] {
    skipSpace()
    guard position < bytes.count, bytes[position] == Self.quote else {
      throw LoadErrorParseError("expected a quoted key after the list of \(what) keys")
    }
    var keys: [String] = []
    var key: [UInt8] = []
    position += 1
    while position < bytes.count {
      let byte = bytes[position]
      if byte == Self.newline {
        dropLineBreak(from: &key)
        continue
      }
      if byte == Self.quote {
        var next = position + 1
        skipSpace(&next)
        if next == bytes.count || bytes[next] == Self.period {
          keys.append(String(decoding: key, as: UTF8.self))
          position = min(next + 1, bytes.count)
          return keys
        }
        if bytes[next] == Self.comma {
          var open = next + 1
          skipSpace(&open)
          if open < bytes.count, bytes[open] == Self.quote {
            keys.append(String(decoding: key, as: UTF8.self))
            key.removeAll(keepingCapacity: true)
            position = open + 1
            continue
          }
        }
      }
      key.append(byte)
      position += 1
    }
    throw LoadErrorParseError(
      "the list of \(what) keys ends inside a key: the text seems cut short, paste all of it")
  }

  /// `KEY: copying a param with shape torch.Size([3, 4]) from checkpoint, the shape in
  /// current model is torch.Size([2, 4]).`
  private mutating func sizeMismatch() throws(LoadErrorParseError)
    -> LoadErrorMessage.SizeMismatch
  {
    skipSpace()
    var key: [UInt8] = []
    while position < bytes.count {
      if bytes[position] == Self.colon, let end = match(Self.copying, at: position) {
        position = end
        break
      }
      if bytes[position] == Self.newline {
        dropLineBreak(from: &key)
        continue
      }
      key.append(bytes[position])
      position += 1
    }
    let name = String(decoding: key, as: UTF8.self)
    let failure = LoadErrorParseError(
      "cannot read the shapes in \"size mismatch for \(name)\": the text seems cut short")
    guard position < bytes.count else { throw failure }
    guard let checkpoint = shape() else { throw failure }
    skipSpace()
    guard let end = match(Self.fromCheckpoint, at: position) else { throw failure }
    position = end
    guard let model = shape() else { throw failure }
    return .init(key: name, checkpointShape: checkpoint, modelShape: model)
  }

  /// `torch.Size([3, 4])` with whitespace anywhere (a wrap may split a number).
  private mutating func shape() -> [Int64]? {
    skipSpace()
    guard let open = match(Self.torchSize, at: position) else { return nil }
    var dims: [Int64] = []
    var current: Int64?
    var index = open
    while index < bytes.count {
      let byte = bytes[index]
      index += 1
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"):
        let (times, overflowA) = (current ?? 0).multipliedReportingOverflow(by: 10)
        let (sum, overflowB) = times.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
        if overflowA || overflowB { return nil }
        current = sum
      case Self.comma:
        guard let value = current else { return nil }
        dims.append(value)
        current = nil
      case UInt8(ascii: "]"):
        if let value = current { dims.append(value) }
        skipSpace(&index)
        guard index < bytes.count, bytes[index] == UInt8(ascii: ")") else { return nil }
        position = index + 1
        return dims
      default:
        if !Self.isSpace(byte) { return nil }
      }
    }
    return nil
  }

  /// At a line break inside a key: drops it, the blanks before it (already in `key`) and the
  /// blanks after it, which a wrapping tool added.
  private mutating func dropLineBreak(from key: inout [UInt8]) {
    while let last = key.last, Self.isTabOrSpace(last) { key.removeLast() }
    position += 1
    while position < bytes.count,
      Self.isTabOrSpace(bytes[position]) || bytes[position] == Self.newline
    {
      position += 1
    }
  }

  private mutating func skipSpace() { skipSpace(&position) }

  private func skipSpace(_ index: inout Int) {
    while index < bytes.count, Self.isSpace(bytes[index]) { index += 1 }
  }

  /// The end of `pattern` matched at `start`, whitespace in the text skipped between its
  /// bytes (not before the first).
  private func match(_ pattern: [UInt8], at start: Int) -> Int? {
    var index = start
    for (offset, expected) in pattern.enumerated() {
      if offset > 0 { skipSpace(&index) }
      guard index < bytes.count, bytes[index] == expected else { return nil }
      index += 1
    }
    return index
  }

  /// The end of the first match of `pattern` at or after `start`.
  private func find(_ pattern: [UInt8], from start: Int) -> Int? {
    guard let first = pattern.first else { return nil }
    var index = start
    while index < bytes.count {
      if bytes[index] == first, let end = match(pattern, at: index) { return end }
      index += 1
    }
    return nil
  }
}
