/// `str(t)` (what `print(t)` writes) for a tensor, character for character as torch 2.x prints
/// it with the default print options, without torch: the rules of torch/_tensor_str.py.
///
/// Past 1,000 elements torch summarises: each dimension longer than 6 shows its first 3 and
/// last 3 entries around a `...`, and only those elements decide the layout. The printer
/// therefore asks `element` for exactly the elements it shows, each once, in row-major order,
/// so a tensor of 10^9 elements costs a few hundred reads.
public enum TensorPrinter {
  /// torch's defaults: `threshold`, `edgeitems` and `linewidth` of `PRINT_OPTS`.
  static let threshold = 1000
  static let edgeItems = 3
  static let lineWidth = 80

  /// The text `print(t)` writes for `tensor` (without the final newline).
  ///
  /// `element(i)` returns the element at row-major logical index `i` of `tensor.shape`
  /// (strides, storage offsets, byte order and dequantization are the caller's business).
  /// It is called once for each element the print shows and for no other, in ascending index
  /// order (a reader can stream forward), and never for empty or meta tensors. Its error, if any,
  /// ends the print.
  ///
  /// The values expected, by dtype: `.float` with the exact value for the floating dtypes
  /// (float8 included); `.uint` with the raw byte for float4_e2m1fn_x2, whose bytes torch
  /// prints; `.int` or `.uint` for integers; `.bool`; `.complex`; and for quantized dtypes
  /// `.float` with the dequantized float32 value, as `t.dequantize()` makes it.
  ///
  /// The shape's element count must fit in an `Int` (torch's `numel` is an int64 too).
  public static func string<Failure: Error>(
    _ tensor: PrintedTensor, element: (Int) throws(Failure) -> ElementValue
  ) throws(Failure) -> String {
    let prefix = "tensor("
    let indent = prefix.utf8.count
    let dtypeSuffix = "dtype=torch." + tensor.dtype.name
    let count = elementCount(tensor.shape)
    var suffixes: [String] = []
    if tensor.device != "cpu" { suffixes.append("device='\(tensor.device)'") }
    let body: String
    if tensor.device == "meta" {
      // A meta tensor has no values: torch shows its size and any dtype but float32.
      suffixes.append("size=" + sizeText(tensor.shape))
      if tensor.dtype.name != "float32" { suffixes.append(dtypeSuffix) }
      body = "..."
    } else if tensor.dtype.kind == .quantized {
      suffixes.append("size=" + sizeText(tensor.shape))
      suffixes.append(dtypeSuffix)
      suffixes.append(contentsOf: quantizationSuffixes(tensor.quantization))
      body = try values(tensor, count: count, indent: indent, element: element)
    } else if count == 0 {
      // No element shows the dtype, so even int64 and bool name it; a shape other than (0,)
      // is spelled out, as NumPy does.
      if tensor.shape.count != 1 { suffixes.append("size=" + sizeText(tensor.shape)) }
      if tensor.dtype.name != "float32" { suffixes.append(dtypeSuffix) }
      body = "[]"
    } else {
      if !tensor.dtype.isPrintedWithoutSuffix { suffixes.append(dtypeSuffix) }
      body = try values(tensor, count: count, indent: indent, element: element)
    }
    if tensor.requiresGrad { suffixes.append("requires_grad=True") }
    let text = addSuffixes(prefix + body, suffixes, indent: indent)
    return tensor.isParameter ? "Parameter containing:\n" + text : text
  }

  /// `scale=...` and what follows for a quantized tensor. The per-channel parameters are
  /// printed as `str` of their own tensors, so they wrap and summarise on their own terms.
  private static func quantizationSuffixes(_ quantization: Quantization?) -> [String] {
    switch quantization {
    case .perTensor(let scheme, let scale, let zeroPoint):
      return [
        "quantization_scheme=torch." + scheme.rawValue, "scale=" + PythonFloat.repr(scale),
        "zero_point=" + String(zeroPoint),
      ]
    case .perChannel(let scheme, let scales, let zeroPoints, let axis):
      return [
        "quantization_scheme=torch." + scheme.rawValue, "scale=" + channelText(scales),
        "zero_point=" + channelText(zeroPoints), "axis=" + String(axis),
      ]
    case nil:
      return []
    }
  }

  private static func channelText(_ channel: ChannelValues) -> String {
    string(PrintedTensor(dtype: channel.dtype, shape: [channel.values.count])) {
      channel.values[$0]
    }
  }

  /// torch's `_tensor_str`: the bracketed values, indented for a prefix `indent` wide.
  static func values<Failure: Error>(
    _ tensor: PrintedTensor, count: Int, indent: Int,
    element: (Int) throws(Failure) -> ElementValue
  ) throws(Failure) -> String {
    guard count > 0 else { return "[]" }
    let summarize = count > threshold
    let shown = try shownElements(shape: tensor.shape, summarize: summarize, element: element)
    let (texts, elementWidth) = elementTexts(shown, dtype: tensor.dtype)
    var layout = Layout(
      shape: tensor.shape, summarize: summarize, texts: texts, elementWidth: elementWidth,
      indent: indent)
    return layout.render()
  }

  /// The elements a print shows, in row-major order: along each dimension all indices, or
  /// when summarising and the dimension is longer than 6, its first and last 3.
  private static func shownElements<Failure: Error>(
    shape: [Int], summarize: Bool, element: (Int) throws(Failure) -> ElementValue
  ) throws(Failure) -> [ElementValue] {
    let rank = shape.count
    guard rank > 0 else { return [try element(0)] }
    var strides = [Int](repeating: 1, count: rank)
    for level in stride(from: rank - 2, through: 0, by: -1) {
      strides[level] = strides[level + 1] * shape[level + 1]
    }
    let indices: [[Int]] = shape.map { size in
      summarize && size > 2 * edgeItems
        ? Array(0..<edgeItems) + Array(size - edgeItems..<size) : Array(0..<size)
    }
    var result: [ElementValue] = []
    result.reserveCapacity(indices.reduce(1) { $0 * $1.count })
    var position = [Int](repeating: 0, count: rank)
    while true {
      var index = 0
      for level in 0..<rank { index += indices[level][position[level]] * strides[level] }
      result.append(try element(index))
      var level = rank - 1
      while level >= 0 {
        position[level] += 1
        if position[level] < indices[level].count { break }
        position[level] = 0
        level -= 1
      }
      if level < 0 { return result }
    }
  }

  /// torch's `_add_suffixes`: each suffix follows `, ` on the last line, or starts a new line
  /// indented under the values when the line would pass the line width. The measure is torch's
  /// own: the last line's length plus 2 (one more for a text without a newline).
  /// `forceNewline` (torch's, for COO tensors) starts the first suffix on a new line whatever
  /// room is left.
  static func addSuffixes(
    _ text: String, _ suffixes: [String], indent: Int, forceNewline: Bool = false
  ) -> String {
    var result = text
    let bytes = Array(text.utf8)
    var lastLineLength: Int
    if let newline = bytes.lastIndex(of: UInt8(ascii: "\n")) {
      lastLineLength = bytes.count - newline + 1
    } else {
      lastLineLength = bytes.count + 2
    }
    var forceNewline = forceNewline
    for suffix in suffixes {
      let length = suffix.utf8.count
      if forceNewline || lastLineLength + length + 2 > lineWidth {
        forceNewline = false
        result += ",\n" + String(repeating: " ", count: indent) + suffix
        lastLineLength = indent + length
      } else {
        result += ", " + suffix
        lastLineLength += length + 2
      }
    }
    return result + ")"
  }

  /// `str(tuple(shape))`: `()`, `(3,)`, `(2, 3)`.
  static func sizeText(_ shape: [Int]) -> String {
    if shape.count == 1 { return "(\(shape[0]),)" }
    return "(" + shape.map(String.init).joined(separator: ", ") + ")"
  }

  static func elementCount(_ shape: [Int]) -> Int {
    var count = 1
    for size in shape {
      precondition(size >= 0, "TensorPrinter: negative size in \(shape)")
      let (product, overflow) = count.multipliedReportingOverflow(by: size)
      precondition(!overflow, "TensorPrinter: \(shape) has more elements than an Int holds")
      count = product
    }
    return count
  }

  /// A floating element. Other cases are accepted for what they mean as numbers: torch prints
  /// float4_e2m1fn_x2 as its bytes (`.uint`), as integer-valued floats.
  static func real(_ value: ElementValue) -> Double {
    switch value {
    case .float(let number): number
    case .int(let number): Double(number)
    case .uint(let number): Double(number)
    case .bool(let flag): flag ? 1 : 0
    case .complex(let real, _): real
    }
  }

  static func complexParts(_ value: ElementValue) -> (real: Double, imaginary: Double) {
    if case .complex(let real, let imaginary) = value { return (real, imaginary) }
    return (real(value), 0)
  }

  /// `str(int)`.
  static func integerText(_ value: ElementValue) -> String {
    switch value {
    case .int(let number): String(number)
    case .uint(let number): String(number)
    case .bool(let flag): flag ? "1" : "0"
    case .float(let number):
      number.isFinite && number == number.rounded() && number.magnitude < 0x1p63
        ? String(Int64(number)) : PythonFloat.repr(number)
    case .complex(let real, _): PythonFloat.repr(real)
    }
  }

  /// `str(bool)`.
  static func boolText(_ value: ElementValue) -> String {
    switch value {
    case .bool(let flag): flag ? "True" : "False"
    case .int(let number): number != 0 ? "True" : "False"
    case .uint(let number): number != 0 ? "True" : "False"
    case .float(let number): number != 0 ? "True" : "False"
    case .complex(let real, let imaginary): real != 0 || imaginary != 0 ? "True" : "False"
    }
  }
}

/// torch's `_tensor_str_with_formatter` and `_vector_str`: brackets, separators, `...` and line
/// wrapping around the formatted elements, which arrive in the order they are printed.
private struct Layout {
  let shape: [Int]
  let summarize: Bool
  let texts: [String]
  /// One element's column width plus the `, ` after it.
  let elementWidth: Int
  /// The column the outermost `[` stands in: after `tensor(`.
  let indent: Int
  private var next = 0

  init(shape: [Int], summarize: Bool, texts: [String], elementWidth: Int, indent: Int) {
    self.shape = shape
    self.summarize = summarize
    self.texts = texts
    self.elementWidth = elementWidth
    self.indent = indent
  }

  mutating func render() -> String {
    shape.isEmpty ? texts[0] : block(level: 0, indent: indent)
  }

  private mutating func take() -> String {
    defer { next += 1 }
    return texts[next]
  }

  private mutating func block(level: Int, indent: Int) -> String {
    let size = shape[level]
    let rank = shape.count - level
    let elided = summarize && size > 2 * TensorPrinter.edgeItems
    let count = elided ? 2 * TensorPrinter.edgeItems : size
    if rank == 1 {
      var items: [String] = []
      items.reserveCapacity(count + 1)
      for index in 0..<count {
        if elided && index == TensorPrinter.edgeItems { items.append(" ...") }
        items.append(take())
      }
      // Python's floor division; a negative room still leaves one element per line.
      let perLine = max(1, (TensorPrinter.lineWidth - indent) / elementWidth)
      var lines: [String] = []
      var start = 0
      while start < items.count {
        let end = min(start + perLine, items.count)
        lines.append(items[start..<end].joined(separator: ", "))
        start = end
      }
      let separator = ",\n" + String(repeating: " ", count: indent + 1)
      return "[" + lines.joined(separator: separator) + "]"
    }
    var slices: [String] = []
    slices.reserveCapacity(count + 1)
    for index in 0..<count {
      if elided && index == TensorPrinter.edgeItems { slices.append("...") }
      slices.append(block(level: level + 1, indent: indent + 1))
    }
    let separator =
      "," + String(repeating: "\n", count: rank - 1) + String(repeating: " ", count: indent + 1)
    return "[" + slices.joined(separator: separator) + "]"
  }
}
