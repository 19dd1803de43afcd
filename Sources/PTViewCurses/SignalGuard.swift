import Glibc

/// Restores the terminal on every way out: Ctrl-C and SIGTERM leave with 130 and 143 after
/// `endwin`; a crash (trap, abort, bad access) restores the terminal, then dies of the same
/// signal so the shell still sees the crash.
enum SignalGuard {
  /// Installs the handlers. Call after curses starts, so they replace ncurses' own.
  static func install() {
    _ = signal(SIGINT) { _ in
      Curses.emergencyEnd()
      _exit(130)
    }
    _ = signal(SIGTERM) { _ in
      Curses.emergencyEnd()
      _exit(143)
    }
    _ = signal(SIGHUP) { _ in
      Curses.emergencyEnd()
      _exit(129)
    }
    for crash in [SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE] {
      _ = signal(crash) { sig in
        Curses.emergencyEnd()
        _ = signal(sig, SIG_DFL)
        _ = raise(sig)
      }
    }
  }

  /// Puts the default handlers back once curses has ended normally.
  static func remove() {
    for sig in [SIGINT, SIGTERM, SIGHUP, SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE] {
      _ = signal(sig, SIG_DFL)
    }
  }
}
