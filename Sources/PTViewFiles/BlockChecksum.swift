import CChecksum
import PTViewCore
import PTViewEdit

/// CRC-32 of the blocks a `--cast` write produces. Those are the one place ptview sums
/// gigabytes (copied records keep the input's checksums), and the table method in `CRC32`
/// was the slowest stage of the whole write. Where the CPU folds with carry-less
/// multiplication (x86-64 PCLMULQDQ), the bulk goes through C code that does; any rest, and
/// every CPU without it, falls back to `CRC32`. Both give zlib's value.
public enum BlockChecksum {
  /// Whether the folding path is used on this machine.
  public static let folds: Bool = ptv_crc32_folding_available() == 1

  /// The checksum of `raw`, continuing from `crc` (0 to start), like `CRC32.checksum`.
  public static func crc32(_ raw: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
    guard folds, raw.count >= 64, let base = raw.baseAddress else {
      return CRC32.checksum(raw, continuing: crc)
    }
    let bulk = raw.count & ~15
    let register = ptv_crc32_fold(~crc, base.assumingMemoryBound(to: UInt8.self), bulk)
    return CRC32.checksum(UnsafeRawBufferPointer(rebasing: raw[bulk...]), continuing: ~register)
  }
}
