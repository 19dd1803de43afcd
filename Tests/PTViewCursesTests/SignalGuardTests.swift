import Glibc
import Testing

@testable import PTViewCurses

/// The handler of `sig` now in force, as a number (function pointers are not comparable).
private func handler(of sig: Int32) -> Int {
  var action = sigaction()
  sigaction(sig, nil, &action)
  return unsafeBitCast(action.__sigaction_handler.sa_handler, to: Int.self)
}

private func ignoreHangup(_: Int32) {}

/// The guard's handlers end the process, so they are exercised end to end
/// (`Tests/EndToEnd/tui/run.sh`: SIGTERM and Ctrl-C during a write); here, what can be
/// checked in process.
@Suite("signal guard", .serialized)
struct SignalGuardTests {
  @Test("install replaces the handlers and keeps the cleanup; remove puts the earlier ones back")
  func restores() {
    let mine: @convention(c) (Int32) -> Void = ignoreHangup
    let saved = signal(SIGHUP, mine)
    defer { _ = signal(SIGHUP, saved) }
    let before = handler(of: SIGHUP)
    let defaultTerm = handler(of: SIGTERM)
    SignalGuard.install(cleanup: { _ = 0 })
    #expect(SignalGuard.cleanup != nil)
    #expect(handler(of: SIGHUP) != before)
    #expect(handler(of: SIGTERM) != defaultTerm)
    SignalGuard.remove()
    #expect(SignalGuard.cleanup == nil)
    #expect(handler(of: SIGHUP) == before)
    #expect(handler(of: SIGTERM) == defaultTerm)
  }
}
