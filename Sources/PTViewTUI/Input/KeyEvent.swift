/// A key press, decoded by a backend from whatever its terminal sends.
public enum KeyEvent: Hashable, Sendable {
  /// A printable character.
  case character(Character)
  /// Ctrl plus a letter (`.control("c")` for Ctrl-C).
  case control(Character)
  case up
  case down
  case left
  case right
  case home
  case end
  case pageUp
  case pageDown
  case enter
  case escape
  case backspace
  case delete
  case tab
  /// F1...F12.
  case function(Int)

  /// How help and docs spell the key.
  public var name: String {
    switch self {
    case .character(" "): "Space"
    case .character(let c): String(c)
    case .control(let c): "Ctrl-" + String(c).uppercased()
    case .up: "↑"
    case .down: "↓"
    case .left: "←"
    case .right: "→"
    case .home: "Home"
    case .end: "End"
    case .pageUp: "PgUp"
    case .pageDown: "PgDn"
    case .enter: "Enter"
    case .escape: "Esc"
    case .backspace: "Backspace"
    case .delete: "Del"
    case .tab: "Tab"
    case .function(let n): "F\(n)"
    }
  }
}

/// A mouse event in screen cells.
public enum MouseEvent: Hashable, Sendable {
  /// A click at (`x`, `y`).
  case click(x: Int, y: Int)
  /// A double click at (`x`, `y`).
  case doubleClick(x: Int, y: Int)
  /// The wheel turned up (towards the top of the tree).
  case wheelUp
  /// The wheel turned down.
  case wheelDown
}
