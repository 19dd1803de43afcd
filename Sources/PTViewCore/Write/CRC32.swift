/// CRC-32 (zlib's polynomial) for the records ptview writes itself. Copied records keep the
/// checksum from the input's central directory, so this only ever sees small pickles.
public enum CRC32 {
  private static let table: [UInt32] = (0..<256).map { n -> UInt32 in
    var c = UInt32(n)
    for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
  }

  /// The checksum of `bytes`, continuing from `crc` (0 to start).
  public static func checksum<C: Collection<UInt8>>(_ bytes: C, continuing crc: UInt32 = 0)
    -> UInt32
  {
    var c = ~crc
    for byte in bytes { c = table[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
    return ~c
  }
}
