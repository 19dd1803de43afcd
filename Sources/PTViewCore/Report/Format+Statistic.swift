extension Format {
  /// A statistic in about 6 significant digits, fixed or scientific as fits: how `ptview
  /// stats` writes min, max, mean and std in its table, and how the explorer's values pane
  /// writes them, so the two always read the same. `-` for an absent statistic.
  public static func statistic(_ value: Double?) -> String {
    guard let value else { return "-" }
    if value == 0 { return "0" }
    if !value.isFinite { return value.isNaN ? "nan" : value > 0 ? "inf" : "-inf" }
    let magnitude = abs(value)
    if magnitude >= 1e-3 && magnitude < 1e6 {
      var digits = 5
      var m = magnitude
      while m >= 10 && digits > 0 {
        m /= 10
        digits -= 1
      }
      var text = fixed(value, digits: digits)
      if text.contains(".") {
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
      }
      return text
    }
    var exponent = 0
    var mantissa = magnitude
    while mantissa >= 10 {
      mantissa /= 10
      exponent += 1
    }
    while mantissa < 1 {
      mantissa *= 10
      exponent -= 1
    }
    var text = fixed(mantissa, digits: 4)
    if text.hasPrefix("10.") {
      text = fixed(1, digits: 4)
      exponent += 1
    }
    return (value < 0 ? "-" : "") + text + "e" + (exponent < 0 ? "-" : "+")
      + (abs(exponent) < 10 ? "0" : "") + String(abs(exponent))
  }
}
