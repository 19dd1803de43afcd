import PTViewCore

#if canImport(Glibc)
  import Glibc
#endif

/// Printing for people: errors on stderr, one line each.
enum Diagnostics {
  /// Writes `text` to standard error.
  static func stderr(_ text: String) {
    var line = text
    if !line.hasSuffix("\n") { line += "\n" }
    write(fd: 2, line)
  }

  /// Prints `ptview: FILE: RECORD: byte N: message` and exits with 2 (unreadable input).
  static func fail(_ path: String, _ error: CheckpointError) -> Never {
    stderr("ptview: \(path): \(error.description)")
    exit(2)
  }

  /// Writes to standard output without buffering surprises.
  static func out(_ text: String) {
    write(fd: 1, text)
  }

  /// Writes all of `text` to a file descriptor (one system call for big outputs).
  static func write(fd: Int32, _ text: String) {
    Array(text.utf8).withUnsafeBytes { write(fd: fd, $0) }
  }

  /// Writes raw bytes to a file descriptor.
  static func write(fd: Int32, _ buffer: UnsafeRawBufferPointer) {
    var done = 0
    while done < buffer.count {
      let n = Glibc.write(fd, buffer.baseAddress! + done, buffer.count - done)
      if n < 0 {
        if errno == EINTR { continue }
        return
      }
      done += n
    }
  }

  /// Ends the process successfully right away. Commands that built a big checkpoint in memory
  /// call it once their output is written: tearing down millions of graph nodes only to exit
  /// costs as much as a tenth of a listing.
  static func finish() -> Never {
    exit(0)
  }

  /// Whether a file descriptor is a terminal.
  static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) != 0 }
}
