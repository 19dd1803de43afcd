import PTViewTUI

/// Colour pairs made on first use: the explorer uses a handful of (foreground, background)
/// combinations, so pairs are numbered as they appear.
struct ColorPairs {
  private var numbers: [UInt16: Int] = [:]
  private let limit: Int

  init(limit: Int) { self.limit = limit }

  /// The pair for `style`, defining it through `define` when new; 0 (the default) when colour
  /// is off or the terminal has run out of pairs.
  mutating func pair(for style: Style, define: (Int, Int, Int) -> Void) -> Int {
    if style.foreground == .standard && style.background == .standard { return 0 }
    let key = UInt16(style.foreground.rawValue) << 8 | UInt16(style.background.rawValue)
    if let known = numbers[key] { return known }
    let next = numbers.count + 1
    guard next < limit else { return 0 }
    define(next, ColorPairs.curses(style.foreground), ColorPairs.curses(style.background))
    numbers[key] = next
    return next
  }

  /// The curses colour number (-1 is the terminal's default, after `use_default_colors`).
  static func curses(_ color: Color) -> Int {
    switch color {
    case .standard: -1
    case .black: 0
    case .red: 1
    case .green: 2
    case .yellow: 3
    case .blue: 4
    case .magenta: 5
    case .cyan: 6
    case .white: 7
    }
  }
}
