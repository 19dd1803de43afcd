extension TensorPrinter {
  /// The elements as `print(t)` writes them: each text right-aligned to one column width
  /// chosen by looking at all of them (torch's `_Formatter`), and the width one element takes
  /// in a printed row with the `, ` after it.
  ///
  /// `ptview cat` formats the elements a print shows; the explorer's values pane formats the
  /// window on screen, so a value there reads as torch prints it.
  public static func elementTexts(_ shown: [ElementValue], dtype: PrintDType) -> (
    texts: [String], elementWidth: Int
  ) {
    switch dtype.kind {
    case .floating, .quantized:
      let numbers = shown.map(real)
      let zero = dtype.name == "float8_e8m0fnu" ? 0x1p-127 : 0
      let formatter = ElementFormatter.floating(numbers, zero: zero)
      return (numbers.map(formatter.format), formatter.width + 2)
    case .integer, .boolean:
      let words = shown.map { dtype.kind == .boolean ? boolText($0) : integerText($0) }
      let formatter = ElementFormatter.text(words)
      return (words.map { formatter.format(text: $0) }, formatter.width + 2)
    case .complex:
      let parts = shown.map(complexParts)
      let realFormatter = ElementFormatter.floating(parts.map(\.real))
      let imaginaryFormatter = ElementFormatter.floating(parts.map(\.imaginary))
      let texts = parts.map { part in
        let realText = realFormatter.format(part.real)
        var imaginaryText = Substring(imaginaryFormatter.format(part.imaginary) + "j")
        while imaginaryText.first == " " { imaginaryText.removeFirst() }
        // A sign of its own (negative, -0.0, -inf) joins directly; otherwise a plus.
        let joiner = imaginaryText.first == "-" || imaginaryText.first == "+" ? "" : "+"
        return realText + joiner + imaginaryText
      }
      // Both columns, and one more for the j.
      return (texts, realFormatter.width + 2 + imaginaryFormatter.width + 1)
    }
  }
}
