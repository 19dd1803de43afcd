import Glibc

/// Restores the terminal on every way out: Ctrl-C and SIGTERM leave with 130 and 143 after
/// `endwin`; a crash (trap, abort, bad access) or Ctrl-\ restores the terminal, then dies of
/// the same signal so the shell still sees it.
///
/// Every handler first calls the shell's cleanup hook (the explorer removes the temporary file
/// of a write in progress): this module draws and reads the terminal and knows nothing of
/// files, so the shell, which owns both, passes the hook in.
enum SignalGuard {
  /// The shell's cleanup, called by every handler before the terminal is restored. It runs
  /// inside a signal handler, so it must be async-signal-safe (`unlink`, no allocation).
  nonisolated(unsafe) static var cleanup: (@convention(c) () -> Void)? = nil

  private static let leaving: [(signal: Int32, status: Int32)] = [
    (SIGINT, 130), (SIGTERM, 143), (SIGHUP, 129),
  ]
  private static let crashes = [SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE, SIGQUIT]
  /// The handlers that were in place before `install`, put back by `remove`.
  nonisolated(unsafe) private static var previous: [(Int32, __sighandler_t?)] = []

  /// Installs the handlers. Call after curses starts, so they replace ncurses' own.
  static func install(cleanup: (@convention(c) () -> Void)?) {
    Self.cleanup = cleanup
    var saved: [(Int32, __sighandler_t?)] = []
    saved.append((SIGINT, signal(SIGINT) { _ in SignalGuard.leave(130) }))
    saved.append((SIGTERM, signal(SIGTERM) { _ in SignalGuard.leave(143) }))
    saved.append((SIGHUP, signal(SIGHUP) { _ in SignalGuard.leave(129) }))
    for crash in crashes {
      saved.append(
        (
          crash,
          signal(crash) { sig in
            SignalGuard.cleanup?()
            Curses.emergencyEnd()
            _ = signal(sig, SIG_DFL)
            _ = raise(sig)
          }
        ))
    }
    previous = saved
  }

  /// Cleans up, restores the terminal and exits with `status`: only async-signal-safe calls.
  private static func leave(_ status: Int32) -> Never {
    cleanup?()
    Curses.emergencyEnd()
    _exit(status)
  }

  /// Puts the earlier handlers back (ptview's own temporary-file cleanup, or the defaults)
  /// once curses has ended normally.
  static func remove() {
    for (sig, handler) in previous {
      _ = signal(sig, handler ?? SIG_DFL)
    }
    previous = []
    cleanup = nil
  }
}
