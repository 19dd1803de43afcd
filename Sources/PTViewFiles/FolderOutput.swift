import CSystemShims

#if canImport(Glibc)
  import Glibc
#endif

/// Writing a folder atomically: everything goes into a temporary folder beside the
/// destination, which is synced and renamed into place only when every file is written.
public enum FolderOutput {
  /// Creates `.NAME.ptview-XXXXXX` beside `destination`.
  public static func makeTemporary(near destination: String) throws(WriteError) -> String {
    var trimmed = destination
    while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
    let parts = trimmed.split(separator: "/", omittingEmptySubsequences: false)
    let base = String(parts.last ?? "")
    let parent = parts.count > 1 ? parts.dropLast().joined(separator: "/") : "."
    var template = Array("\(parent.isEmpty ? "/" : parent)/.\(base).ptview-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    guard made != nil else {
      throw WriteError("cannot create a temporary folder beside \(destination): \(Errno.message())")
    }
    return template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
  }

  /// Creates `.NAME.ptview-XXXXXX` beside `destination` and registers it, so Ctrl-C or
  /// SIGTERM before `commit` removes it (and whatever the writers put in it) on the way out.
  public static func makePendingTemporary(near destination: String) throws(WriteError) -> String {
    var trimmed = destination
    while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
    let parts = trimmed.split(separator: "/", omittingEmptySubsequences: false)
    let base = String(parts.last ?? "")
    let parent = parts.count > 1 ? parts.dropLast().joined(separator: "/") : "."
    // Registered before it exists: a signal right after mkdir must find it.
    for _ in 0..<100 {
      let candidate = "\(parent.isEmpty ? "/" : parent)/.\(base).ptview-\(temporarySuffix())"
      PendingFolder.set(candidate)
      if mkdir(candidate, 0o700) == 0 { return candidate }
      PendingFolder.clear()
      if errno != EEXIST { break }
    }
    throw WriteError("cannot create a temporary folder beside \(destination): \(Errno.message())")
  }

  /// Gives `destination` the permission bits of `source` (mkdtemp makes folders 0700).
  public static func copyMode(from source: String, to destination: String) {
    var info = stat()
    if stat(source, &info) == 0 { _ = chmod(destination, info.st_mode & 0o7777) }
  }

  /// Makes a subfolder (for DeepSpeed's tag folder).
  public static func makeFolder(_ path: String) throws(WriteError) {
    guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
      throw WriteError("cannot create \(path): \(Errno.message())")
    }
  }

  /// Copies a file byte for byte (in the kernel where it can, as `cp` does), keeping its
  /// permission bits, and syncs it.
  public static func copy(
    _ source: String, to destination: String, progress: (Int64) -> Void
  ) throws(WriteError) {
    let input = open(source, O_RDONLY | O_CLOEXEC)
    guard input >= 0 else { throw WriteError("cannot read \(source): \(Errno.message())") }
    defer { close(input) }
    var info = stat()
    guard fstat(input, &info) == 0 else {
      throw WriteError("cannot read \(source): \(Errno.message())")
    }
    let output = open(
      destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(info.st_mode & 0o777))
    guard output >= 0 else { throw WriteError("cannot create \(destination): \(Errno.message())") }
    defer { close(output) }
    var offset = off_t(0)
    var remaining = Int64(info.st_size)
    var kernel = true
    var buffer = [UInt8]()
    while remaining > 0 {
      let want = Int(min(remaining, 64 << 20))
      var n: Int
      if kernel {
        n = ptv_copy_file_range(input, &offset, output, want)
        if n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
          kernel = false
          buffer = [UInt8](repeating: 0, count: 1 << 20)
          continue
        }
      } else {
        n = buffer.withUnsafeMutableBytes {
          pread(input, $0.baseAddress!, min(want, $0.count), offset)
        }
        if n > 0 {
          var done = 0
          while done < n {
            let w = buffer.withUnsafeBytes { Glibc.write(output, $0.baseAddress! + done, n - done) }
            if w < 0 {
              if errno == EINTR { continue }
              throw WriteError("cannot write \(destination): \(Errno.message())")
            }
            done += w
          }
          offset += off_t(n)
        }
      }
      if n < 0 {
        if errno == EINTR { continue }
        throw WriteError("cannot copy \(source) to \(destination): \(Errno.message())")
      }
      if n == 0 { throw WriteError("\(source) ended while copying") }
      remaining -= Int64(n)
      progress(Int64(n))
    }
    guard fsync(output) == 0 else {
      throw WriteError("cannot sync \(destination): \(Errno.message())")
    }
  }

  /// Writes a new small file (an index) and syncs it.
  public static func write(_ bytes: [UInt8], to destination: String) throws(WriteError) {
    let fd = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw WriteError("cannot create \(destination): \(Errno.message())") }
    defer { close(fd) }
    var done = 0
    while done < bytes.count {
      let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
      if n < 0 {
        if errno == EINTR { continue }
        throw WriteError("cannot write \(destination): \(Errno.message())")
      }
      done += n
    }
    guard fsync(fd) == 0 else { throw WriteError("cannot sync \(destination): \(Errno.message())") }
  }

  /// Renames a file inside a folder being written (a shard named once the count is known).
  public static func renameFile(_ source: String, to destination: String) throws(WriteError) {
    guard Glibc.rename(source, destination) == 0 else {
      throw WriteError("cannot rename \(source) to \(destination): \(Errno.message())")
    }
  }

  /// Syncs a folder's entries (after files were created or renamed in it).
  public static func sync(folder: String) {
    let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { return }
    _ = fsync(fd)
    close(fd)
  }

  /// Puts `temporary` at `destination`: a rename; with `replace`, an existing destination
  /// is swapped out first and removed after the new folder is in place.
  public static func commit(_ temporary: String, to destination: String, replace: Bool)
    throws(WriteError)
  {
    var old: String?
    if replace && AtomicOutput.exists(destination) {
      let aside = try makeTemporary(near: destination)
      // mkdtemp made an empty folder; renaming a folder over an empty one replaces it.
      guard rename(destination, aside) == 0 else {
        _ = rmdir(aside)
        throw WriteError("cannot move the old \(destination) aside: \(Errno.message())")
      }
      // From here until the new folder is in place, a signal puts the old one back.
      PendingFolder.movedAside(aside, from: destination)
      old = aside
    }
    guard rename(temporary, destination) == 0 else {
      let reason = Errno.message()
      if let old { _ = rename(old, destination) }
      PendingFolder.set(temporary)
      throw WriteError("cannot rename the new folder to \(destination): \(reason)")
    }
    // The new folder is in place: what is left to clean up is the old one, if any.
    if let old { PendingFolder.set(old) } else { PendingFolder.clear() }
    sync(folder: AtomicOutput.directory(of: destination))
    if let old { removeTree(old) }
    PendingFolder.clear()
  }

  /// Removes a folder ptview made and everything in it (no symbolic link is followed), and
  /// forgets it as pending.
  public static func discard(_ path: String) {
    removeTree(path)
    PendingFolder.clear()
  }

  /// Removes a folder ptview made and everything in it (no symbolic link is followed).
  public static func removeTree(_ path: String) {
    for name in Folder.list(path) ?? [] {
      let full = path + "/" + name
      var info = stat()
      guard lstat(full, &info) == 0 else { continue }
      if info.st_mode & S_IFMT == S_IFDIR { removeTree(full) } else { _ = unlink(full) }
    }
    _ = rmdir(path)
  }
}

/// The temporary folder of a folder write, kept where a signal handler can reach it without
/// allocating: Ctrl-C or SIGTERM during a folder write must leave neither it nor a partial
/// OUT. While `commit` swaps an old OUT aside, the handler puts the old one back instead.
public enum PendingFolder {
  nonisolated(unsafe) private static let first = UnsafeMutablePointer<CChar>.allocate(
    capacity: 4097)
  nonisolated(unsafe) private static let second = UnsafeMutablePointer<CChar>.allocate(
    capacity: 4097)
  /// 0: nothing pending; 1: `first` is to be removed; 2: `first` (the old OUT, moved aside)
  /// goes back to `second`, then the temporary folder is removed by the caller's order.
  nonisolated(unsafe) private static var state: sig_atomic_t = 0
  /// The temporary folder while state is 2.
  nonisolated(unsafe) private static let temporary = UnsafeMutablePointer<CChar>.allocate(
    capacity: 4097)

  private static func store(_ value: String, in buffer: UnsafeMutablePointer<CChar>) {
    let bytes = Array(value.utf8CString.prefix(4096))
    for (i, b) in bytes.enumerated() { buffer[i] = b }
    buffer[min(bytes.count, 4096)] = 0
  }

  /// Registers `path` as a folder to remove on a signal.
  static func set(_ path: String) {
    state = 0
    store(path, in: first)
    state = 1
  }

  /// Registers the swap in progress: `aside` is the old `destination`; the temporary folder
  /// (registered before) is still to be removed.
  static func movedAside(_ aside: String, from destination: String) {
    let pending = state == 1 ? String(cString: first) : nil
    state = 0
    store(aside, in: first)
    store(destination, in: second)
    if let pending { store(pending, in: temporary) } else { temporary[0] = 0 }
    state = 2
  }

  /// Nothing is pending any more.
  public static func clear() { state = 0 }

  /// Undoes the pending folder write, if any. Async-signal-safe: system calls only.
  public static func removeNow() {
    switch state {
    case 1:
      _ = ptv_remove_tree(first)
    case 2:
      _ = rename(first, second)
      if temporary[0] != 0 { _ = ptv_remove_tree(temporary) }
    default:
      break
    }
  }
}
