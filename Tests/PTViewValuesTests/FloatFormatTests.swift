import PTViewValues
import Testing

@Suite struct FloatFormatTests {
  @Test func byteWidths() {
    #expect(FloatFormat.float64.byteWidth == 8)
    #expect(FloatFormat.float32.byteWidth == 4)
    #expect(FloatFormat.float16.byteWidth == 2)
    #expect(FloatFormat.bfloat16.byteWidth == 2)
    for format in [
      FloatFormat.float8_e4m3fn, .float8_e5m2, .float8_e4m3fnuz, .float8_e5m2fnuz, .float8_e8m0fnu,
    ] {
      #expect(format.byteWidth == 1)
    }
  }

  @Test func torchNames() {
    for format in FloatFormat.allCases {
      #expect(FloatFormat(torchName: format.rawValue) == format)
    }
    #expect(FloatFormat(torchName: "float8_e8m0fnu") == .float8_e8m0fnu)
    #expect(FloatFormat(torchName: "bfloat16") == .bfloat16)
    for other in ["float", "half", "double", "int8", "uint8", "bool", "complex64", "Float32", ""] {
      #expect(FloatFormat(torchName: other) == nil)
    }
  }

  @Test func targets() {
    let writable = FloatFormat.allCases.filter(FloatCast.canTarget)
    #expect(writable == [.float64, .float32, .float16, .bfloat16])
  }
}
