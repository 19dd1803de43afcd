import PTViewCore
import PTViewEdit
import Testing

/// The slicing-by-8 checksum against zlib's check value and a byte-at-a-time reference.
@Suite struct CRC32Tests {
  /// The textbook one-byte-at-a-time CRC-32, as the reference.
  func reference(_ bytes: [UInt8]) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes {
      c ^= UInt32(b)
      for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    }
    return ~c
  }

  @Test("zlib's check value")
  func checkValue() {
    #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
  }

  @Test("equals the reference at every length and alignment, and when continued")
  func lengths() {
    var state: UInt64 = 42
    let data = (0..<1000).map { _ -> UInt8 in
      state = state &* 6_364_136_223_846_793_005 &+ 1
      return UInt8(truncatingIfNeeded: state >> 33)
    }
    for length in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 999] {
      for start in [0, 1, 3] where start + length <= data.count {
        let slice = Array(data[start..<(start + length)])
        #expect(CRC32.checksum(slice) == reference(slice))
        let half = slice.count / 2
        let continued = CRC32.checksum(
          slice[half...], continuing: CRC32.checksum(slice[..<half]))
        #expect(continued == reference(slice))
      }
    }
  }
}
