import CSystemShims
public import PTViewCore
public import PTViewEdit

#if canImport(Glibc)
  import Glibc
#endif

/// A failed or refused write. Nothing is left behind when one is thrown.
public struct WriteError: Error, Equatable, Sendable, CustomStringConvertible {
  /// What went wrong, for one line of output.
  public var message: String
  /// Creates an error.
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// Writes a `WritePlan` to a temporary file beside the destination, syncs it, and renames it
/// into place, so the destination is either the old file or the complete new one.
public enum AtomicOutput {
  /// Progress callback: bytes written so far, total.
  public typealias Progress = (_ done: Int64, _ total: Int64) -> Void

  /// The canonical path of an existing file, or nil.
  public static func realPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
  }

  /// Whether something exists at `path`.
  public static func exists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
  }

  /// Whether two paths name the same file (same device and inode).
  public static func sameFile(_ a: String, _ b: String) -> Bool {
    var x = stat()
    var y = stat()
    guard stat(a, &x) == 0, stat(b, &y) == 0 else { return false }
    return x.st_dev == y.st_dev && x.st_ino == y.st_ino
  }

  /// How many hard links name the file at `path` (1 for most files; nil when it cannot be
  /// stat'ed). Writing into the file itself changes what every link shows.
  public static func linkCount(_ path: String) -> Int? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return Int(info.st_nlink)
  }

  /// Writes `plan` to `destination`, copying input ranges from `input`: a local file through
  /// the kernel, any other source (a remote object) streamed through a bounded buffer, in
  /// plan order, each input byte read once.
  /// - Parameters:
  ///   - mode: permission bits for the new file (the input's, usually).
  ///   - progress: called after each chunk.
  /// - Throws: `WriteError`; the temporary file is removed and `destination` is untouched.
  public static func write(
    _ plan: WritePlan, from input: any ByteSource, to destination: String, mode: UInt32,
    progress: Progress? = nil
  ) throws(WriteError) {
    // The atomic frame (temporary file, sync, rename, folder sync) is writeStreaming's.
    try writeStreaming(to: destination, mode: mode) { (fd) throws(WriteError) in
      var done: Int64 = 0
      // Writeback is started every 64 MB while copying, so the disk works during
      // the copy and the final fsync only waits for the tail. On the 1.2 GB benchmark file this
      // took the remap from about 1.3x to about 1.05x the time of `cp` followed by `sync`.
      var flushed: Int64 = 0
      func startWriteback(upTo end: Int64) {
        guard end - flushed >= Self.writebackStep else { return }
        _ = ptv_start_writeback(fd, off_t(flushed), off_t(end - flushed))
        flushed = end
      }
      var checksums: [Int: UInt32] = [:]
      var conversionBuffers: ConvertedBlocks.Buffers?
      var patches = plan.checksumPatches[...]
      for (index, chunk) in plan.chunks.enumerated() {
        switch chunk {
        case .bytes(var bytes):
          // Checksums of converted chunks written earlier go into this run's placeholders.
          let end = done + Int64(bytes.count)
          while let patch = patches.first, patch.outputOffset + 4 <= end {
            patches.removeFirst()
            guard patch.outputOffset >= done, let crc = checksums[patch.chunk] else { continue }
            let at = Int(patch.outputOffset - done)
            for k in 0..<4 { bytes[at + k] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(k))) }
          }
          try writeAll(fd, bytes, destination: destination)
          done += Int64(bytes.count)
          progress?(done, plan.size)
        case .convert(let offset, let length, let conversion) where !(input is FileSource):
          checksums[index] = try streamRange(
            from: input, offset: offset, length: length, conversion, to: fd,
            destination: destination
          ) {
            progress?(done + $0, plan.size)
            startWriteback(upTo: done + $0)
          }
          done += conversion.outputLength(length)
        case .copy(let offset, let length) where !(input is FileSource):
          _ = try streamRange(
            from: input, offset: offset, length: length, nil, to: fd, destination: destination
          ) {
            progress?(done + $0, plan.size)
            startWriteback(upTo: done + $0)
          }
          done += length
        case .convert(let offset, let length, let conversion):
          let input = input as! FileSource
          if conversionBuffers == nil { conversionBuffers = ConvertedBlocks.Buffers() }
          checksums[index] = try convertRange(
            from: input.descriptor, offset: offset, length: length, conversion, to: fd,
            buffers: conversionBuffers!, destination: destination
          ) {
            progress?(done + $0, plan.size)
            startWriteback(upTo: done + $0)
          }
          done += conversion.outputLength(length)
        case .copy(let offset, let length):
          let input = input as! FileSource
          try copyRange(
            from: input.descriptor, offset: offset, length: length, to: fd, destination: destination
          ) {
            progress?(done + $0, plan.size)
            startWriteback(upTo: done + $0)
          }
          done += length
        }
        startWriteback(upTo: done)
      }
    }
  }

  /// Converts `length` bytes at `offset` of the input and appends the result; returns the
  /// CRC-32 of what it wrote. Reading and converting one block runs on a second thread while
  /// this one writes and sums the block before. Memory: two blocks of a few MB.
  private static func convertRange(
    from input: Int32, offset: Int64, length: Int64, _ conversion: Conversion, to output: Int32,
    buffers: ConvertedBlocks.Buffers, destination: String, progress: (Int64) -> Void
  ) throws(WriteError) -> UInt32 {
    let blocks = ConvertedBlocks(
      input: input, offset: offset, length: length, conversion: conversion, buffers: buffers)
    defer { blocks.finish() }
    var written: Int64 = 0
    var crc: UInt32 = 0
    while let block = blocks.next() {
      if let failure = block.failure { throw WriteError(failure) }
      try writeAll(fd: output, block.bytes, destination: destination)
      crc = BlockChecksum.crc32(block.bytes, continuing: crc)
      blocks.release()
      written += Int64(block.bytes.count)
      progress(written)
    }
    blocks.finish()
    return crc
  }

  static func writeAll(fd: Int32, _ raw: UnsafeRawBufferPointer, destination: String)
    throws(WriteError)
  {
    var written = 0
    var failure: Int32 = 0
    while written < raw.count {
      let n = Glibc.write(fd, raw.baseAddress! + written, raw.count - written)
      if n < 0 {
        if errno == EINTR { continue }
        failure = errno
        break
      }
      written += n
    }
    if failure != 0 { throw WriteError("cannot write \(destination): \(Errno.message(failure))") }
  }

  /// Dirty bytes written between writeback starts.
  static let writebackStep: Int64 = 64 << 20

  static func directory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    let folder = String(path[..<slash])
    return folder.isEmpty ? "/" : folder
  }

  private static func writeAll(_ fd: Int32, _ bytes: [UInt8], destination: String)
    throws(WriteError)
  {
    var written = 0
    var failure: Int32 = 0
    bytes.withUnsafeBytes { raw in
      while written < raw.count {
        let n = Glibc.write(fd, raw.baseAddress! + written, raw.count - written)
        if n < 0 {
          if errno == EINTR { continue }
          failure = errno
          return
        }
        written += n
      }
    }
    if failure != 0 { throw WriteError("cannot write \(destination): \(Errno.message(failure))") }
  }

  /// Streams `length` bytes at `offset` of a non-file source to the end of `output`, converted
  /// when asked, in pieces of 8 MiB (memory stays bounded; one request each for a remote
  /// source). Returns the CRC-32 of what it wrote when converting, else 0.
  static func streamRange(
    from input: any ByteSource, offset: Int64, length: Int64, _ conversion: Conversion?,
    to output: Int32, destination: String, progress: (Int64) -> Void
  ) throws(WriteError) -> UInt32 {
    var step: Int64 = 8 << 20
    if let conversion {
      let element = Int64(conversion.inputElementSize)
      step -= step % element
    }
    var at: Int64 = 0
    var written: Int64 = 0
    var crc: UInt32 = 0
    while at < length {
      let want = Int(min(step, length - at))
      let bytes: [UInt8]
      do { bytes = try input.readExactly(at: offset + at, count: want) } catch {
        throw WriteError("cannot read the input: \(error.message)")
      }
      if let conversion {
        let count = bytes.count / conversion.inputElementSize
        var converted = [UInt8](repeating: 0, count: count * conversion.outputElementSize)
        bytes.withUnsafeBytes { src in
          converted.withUnsafeMutableBytes { conversion.apply(src, into: $0, count: count) }
        }
        try writeAll(output, converted, destination: destination)
        crc = converted.withUnsafeBytes { BlockChecksum.crc32($0, continuing: crc) }
        written += Int64(converted.count)
      } else {
        try writeAll(output, bytes, destination: destination)
        written += Int64(bytes.count)
      }
      at += Int64(want)
      progress(written)
    }
    return crc
  }

  /// Copies `length` bytes at `offset` of `input` to the end of `output`, in the kernel when it
  /// can (`copy_file_range`, as `cp` does; reflinks on filesystems that have them), through a bounded buffer otherwise.
  static func copyRange(
    from input: Int32, offset: Int64, length: Int64, to output: Int32, destination: String,
    progress: (Int64) -> Void
  ) throws(WriteError) {
    var sourceOffset = off_t(offset)
    var remaining = length
    var copied: Int64 = 0
    let step: Int64 = 64 << 20
    var kernel = true
    var buffer: [UInt8] = []
    while remaining > 0 {
      let want = Int(min(remaining, step))
      if kernel {
        let n = ptv_copy_file_range(input, &sourceOffset, output, want)
        if n > 0 {
          remaining -= Int64(n)
          copied += Int64(n)
          progress(copied)
          continue
        }
        if n == 0 { throw WriteError("the input ended while copying to \(destination)") }
        switch errno {
        case EINTR: continue
        case EXDEV, EINVAL, ENOSYS, EOPNOTSUPP, EBADF:
          kernel = false  // fall back to read/write
          buffer = [UInt8](repeating: 0, count: 1 << 20)
          continue
        default:
          throw WriteError("cannot write \(destination): \(Errno.message())")
        }
      }
      let chunk = min(want, buffer.count)
      var failure: Int32 = 0
      var got = 0
      buffer.withUnsafeMutableBytes { raw in
        got = pread(input, raw.baseAddress!, chunk, sourceOffset)
        if got < 0 { failure = errno }
      }
      if failure == EINTR { continue }
      if failure != 0 { throw WriteError("cannot read the input: \(Errno.message(failure))") }
      if got == 0 { throw WriteError("the input ended while copying to \(destination)") }
      try writeAll(output, Array(buffer[0..<got]), destination: destination)
      sourceOffset += off_t(got)
      remaining -= Int64(got)
      copied += Int64(got)
      progress(copied)
    }
  }
}

/// The temporary file being written, kept where a signal handler can reach it without
/// allocating: Ctrl-C or SIGTERM during a write must not leave it behind.
public enum PendingTemporary {
  nonisolated(unsafe) private static var path = UnsafeMutablePointer<CChar>.allocate(capacity: 4097)
  nonisolated(unsafe) private static var active: sig_atomic_t = 0

  static func set(_ value: String) {
    let bytes = Array(value.utf8CString.prefix(4096))
    for (i, b) in bytes.enumerated() { path[i] = b }
    path[min(bytes.count, 4096)] = 0
    active = 1
  }

  static func clear() { active = 0 }

  /// Removes the pending temporary file, if any. Async-signal-safe: only `unlink`.
  public static func removeNow() {
    if active != 0 { unlink(path) }
  }

  /// Installs handlers for SIGINT, SIGTERM and SIGHUP that remove the pending temporary file
  /// and exit with 128 + signal, and ignores SIGXFSZ so a file-size limit fails the write with
  /// EFBIG (reported, cleaned up) instead of killing the process.
  public static func installSignalCleanup() {
    signal(SIGXFSZ, SIG_IGN)
    for sig in [SIGINT, SIGTERM, SIGHUP] {
      signal(sig) { number in
        PendingTemporary.removeNow()
        PendingFolder.removeNow()
        PendingAppend.undoNow()
        _exit(128 + number)
      }
    }
  }
}

/// In-place edits by appending: the new bytes go after the file's old end and nothing before
/// it is ever written, so until they are synced the old file is still there, byte for byte,
/// in the first `oldSize` bytes, and truncating to `oldSize` undoes the append.
public enum AppendOutput {
  /// Writes `plan` (literal bytes only) at `oldSize` of `path`, then syncs it. On any failure
  /// the file is truncated back to `oldSize`.
  /// - Throws: `WriteError`; the file is then as it was (unless even the truncation failed,
  ///   which the message says, and `ptview repair` undoes).
  public static func append(_ plan: WritePlan, to path: String, at oldSize: Int64)
    throws(WriteError)
  {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(Int(plan.size))
    for chunk in plan.chunks {
      guard case .bytes(let b) = chunk else {
        throw WriteError("an append can only write new bytes, not copies of the input")
      }
      bytes += b
    }
    let fd = open(path, O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { throw WriteError("cannot open \(path) for writing: \(Errno.message())") }
    defer { close(fd) }
    // Two edits appending to one file at once would interleave; the second one waits its turn
    // no longer than it takes to say so.
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      throw WriteError("\(path) is being written by another process")
    }
    var info = stat()
    guard fstat(fd, &info) == 0, Int64(info.st_size) == oldSize else {
      throw WriteError("\(path) changed since it was read")
    }
    PendingAppend.set(fd: fd, size: oldSize)
    defer { PendingAppend.clear() }
    var written = 0
    var failure: Int32 = 0
    bytes.withUnsafeBytes { raw in
      while written < raw.count {
        let n = pwrite(
          fd, raw.baseAddress! + written, raw.count - written, off_t(oldSize) + off_t(written))
        if n < 0 {
          if errno == EINTR { continue }
          failure = errno
          return
        }
        written += n
      }
    }
    if failure == 0 && fsync(fd) != 0 { failure = errno }
    if failure != 0 {
      let undone = ftruncate(fd, off_t(oldSize)) == 0 && fsync(fd) == 0
      throw WriteError(
        "cannot append to \(path): \(Errno.message(failure))"
          + (undone ? "; the file is as it was" : "; run `ptview repair \(path)`"))
    }
  }

  /// Truncates `path` to `size` and syncs it, if it is now `expected` bytes long.
  public static func truncate(_ path: String, to size: Int64, expecting expected: Int64)
    throws(WriteError)
  {
    let fd = open(path, O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { throw WriteError("cannot open \(path) for writing: \(Errno.message())") }
    defer { close(fd) }
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      throw WriteError("\(path) is being written by another process")
    }
    var info = stat()
    guard fstat(fd, &info) == 0, Int64(info.st_size) == expected else {
      throw WriteError("\(path) changed while it was being checked")
    }
    guard ftruncate(fd, off_t(size)) == 0, fsync(fd) == 0 else {
      throw WriteError("cannot truncate \(path): \(Errno.message())")
    }
  }
}

/// The append in progress, where a signal handler can undo it: Ctrl-C or SIGTERM during an
/// append truncates the file back to its old size (`ftruncate` is async-signal-safe).
public enum PendingAppend {
  nonisolated(unsafe) private static var fd: Int32 = -1
  nonisolated(unsafe) private static var size: off_t = 0

  static func set(fd: Int32, size: Int64) {
    Self.size = off_t(size)
    Self.fd = fd
  }

  static func clear() { fd = -1 }

  /// Truncates the file being appended to back to its old size, if an append is running.
  public static func undoNow() {
    if fd >= 0 { _ = ftruncate(fd, size) }
  }
}
