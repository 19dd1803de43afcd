/// CRC-32 (zlib's polynomial) for the records ptview writes itself. Copied records keep the
/// checksum from the input's central directory; new pickles are small; converted storages
/// (`--cast`) are gigabytes, so contiguous input takes a slicing-by-8 path (eight table
/// lookups per eight bytes, no dependency between them) instead of one lookup per byte.
public enum CRC32 {
  /// `tables[k][b]`: the CRC of byte `b` followed by `k` zero bytes.
  private static let tables: [[UInt32]] = {
    var first = [UInt32](repeating: 0, count: 256)
    for n in 0..<256 {
      var c = UInt32(n)
      for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
      first[n] = c
    }
    var tables = [first]
    for k in 1..<8 {
      tables.append(
        (0..<256).map { n in (tables[k - 1][n] >> 8) ^ first[Int(tables[k - 1][n] & 0xFF)] })
    }
    return tables
  }()

  /// The checksum of `bytes`, continuing from `crc` (0 to start).
  public static func checksum<C: Collection<UInt8>>(_ bytes: C, continuing crc: UInt32 = 0)
    -> UInt32
  {
    if let fast = bytes.withContiguousStorageIfAvailable({
      checksum(UnsafeRawBufferPointer($0), continuing: crc)
    }) {
      return fast
    }
    let t = tables[0]
    var c = ~crc
    for byte in bytes { c = t[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
    return ~c
  }

  /// The checksum of raw bytes, continuing from `crc`.
  public static func checksum(_ raw: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
    var c = ~crc
    tables.withUnsafeBufferPointer { all in
      let t0 = all[0], t1 = all[1], t2 = all[2], t3 = all[3]
      let t4 = all[4], t5 = all[5], t6 = all[6], t7 = all[7]
      t0.withUnsafeBufferPointer { t0 in
        t1.withUnsafeBufferPointer { t1 in
          t2.withUnsafeBufferPointer { t2 in
            t3.withUnsafeBufferPointer { t3 in
              t4.withUnsafeBufferPointer { t4 in
                t5.withUnsafeBufferPointer { t5 in
                  t6.withUnsafeBufferPointer { t6 in
                    t7.withUnsafeBufferPointer { t7 in
                      var i = 0
                      let n = raw.count
                      while i + 8 <= n {
                        let lo =
                          raw.loadUnaligned(fromByteOffset: i, as: UInt32.self).littleEndian ^ c
                        let hi = raw.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self)
                          .littleEndian
                        c =
                          t7[Int(lo & 0xFF)] ^ t6[Int((lo >> 8) & 0xFF)]
                          ^ t5[Int((lo >> 16) & 0xFF)] ^ t4[Int(lo >> 24)]
                          ^ t3[Int(hi & 0xFF)] ^ t2[Int((hi >> 8) & 0xFF)]
                          ^ t1[Int((hi >> 16) & 0xFF)] ^ t0[Int(hi >> 24)]
                        i += 8
                      }
                      while i < n {
                        c = t0[Int((c ^ UInt32(raw[i])) & 0xFF)] ^ (c >> 8)
                        i += 1
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    return ~c
  }
}
