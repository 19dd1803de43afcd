import PTViewTUI

/// Turns what curses reads into explorer messages.
enum KeyDecoder {
  /// A character code as a key: Enter, Esc, Backspace, Tab, Ctrl-letters, or a printable one.
  static func key(character code: UInt32) -> KeyEvent? {
    switch code {
    case 10, 13: return .enter
    case 27: return .escape
    case 8, 127: return .backspace
    case 9: return .tab
    case 0: return nil
    case 1...26:
      guard let scalar = Unicode.Scalar(code + 96) else { return nil }
      return .control(Character(scalar))
    case 28...31: return nil
    default:
      guard let scalar = Unicode.Scalar(code) else { return nil }
      return .character(Character(scalar))
    }
  }

  /// A curses key code as a key (nil for codes the explorer does not use).
  static func key(code: Int32) -> KeyEvent? {
    switch code {
    case Curses.Code.up: return .up
    case Curses.Code.down: return .down
    case Curses.Code.left: return .left
    case Curses.Code.right: return .right
    case Curses.Code.home: return .home
    case Curses.Code.end: return .end
    case Curses.Code.pageUp: return .pageUp
    case Curses.Code.pageDown: return .pageDown
    case Curses.Code.backspace: return .backspace
    case Curses.Code.delete: return .delete
    case Curses.Code.enter: return .enter
    case Curses.Code.backTab: return .tab
    case Curses.Code.f1..<(Curses.Code.f1 + 12): return .function(Int(code - Curses.Code.f1) + 1)
    default: return nil
    }
  }

  /// A mouse report as a mouse event.
  static func mouse(buttons: UInt, x: Int, y: Int) -> MouseEvent? {
    if buttons & Curses.Button.wheelUp != 0 { return .wheelUp }
    if buttons & Curses.Button.wheelDown != 0 { return .wheelDown }
    if buttons & Curses.Button.doubleClick != 0 { return .doubleClick(x: x, y: y) }
    if buttons & Curses.Button.click != 0 { return .click(x: x, y: y) }
    return nil
  }
}
