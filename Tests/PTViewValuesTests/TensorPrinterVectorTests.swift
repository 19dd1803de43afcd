import PTViewValues
import Testing

/// TensorPrinter against real torch: every case in `Tests/Fixtures/print/cases.json` printed
/// and compared byte for byte with `str(t)`, and the printer held to reading only the elements
/// the print shows.
@Suite struct TensorPrinterVectorTests {
  @Test("the cases load and cover what the printer must handle")
  func casesCoverTheRules() throws {
    let cases = try PrintVectors.loadCases().cases
    #expect(cases.count >= 500)
    let dtypes = Set(cases.map(\.dtype))
    for name in [
      "float64", "float32", "float16", "bfloat16", "float8_e4m3fn", "float8_e5m2",
      "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu", "float4_e2m1fn_x2", "int8", "int16",
      "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool", "complex32", "complex64",
      "complex128", "qint8", "quint8", "qint32", "quint4x2", "quint2x4",
    ] {
      #expect(dtypes.contains(name), "no case of \(name)")
    }
    #expect(cases.contains { $0.indices != nil && $0.shape.reduce(1, *) >= 1_000_000_000 })
    #expect(cases.contains { $0.parameter && $0.requiresGrad })
    #expect(cases.contains { $0.quantization?.scales != nil })
    #expect(cases.contains { $0.shape.isEmpty })
    #expect(cases.contains { $0.shape.contains(0) })
    #expect(cases.contains { $0.shape.count >= 4 })
  }

  @Test("prints as torch does", arguments: PrintVectors.cases)
  func printsAsTorch(_ vector: PrintVector) throws {
    let tensor = try vector.printed()
    let elements = try vector.elements()
    var asked: [Int] = []
    let text = try TensorPrinter.string(tensor) { (index: Int) throws(PrintVectorError) in
      asked.append(index)
      guard let value = elements[index] else {
        throw PrintVectorError.bad("asked for element \(index), which the print does not show")
      }
      return value
    }
    #expect(text == vector.expected)
    // Each shown element once, in the order torch prints them.
    let order = vector.indices ?? Array(0..<(vector.values?.count ?? 0))
    #expect(asked == order)
  }
}
