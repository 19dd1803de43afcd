import PTViewCore

#if canImport(Glibc)
  import Glibc
#endif

extension AtomicOutput {
  /// Writes whatever `body` writes to the descriptor it is given into a temporary file beside
  /// `destination`, syncs it and renames it into place: the destination is either the old
  /// file or the complete new one. For writers whose output is no `WritePlan` (exports).
  /// - Throws: `WriteError`; the temporary file is removed and `destination` is untouched.
  public static func writeStreaming(
    to destination: String, mode: UInt32, body: (Int32) throws(WriteError) -> Void
  ) throws(WriteError) {
    let folder = directory(of: destination)
    let base = destination.split(separator: "/").last.map(String.init) ?? destination
    // The name is registered for the signal handler before the file exists (as mkstemp
    // would, but a signal between mkstemp and the registration would leave the file).
    var fd: Int32 = -1
    var temporary = ""
    for _ in 0..<100 {
      let candidate = "\(folder)/.\(base).ptview-\(temporarySuffix())"
      PendingTemporary.set(candidate)
      fd = open(candidate, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
      if fd >= 0 {
        temporary = candidate
        break
      }
      PendingTemporary.clear()
      if errno != EEXIST { break }
    }
    guard fd >= 0 else {
      throw WriteError("cannot create a temporary file in \(folder): \(Errno.message())")
    }
    var finished = false
    defer {
      if !finished {
        close(fd)
        unlink(temporary)
      }
      PendingTemporary.clear()
    }
    fchmod(fd, mode_t(mode & 0o7777))
    try body(fd)
    guard fsync(fd) == 0 else { throw WriteError("cannot sync \(destination): \(Errno.message())") }
    guard close(fd) == 0 else {
      finished = true
      unlink(temporary)
      throw WriteError("cannot close \(destination): \(Errno.message())")
    }
    guard rename(temporary, destination) == 0 else {
      finished = true
      unlink(temporary)
      throw WriteError("cannot rename the temporary file to \(destination): \(Errno.message())")
    }
    finished = true
    let dirfd = open(folder, O_RDONLY | O_DIRECTORY)
    if dirfd >= 0 {
      fsync(dirfd)
      close(dirfd)
    }
  }

  /// Writes all of `bytes` to `fd` (through short writes and EINTR): for `writeStreaming`'s
  /// bodies. `destination` names the file in the error.
  public static func writeChunk(_ bytes: [UInt8], to fd: Int32, destination: String)
    throws(WriteError)
  {
    var failure: WriteError?
    bytes.withUnsafeBytes { raw in
      do throws(WriteError) { try writeAll(fd: fd, raw, destination: destination) } catch {
        failure = error
      }
    }
    if let failure { throw failure }
  }

  /// Writes `bytes` to `destination` atomically.
  public static func writeBytes(_ bytes: [UInt8], to destination: String, mode: UInt32)
    throws(WriteError)
  {
    try writeStreaming(to: destination, mode: mode) { (fd) throws(WriteError) in
      var failure: WriteError?
      bytes.withUnsafeBytes { raw in
        do throws(WriteError) { try writeAll(fd: fd, raw, destination: destination) } catch {
          failure = error
        }
      }
      if let failure { throw failure }
    }
  }
}

/// Six random letters and digits, as mkstemp makes them.
func temporarySuffix() -> String {
  let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
  var generator = SystemRandomNumberGenerator()
  return String((0..<6).map { _ in letters[Int(generator.next() % UInt64(letters.count))] })
}
