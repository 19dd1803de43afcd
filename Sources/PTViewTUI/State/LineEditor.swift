/// A one-line text field for the prompts (search, filter, output path, device).
public struct LineEditor: Hashable, Sendable {
  /// The text.
  public private(set) var characters: [Character]
  /// Cursor position, 0...count.
  public private(set) var cursor: Int

  /// What a key did.
  public enum Outcome: Hashable, Sendable {
    case edited
    case submitted
    case cancelled
    case ignored
  }

  /// A field holding `text`, cursor at the end.
  public init(_ text: String = "") {
    characters = Array(text)
    cursor = characters.count
  }

  /// The text.
  public var text: String { String(characters) }

  /// Applies one key.
  public mutating func handle(_ key: KeyEvent) -> Outcome {
    switch key {
    case .enter: return .submitted
    case .escape, .control("c"), .control("g"): return .cancelled
    case .character(let c):
      characters.insert(c, at: cursor)
      cursor += 1
    case .backspace, .control("h"):
      guard cursor > 0 else { return .ignored }
      characters.remove(at: cursor - 1)
      cursor -= 1
    case .delete, .control("d"):
      guard cursor < characters.count else { return .ignored }
      characters.remove(at: cursor)
    case .left, .control("b"): cursor = max(0, cursor - 1)
    case .right, .control("f"): cursor = min(characters.count, cursor + 1)
    case .home, .control("a"): cursor = 0
    case .end, .control("e"): cursor = characters.count
    case .control("u"):
      characters.removeFirst(cursor)
      cursor = 0
    case .control("k"):
      characters.removeLast(characters.count - cursor)
    case .control("w"):
      var start = cursor
      while start > 0 && characters[start - 1] == " " { start -= 1 }
      while start > 0 && characters[start - 1] != " " && characters[start - 1] != "/" { start -= 1 }
      if start == cursor && start > 0 { start -= 1 }
      characters.removeSubrange(start..<cursor)
      cursor = start
    default:
      return .ignored
    }
    return .edited
  }
}
