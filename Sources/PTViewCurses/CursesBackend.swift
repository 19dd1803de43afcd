import Glibc
public import PTViewTUI

/// Why the terminal could not be opened.
public struct CursesError: Error, Sendable, CustomStringConvertible {
  /// What went wrong.
  public var description: String
}

/// The explorer on a real terminal through ncursesw: draws frames, reads keys, resizes and
/// mouse events, and gives the terminal back on every exit path.
public final class CursesBackend: TerminalBackend {
  private let session: Curses.Session
  private var pairs: ColorPairs
  private let color: Bool
  private var lastSize: Size
  private var needsClear = false
  private var closed = false

  /// Opens the terminal: `setlocale` first (without it ncursesw treats bytes as Latin-1), then
  /// `newterm` on standard output and `/dev/tty` (input still works with a redirected stdin).
  ///
  /// - Parameters:
  ///   - color: use colours (false for `NO_COLOR`; bold, dim and reverse still show).
  ///   - mouse: report the wheel and clicks.
  ///   - cleanup: called first by the handlers of Ctrl-C, SIGTERM, SIGHUP and crashes, before
  ///     the terminal is restored; it runs in a signal handler, so it must be
  ///     async-signal-safe (the explorer passes the removal of a write's temporary file).
  /// - Throws: `CursesError` when there is no usable terminal.
  public init(color: Bool, mouse: Bool, cleanup: (@convention(c) () -> Void)? = nil)
    throws(CursesError)
  {
    _ = setlocale(LC_ALL, "")
    guard let output = fdopen(dup(1), "w") else {
      throw CursesError(description: "cannot open standard output")
    }
    guard let input = fopen("/dev/tty", "r") ?? fdopen(dup(0), "r") else {
      fclose(output)
      throw CursesError(description: "cannot open the terminal for input")
    }
    guard let session = Curses.Session(terminal: nil, output: output, input: input) else {
      throw CursesError(
        description: "cannot use this terminal (TERM=\(Self.environment("TERM") ?? "unset"))")
    }
    self.session = session
    self.color = color
    session.configure(color: color, mouse: mouse)
    pairs = ColorPairs(limit: session.hasColor ? session.pairLimit : 0)
    let (rows, columns) = session.size
    lastSize = Size(columns: columns, rows: rows)
    SignalGuard.install(cleanup: cleanup)
  }

  /// A curses screen with no terminal behind it (output and input on `/dev/null`), for
  /// tests: draw a frame, then read it back with `lines`.
  public init(headless size: Size, terminal: String = "xterm-256color") throws(CursesError) {
    _ = setlocale(LC_ALL, "C.UTF-8")
    guard let output = fopen("/dev/null", "w"), let input = fopen("/dev/null", "r") else {
      throw CursesError(description: "cannot open /dev/null")
    }
    guard let session = Curses.Session(terminal: terminal, output: output, input: input) else {
      throw CursesError(description: "no terminfo entry for \(terminal)")
    }
    self.session = session
    color = true
    session.configure(color: true, mouse: false)
    session.resize(rows: size.rows, columns: size.columns)
    pairs = ColorPairs(limit: session.hasColor ? session.pairLimit : 0)
    let (rows, columns) = session.size
    lastSize = Size(columns: columns, rows: rows)
  }

  deinit { close() }

  /// Leaves curses and restores the terminal; safe to call more than once.
  public func close() {
    guard !closed else { return }
    closed = true
    session.end()
    SignalGuard.remove()
  }

  public var size: Size { lastSize }

  /// Messages from other threads (the explorer's assessment, the values pane's statistics):
  /// while an inbox is set, reads time out every few milliseconds to look here. Returns nil
  /// until a message is ready; it stays set, as background work can start at any time.
  public var inbox: (@Sendable () -> Message?)? {
    didSet { session.setReadTimeout(inbox == nil ? -1 : 50) }
  }

  public func nextMessage() -> Message? {
    var failures = 0
    while !closed {
      if let inbox, let message = inbox() { return message }
      switch session.read() {
      case .timeout:
        continue
      case .character(let code):
        if let key = KeyDecoder.key(character: code) { return .key(key) }
      case .key(let code):
        if code == Curses.Code.resize {
          let (rows, columns) = session.size
          lastSize = Size(columns: columns, rows: rows)
          needsClear = true
          return .resize(lastSize)
        }
        if code == Curses.Code.mouse {
          if let report = session.mouse(),
            let event = KeyDecoder.mouse(buttons: report.buttons, x: report.x, y: report.y)
          {
            return .mouse(event)
          }
          continue
        }
        if let key = KeyDecoder.key(code: code) { return .key(key) }
      case .interrupted:
        continue
      case .end:
        // The terminal went away (hang-up, closed input): end instead of spinning.
        failures += 1
        if failures > 3 { return nil }
      }
    }
    return nil
  }

  public func draw(_ screen: Screen) {
    guard !closed else { return }
    if needsClear {
      session.clearAll()
      needsClear = false
    }
    let rows = min(screen.size.rows, lastSize.rows)
    let columns = min(screen.size.columns, lastSize.columns)
    for y in 0..<rows {
      var x = 0
      while x < columns {
        let style = screen[x, y].style
        var run: [wchar_t] = []
        let start = x
        while x < columns, screen[x, y].style == style {
          for scalar in screen[x, y].text.unicodeScalars {
            run.append(wchar_t(bitPattern: scalar.value))
          }
          x += 1
        }
        draw(run, x: start, y: y, style: style)
      }
    }
    session.flush()
  }

  private func draw(_ text: [wchar_t], x: Int, y: Int, style: Style) {
    let shown = color ? style : style.monochrome
    let pair = pairs.pair(for: shown) { session.definePair($0, foreground: $1, background: $2) }
    let a = shown.attributes
    session.put(
      text, x: x, y: y, bold: a.contains(.bold), dim: a.contains(.dim),
      reverse: a.contains(.reverse),
      underline: a.contains(.underline), pair: pair)
  }

  /// The screen as curses holds it, one string per row, trailing spaces removed (for
  /// headless tests).
  public func lines() -> [String] {
    (0..<lastSize.rows).map { y in
      var line = session.line(y, columns: lastSize.columns)
      while line.last == " " { line.removeLast() }
      return line
    }
  }

  private static func environment(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
  }
}
