/// Display width and sanitising of text: the one place that decides how many cells a string
/// takes, so every column lines up.
///
/// Keys come from untrusted files. A key holding an escape sequence must never reach the
/// terminal as one, so control and bidirectional-override characters are replaced before
/// anything is measured or drawn.
public enum TextWidth {
  /// Cells a scalar takes: 0 for combining marks and zero-width characters, 2 for East Asian
  /// wide and emoji ranges, 1 otherwise.
  public static func width(_ scalar: Unicode.Scalar) -> Int {
    let v = scalar.value
    if v < 0x300 { return 1 }
    switch scalar.properties.generalCategory {
    case .nonspacingMark, .enclosingMark, .format: return 0
    default: break
    }
    if v == 0x200B { return 0 }
    if (0x1100...0x115F).contains(v) || (0x2E80...0x303E).contains(v)
      || (0x3041...0x33FF).contains(v) || (0x3400...0x4DBF).contains(v)
      || (0x4E00...0x9FFF).contains(v) || (0xA000...0xA4CF).contains(v)
      || (0xAC00...0xD7A3).contains(v) || (0xF900...0xFAFF).contains(v)
      || (0xFE30...0xFE4F).contains(v) || (0xFF00...0xFF60).contains(v)
      || (0xFFE0...0xFFE6).contains(v) || (0x1F300...0x1F64F).contains(v)
      || (0x1F900...0x1F9FF).contains(v) || (0x20000...0x3FFFD).contains(v)
    {
      return 2
    }
    return 1
  }

  /// Cells a character (grapheme cluster) takes: the width of its first scalar.
  public static func width(_ character: Character) -> Int {
    guard let first = character.unicodeScalars.first else { return 0 }
    return width(first)
  }

  /// Cells a string takes once sanitised.
  public static func width(_ text: String) -> Int {
    var total = 0
    for c in text { total += width(safe(c)) }
    return total
  }

  /// `character`, or U+FFFD when it is a control character or a bidirectional control that
  /// could move or recolour the cursor.
  public static func safe(_ character: Character) -> Character {
    for scalar in character.unicodeScalars {
      let v = scalar.value
      if v < 0x20 || (0x7F...0x9F).contains(v) || (0x202A...0x202E).contains(v)
        || (0x2066...0x2069).contains(v)
      {
        return "\u{FFFD}"
      }
    }
    return character
  }

  /// `text` cut to at most `width` cells, ending in `…` when something was cut.
  public static func truncate(_ text: String, to width: Int) -> String {
    guard width > 0 else { return "" }
    if Self.width(text) <= width { return text }
    var out = ""
    var used = 0
    for c in text {
      let w = Self.width(safe(c))
      if used + w > width - 1 { break }
      out.append(c)
      used += w
    }
    return out + "…"
  }

  /// `text` cut from the left to at most `width` cells, starting with `…` when something was
  /// cut: for paths, whose end is the specific part.
  public static func truncateLeft(_ text: String, to width: Int) -> String {
    guard width > 0 else { return "" }
    if Self.width(text) <= width { return text }
    var kept: [Character] = []
    var used = 0
    for c in text.reversed() {
      let w = Self.width(safe(c))
      if used + w > width - 1 { break }
      kept.append(c)
      used += w
    }
    return "…" + String(kept.reversed())
  }

  /// `text` padded with spaces (or cut) to exactly `width` cells.
  public static func pad(_ text: String, to width: Int) -> String {
    let cut = truncate(text, to: width)
    return cut + String(repeating: " ", count: max(0, width - Self.width(cut)))
  }

  /// `text` right-aligned in exactly `width` cells.
  public static func padLeft(_ text: String, to width: Int) -> String {
    let cut = truncate(text, to: width)
    return String(repeating: " ", count: max(0, width - Self.width(cut))) + cut
  }
}
