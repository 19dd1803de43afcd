/// One of the eight ANSI colours, or the terminal's own default.
///
/// The explorer only ever asks for these, so the output looks right in any colour scheme and
/// the curses backend needs at most a few dozen colour pairs.
public enum Color: UInt8, Hashable, Sendable, CaseIterable {
  case standard
  case black
  case red
  case green
  case yellow
  case blue
  case magenta
  case cyan
  case white
}

/// Text attributes that survive `NO_COLOR`: bold, dim, reverse and underline.
public struct Attributes: OptionSet, Hashable, Sendable {
  public let rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue }

  public static let bold = Attributes(rawValue: 1 << 0)
  public static let dim = Attributes(rawValue: 1 << 1)
  public static let reverse = Attributes(rawValue: 1 << 2)
  public static let underline = Attributes(rawValue: 1 << 3)
}

/// How one cell is drawn.
public struct Style: Hashable, Sendable {
  /// Text colour.
  public var foreground: Color
  /// Cell colour.
  public var background: Color
  /// Attributes.
  public var attributes: Attributes

  /// Creates a style.
  public init(
    foreground: Color = .standard, background: Color = .standard, attributes: Attributes = []
  ) {
    self.foreground = foreground
    self.background = background
    self.attributes = attributes
  }

  /// The terminal's default look.
  public static let plain = Style()

  /// This style with `extra` attributes added.
  public func adding(_ extra: Attributes) -> Style {
    var copy = self
    copy.attributes.formUnion(extra)
    return copy
  }

  /// This style without colours, for `NO_COLOR`: attributes stay, so the selection and pending
  /// edits remain visible.
  public var monochrome: Style { Style(attributes: attributes) }
}
