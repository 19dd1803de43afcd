import PTViewCore
import PTViewEdit
import PTViewFiles
import Testing

/// The folding CRC-32 against zlib's values (computed with Python's `zlib.crc32`) and against
/// the table code on every length and alignment around its 16- and 64-byte steps.
@Suite struct BlockChecksumTests {
  /// `bytes((i * 131 + 7) % 251 for i in range(1 << 16))`, the pattern the expected values
  /// below were computed from.
  let pattern: [UInt8] = (0..<(1 << 16)).map { UInt8(($0 * 131 + 7) % 251) }

  func crc(_ bytes: ArraySlice<UInt8>, continuing: UInt32 = 0) -> UInt32 {
    bytes.withUnsafeBytes { BlockChecksum.crc32($0, continuing: continuing) }
  }

  @Test("zlib's values: whole pattern, odd offsets and lengths, the check string")
  func zlibValues() {
    #expect(crc(pattern[...]) == 0x85c2_8081)
    #expect(crc(pattern[3..<1003]) == 0x23c3_d76e)
    #expect(crc(pattern[5..<69]) == 0xd90b_9d1f)
    #expect(crc(pattern[1..<80]) == 0x9415_05b3)
    #expect(crc(Array("123456789".utf8)[...]) == 0xcbf4_3926)
  }

  @Test("agrees with the table code on lengths 0...400 at four alignments, and when continued")
  func agreesWithTable() {
    for offset in 0..<4 {
      for length in 0...400 {
        let slice = pattern[offset..<(offset + length)]
        let table = slice.withUnsafeBytes { CRC32.checksum($0) }
        #expect(crc(slice) == table, "offset \(offset) length \(length)")
      }
    }
    // Summing in uneven pieces gives the checksum of the whole.
    var running: UInt32 = 0
    var start = 0
    for piece in [1, 63, 64, 65, 1000, 4096, 17, 30_000] {
      running = crc(pattern[start..<(start + piece)], continuing: running)
      start += piece
    }
    #expect(running == pattern[0..<start].withUnsafeBytes { CRC32.checksum($0) })
  }

  @Test("the folding path is taken on x86-64 machines (the CI machine is one)")
  func folds() {
    #if arch(x86_64)
      #expect(BlockChecksum.folds)
    #endif
  }
}
