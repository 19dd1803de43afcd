import PTViewValues
import Testing

/// Buffer handling the torch vectors do not reach: copies, empty buffers, unaligned pointers,
/// byte order.
@Suite struct FloatCastTests {
  /// Converts `input` (native-order bytes) and returns the output bytes.
  func convert(
    _ input: [UInt8], from: FloatFormat, to: FloatFormat, count: Int, bigEndian: Bool = false,
    offset: Int = 0
  ) -> [UInt8] {
    let padded = [UInt8](repeating: 0, count: offset) + input
    var output = [UInt8](repeating: 0, count: count * to.byteWidth + offset)
    padded.withUnsafeBytes { source in
      output.withUnsafeMutableBytes { destination in
        FloatCast.convert(
          UnsafeRawBufferPointer(rebasing: source[offset...]), from: from,
          into: UnsafeMutableRawBufferPointer(rebasing: destination[offset...]), to: to,
          count: count, bigEndian: bigEndian)
      }
    }
    return Array(output[offset...])
  }

  func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    values.flatMap { value in
      (0..<MemoryLayout<T>.size).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
    }
  }

  @Test func sameFormatIsACopy() {
    let bytes: [UInt8] = (0..<64).map { UInt8($0 * 7 & 0xFF) }
    for format in FloatFormat.allCases where FloatCast.canTarget(format) {
      let count = bytes.count / format.byteWidth
      #expect(convert(bytes, from: format, to: format, count: count) == bytes)
      #expect(convert(bytes, from: format, to: format, count: count, bigEndian: true) == bytes)
    }
  }

  @Test func emptyBuffers() {
    FloatCast.convert(
      UnsafeRawBufferPointer(start: nil, count: 0), from: .float32,
      into: UnsafeMutableRawBufferPointer(start: nil, count: 0), to: .bfloat16, count: 0,
      bigEndian: false)
  }

  @Test func unalignedBuffersGiveTheSameBytes() {
    let values: [UInt32] = [0x3F80_0000, 0x3F80_8000, 0x3F81_8000, 0x7FC1_2345, 0xFF80_0000, 1]
    let bytes = littleEndianBytes(values)
    for to in [FloatFormat.float64, .float16, .bfloat16] {
      let aligned = convert(bytes, from: .float32, to: to, count: values.count)
      for offset in 1..<8 {
        #expect(
          convert(bytes, from: .float32, to: to, count: values.count, offset: offset) == aligned)
      }
    }
  }

  @Test func bigEndianSwapsEachElement() {
    // 1.0 and -2.5 as float32, big-endian, to bfloat16 and float64, big-endian.
    let input: [UInt8] = [0x3F, 0x80, 0x00, 0x00, 0xC0, 0x20, 0x00, 0x00]
    #expect(
      convert(input, from: .float32, to: .bfloat16, count: 2, bigEndian: true) == [
        0x3F, 0x80, 0xC0, 0x20,
      ])
    #expect(
      convert(input, from: .float32, to: .float64, count: 2, bigEndian: true) == [
        0x3F, 0xF0, 0, 0, 0, 0, 0, 0, 0xC0, 0x04, 0, 0, 0, 0, 0, 0,
      ])
    #expect(
      convert([0x3C, 0x00], from: .float16, to: .float32, count: 1, bigEndian: true) == [
        0x3F, 0x80, 0x00, 0x00,
      ])
  }

  @Test func convertsOnlyCountElements() {
    let values: [UInt32] = [0x3F80_0000, 0x4000_0000, 0x4040_0000]
    let output = convert(littleEndianBytes(values), from: .float32, to: .bfloat16, count: 2)
    #expect(output == [0x80, 0x3F, 0x00, 0x40])
  }
}
