/// The explorer's colours and attributes, by meaning. Colour marks device and state; every
/// meaning that matters also has an attribute, so `NO_COLOR` loses hue, not information.
enum Theme {
  static let header = Style(attributes: [.reverse])
  static let headerTitle = Style(attributes: [.reverse, .bold])
  static let headerPending = Style(foreground: .black, background: .yellow, attributes: [.bold])
  static let headerSaved = Style(foreground: .black, background: .green, attributes: [.bold])
  static let titles = Style(attributes: [.bold, .underline])
  static let label = Style.plain
  static let groupLabel = Style(attributes: [.bold])
  static let marker = Style(attributes: [.dim])
  static let dim = Style(attributes: [.dim])
  static let dtype = Style(attributes: [.dim])
  static let value = Style(foreground: .magenta)
  static let pending = Style(foreground: .yellow, attributes: [.bold])
  static let match = Style(attributes: [.underline])
  static let bar = Style(foreground: .blue)
  static let separator = Style(attributes: [.dim])
  static let detailKey = Style(attributes: [.bold])
  static let fieldName = Style(attributes: [.dim])
  static let hintKey = Style(foreground: .cyan, attributes: [.bold])
  static let hintText = Style.plain
  static let prompt = Style(attributes: [.bold])
  static let cursor = Style(attributes: [.reverse])
  static let box = Style(foreground: .cyan)
  static let boxTitle = Style(foreground: .cyan, attributes: [.bold])
  static let chosen = Style(attributes: [.reverse, .bold])
  static let progress = Style(foreground: .green)
  /// Safety marks in the tree: `!` dangerous, `?` suspicious. Bold, so `NO_COLOR` keeps them.
  static let danger = Style(foreground: .red, attributes: [.bold])
  static let doubt = Style(foreground: .yellow, attributes: [.bold])
  /// Verdicts in the header bar: alarming ones leave the reverse video (and keep bold), so
  /// they stand out without colour too; a good one stays in the bar.
  static let chipDanger = Style(foreground: .white, background: .red, attributes: [.bold])
  static let chipDoubt = Style(foreground: .black, background: .yellow, attributes: [.bold])
  static let chipGood = Style(foreground: .green, attributes: [.reverse])

  /// The style of a safety mark.
  static func mark(_ level: SafetyMarks.Level) -> Style {
    switch level {
    case .dangerous: danger
    case .suspicious: doubt
    case .none: .plain
    }
  }

  /// Device hue: cpu neutral, cuda green, meta dim, everything else (mps, xpu...) cyan.
  static func device(_ name: String) -> Style {
    if name == "cpu" { return .plain }
    if name.hasPrefix("cuda") { return Style(foreground: .green) }
    if name == "meta" { return Style(attributes: [.dim]) }
    return Style(foreground: .cyan)
  }

  static func status(_ kind: Status.Kind) -> Style {
    switch kind {
    case .info: .plain
    case .success: Style(foreground: .green, attributes: [.bold])
    case .warning: Style(foreground: .yellow, attributes: [.bold])
    case .error: Style(foreground: .red, attributes: [.bold])
    }
  }
}

/// The box-drawing and marker characters, with an ASCII set for terminals whose locale is
/// not UTF-8.
struct Glyphs {
  var expanded = "▾"
  var collapsed = "▸"
  var horizontal = "─"
  var vertical = "│"
  var topLeft = "┌"
  var topRight = "┐"
  var bottomLeft = "└"
  var bottomRight = "┘"
  var full = "█"
  var partial = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
  var crumb = " › "

  static let unicode = Glyphs()
  static let ascii = Glyphs(
    expanded: "v", collapsed: ">", horizontal: "-", vertical: "|", topLeft: "+", topRight: "+",
    bottomLeft: "+", bottomRight: "+", full: "#", partial: ["", "", "", "", "", "", "", ""],
    crumb: " > ")
}

extension Screen {
  /// Replaces every non-ASCII cell with an ASCII stand-in, for a terminal that cannot show UTF-8.
  mutating func asciiOnly() {
    for y in 0..<size.rows {
      for x in 0..<size.columns {
        let cell = self[x, y]
        if cell.text.isEmpty {
          put(" ", x: x, y: y, style: cell.style)
          continue
        }
        guard let scalar = cell.text.unicodeScalars.first, !scalar.isASCII else { continue }
        let replacement: String
        switch cell.text {
        case "…": replacement = "~"
        case "×": replacement = "x"
        case "›": replacement = ">"
        case "↑": replacement = "^"
        case "↓": replacement = "v"
        case "←": replacement = "<"
        case "→": replacement = ">"
        default: replacement = "?"
        }
        put(replacement, x: x, y: y, style: cell.style)
      }
    }
  }
}
