import CNcursesw
import Glibc

/// The whole ncursesw surface ptview uses, behind plain Swift types. This is the only file
/// that imports `CNcursesw`: the rest of the backend reads as Swift, and a change of curses
/// library or version touches one file.
enum Curses {
  /// Raw input as curses reports it.
  enum Input {
    case character(UInt32)
    case key(Int32)
    case end
    case interrupted
    /// No input within the read timeout.
    case timeout
  }

  /// Key codes the decoder needs.
  enum Code {
    static let up = KEY_UP
    static let down = KEY_DOWN
    static let left = KEY_LEFT
    static let right = KEY_RIGHT
    static let home = KEY_HOME
    static let end = KEY_END
    static let pageUp = KEY_PPAGE
    static let pageDown = KEY_NPAGE
    static let backspace = KEY_BACKSPACE
    static let delete = KEY_DC
    static let enter = KEY_ENTER
    static let resize = KEY_RESIZE
    static let mouse = KEY_MOUSE
    static let backTab = KEY_BTAB
    static let f1 = ptv_key_f(1)
  }

  /// Mouse buttons the decoder needs.
  enum Button {
    static let wheelUp = UInt(ptv_button4_pressed())
    static let wheelDown = UInt(ptv_button5_pressed())
    static let click = UInt(ptv_button1_clicked())
    static let doubleClick = UInt(ptv_button1_double())
  }

  /// A curses screen on a pair of streams.
  final class Session {
    private var screen: OpaquePointer?
    private let output: UnsafeMutablePointer<FILE>
    private let input: UnsafeMutablePointer<FILE>
    private(set) var hasColor = false

    /// Opens curses on `output` and `input` (owned: closed by `end`). Nil when the terminal
    /// type is unknown or unusable, where `initscr` would have exited the process.
    init?(terminal: String?, output: UnsafeMutablePointer<FILE>, input: UnsafeMutablePointer<FILE>)
    {
      self.output = output
      self.input = input
      let made: OpaquePointer? =
        if let terminal { terminal.withCString { newterm($0, output, input) } } else {
          newterm(nil, output, input)
        }
      guard let made else {
        fclose(output)
        fclose(input)
        return nil
      }
      screen = made
      _ = set_term(made)
    }

    /// Puts the terminal in the explorer's mode: no echo, keys as they come, no cursor.
    func configure(color: Bool, mouse: Bool) {
      guard let window = ptv_stdscr() else { return }
      _ = cbreak()
      _ = noecho()
      _ = nonl()
      _ = keypad(window, true)
      _ = set_escdelay(25)
      _ = curs_set(0)
      _ = leaveok(window, true)
      _ = scrollok(window, false)
      if color && has_colors() {
        _ = start_color()
        _ = use_default_colors()
        hasColor = true
      }
      if mouse {
        _ = mousemask(
          mmask_t(Button.wheelUp | Button.wheelDown | Button.click | Button.doubleClick), nil)
        _ = mouseinterval(200)
      }
    }

    /// Rows and columns.
    var size: (rows: Int, columns: Int) {
      guard let window = ptv_stdscr() else { return (0, 0) }
      return (Int(getmaxy(window)), Int(getmaxx(window)))
    }

    /// Tells curses the terminal has a new size (tests; live resizes arrive as KEY_RESIZE).
    func resize(rows: Int, columns: Int) {
      _ = resizeterm(Int32(rows), Int32(columns))
    }

    /// How long `read` waits, in milliseconds (negative: forever).
    private(set) var readTimeout: Int32 = -1

    /// Sets how long `read` waits for input before reporting `.timeout`.
    func setReadTimeout(_ milliseconds: Int32) {
      guard let window = ptv_stdscr() else { return }
      wtimeout(window, milliseconds)
      readTimeout = milliseconds
    }

    /// Blocks for the next input (at most `readTimeout` when one is set).
    func read() -> Input {
      guard let window = ptv_stdscr() else { return .end }
      var wch: wint_t = 0
      errno = 0
      let result = wget_wch(window, &wch)
      if result == KEY_CODE_YES { return .key(Int32(wch)) }
      if result == OK { return .character(UInt32(wch)) }
      if errno == EINTR { return .interrupted }
      return readTimeout >= 0 ? .timeout : .end
    }

    /// The last mouse event: buttons and cell.
    func mouse() -> (buttons: UInt, x: Int, y: Int)? {
      var event = MEVENT()
      guard getmouse(&event) == OK else { return nil }
      return (UInt(event.bstate), Int(event.x), Int(event.y))
    }

    /// Defines colour pair `pair` (foreground/background -1 for the default).
    func definePair(_ pair: Int, foreground: Int, background: Int) {
      _ = init_pair(Int16(pair), Int16(foreground), Int16(background))
    }

    /// The most colour pairs the terminal has.
    var pairLimit: Int { Int(ptv_color_pairs()) }

    /// Writes `text` at (`x`, `y`) with attributes and a colour pair.
    func put(
      _ text: [wchar_t], x: Int, y: Int, bold: Bool, dim: Bool, reverse: Bool, underline: Bool,
      pair: Int
    ) {
      guard let window = ptv_stdscr(), !text.isEmpty else { return }
      var attributes = ptv_a_normal()
      if bold { attributes |= ptv_a_bold() }
      if dim { attributes |= ptv_a_dim() }
      if reverse { attributes |= ptv_a_reverse() }
      if underline { attributes |= ptv_a_underline() }
      _ = wattr_set(window, attributes, Int16(pair), nil)
      text.withUnsafeBufferPointer { buffer in
        if let base = buffer.baseAddress {
          _ = mvwaddnwstr(window, Int32(y), Int32(x), base, Int32(buffer.count))
        }
      }
    }

    /// Sends the frame to the terminal (curses sends only what changed).
    func flush() {
      guard let window = ptv_stdscr() else { return }
      _ = wattr_set(window, ptv_a_normal(), 0, nil)
      _ = wnoutrefresh(window)
      _ = doupdate()
    }

    /// Clears the whole screen on the next flush (after a resize).
    func clearAll() {
      guard let window = ptv_stdscr() else { return }
      _ = wclear(window)
    }

    /// Row `y` as curses holds it (for headless tests).
    func line(_ y: Int, columns: Int) -> String {
      guard let window = ptv_stdscr() else { return "" }
      var buffer = [wchar_t](repeating: 0, count: columns + 1)
      let n = buffer.withUnsafeMutableBufferPointer {
        mvwinnwstr(window, Int32(y), 0, $0.baseAddress, Int32(columns))
      }
      guard n != ERR else { return "" }
      var out = ""
      for w in buffer where w != 0 {
        if let scalar = Unicode.Scalar(UInt32(bitPattern: w)) { out.unicodeScalars.append(scalar) }
      }
      return out
    }

    /// Leaves curses and gives the terminal back as it was. Safe to call twice.
    func end() {
      guard let made = screen else { return }
      screen = nil
      _ = endwin()
      delscreen(made)
      fflush(output)
      fclose(output)
      fclose(input)
    }
  }

  /// Restores the terminal from a signal handler: endwin only (no frees), the minimum that
  /// gives the user a working shell back.
  static func emergencyEnd() {
    _ = endwin()
  }
}
