/// torch's `_Formatter` (torch/_tensor_str.py): one layout and one column width for every
/// element a print shows, chosen by looking at all of them first.
///
/// For floating values the layout is
/// - scientific (`1.0000e-05`) when the nonzero finite magnitudes span more than a factor of
///   1000, or reach above 1e8, or below 1e-4;
/// - otherwise integral (`1.`, `-0.`) when every nonzero finite value is an integer;
/// - otherwise fixed with four places (`0.1000`).
///
/// The width is the longest nonzero finite value's text (plus one for an integral layout's
/// point); zeros, NaN and infinities do not count, and with no nonzero finite value at all the
/// layout is integral with width 1. Every value is right-aligned to the width, except in the
/// integral layout, where torch pads after adding the point and so can leave NaN and inf wider
/// than their column: this port keeps that.
struct ElementFormatter {
  private enum Layout {
    case text
    case integral
    case scientific
    case fixed
  }

  /// torch's default print precision.
  static let precision = 4

  private let layout: Layout
  /// The column width every formatted element is right-aligned to.
  let width: Int

  private init(layout: Layout, width: Int) {
    self.layout = layout
    self.width = width
  }

  /// The formatter for non-floating elements already turned into text (`str(int)`, `True`).
  static func text(_ strings: [String]) -> ElementFormatter {
    ElementFormatter(layout: .text, width: strings.reduce(1) { max($0, $1.utf8.count) })
  }

  /// The formatter for the floating elements a print shows (exact values, so float16 or
  /// float8 values decide as torch's double computation does).
  ///
  /// `zero` is the value torch's `tensor.ne(0)` takes for zero: 0 for every dtype but
  /// float8_e8m0fnu, which has no zero, so torch's 0 becomes its smallest value 2^-127 and
  /// elements holding it are left out of the layout's choice like zeros.
  static func floating(_ values: [Double], zero: Double = 0) -> ElementFormatter {
    var minimum = Double.infinity
    var maximum = 0.0
    var integral = true
    var any = false
    for value in values where value.isFinite && value != 0 && value != zero {
      any = true
      let magnitude = value.magnitude
      minimum = min(minimum, magnitude)
      maximum = max(maximum, magnitude)
      if integral && value != value.rounded(.up) { integral = false }
    }
    guard any else { return ElementFormatter(layout: .integral, width: 1) }
    // torch divides in double too; the quotient's rounding can decide a boundary case.
    let scientific = maximum / minimum > 1000.0 || maximum > 1.0e8 || minimum < 1.0e-4
    let layout: Layout = scientific ? .scientific : integral ? .integral : .fixed
    var width = 1
    for value in values where value.isFinite && value != 0 && value != zero {
      switch layout {
      case .scientific:
        width = max(width, PythonFloat.scientific(value, precision: precision).utf8.count)
      case .integral:
        width = max(width, PythonFloat.fixed(value, precision: 0).utf8.count + 1)
      case .fixed:
        width = max(width, PythonFloat.fixed(value, precision: precision).utf8.count)
      case .text:
        break
      }
    }
    return ElementFormatter(layout: layout, width: width)
  }

  /// One floating element, right-aligned to the width.
  func format(_ value: Double) -> String {
    switch layout {
    case .scientific:
      return padded(PythonFloat.scientific(value, precision: Self.precision))
    case .integral:
      let text = PythonFloat.fixed(value, precision: 0)
      return padded(value.isFinite ? text + "." : text)
    case .fixed:
      return padded(PythonFloat.fixed(value, precision: Self.precision))
    case .text:
      return padded(PythonFloat.repr(value))
    }
  }

  /// One element already in text, right-aligned to the width.
  func format(text: String) -> String {
    padded(text)
  }

  private func padded(_ text: String) -> String {
    let count = text.utf8.count
    return count >= width ? text : String(repeating: " ", count: width - count) + text
  }
}
