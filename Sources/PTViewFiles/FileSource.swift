public import PTViewCore

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A `ByteSource` over an open file, read with `pread` (safe to share between threads).
public final class FileSource: ByteSource, @unchecked Sendable {
  /// The path it was opened from.
  public let path: String
  /// File size at open time.
  public let size: Int64
  /// Permission bits at open time.
  public let mode: UInt32
  /// The open descriptor (for kernel-side copies).
  public let descriptor: Int32

  /// Opens `path` read-only.
  /// - Throws: `SourceError` with the system's reason (missing file, permission, directory).
  public init(path: String) throws(SourceError) {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw SourceError(Errno.message()) }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
      let message = Errno.message()
      close(fd)
      throw SourceError(message)
    }
    guard (info.st_mode & S_IFMT) == S_IFREG else {
      close(fd)
      throw SourceError(
        (info.st_mode & S_IFMT) == S_IFDIR ? "is a directory" : "not a regular file")
    }
    self.path = path
    self.size = Int64(info.st_size)
    self.mode = UInt32(info.st_mode & 0o7777)
    self.descriptor = fd
  }

  deinit { close(descriptor) }

  public func read(at offset: Int64, count: Int) throws(SourceError) -> [UInt8] {
    guard offset >= 0, count >= 0 else { throw SourceError("invalid read at \(offset)") }
    let wanted = Int(max(0, min(Int64(count), size - offset)))
    if wanted == 0 { return [] }
    var buffer = [UInt8](repeating: 0, count: wanted)
    var done = 0
    var failure: String? = nil
    buffer.withUnsafeMutableBytes { raw in
      while done < wanted {
        let n = pread(
          descriptor, raw.baseAddress! + done, wanted - done, off_t(offset) + off_t(done))
        if n < 0 {
          if errno == EINTR { continue }
          failure = Errno.message()
          return
        }
        if n == 0 { break }
        done += n
      }
    }
    if let failure { throw SourceError(failure) }
    if done < wanted { buffer.removeLast(wanted - done) }
    return buffer
  }
}

/// The current `errno` as text.
enum Errno {
  static func message(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
  }
}
