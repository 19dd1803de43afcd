import PTViewCore

#if canImport(Glibc)
  import Glibc
#endif

/// A one-line progress bar on standard error, redrawn when the percentage changes. Only used
/// when stderr is a terminal and the work is big enough to be worth watching.
final class ProgressBar: @unchecked Sendable {
  private let enabled: Bool
  private let label: String
  private var lastPercent = -1
  private var drawn = false
  /// Work below this size finishes too fast for a bar.
  static let threshold: Int64 = 64 << 20

  init(enabled: Bool, label: String) {
    self.enabled = enabled
    self.label = label
  }

  func update(_ done: Int64, _ total: Int64) {
    guard enabled, total >= Self.threshold else { return }
    let percent = Int(done * 100 / max(total, 1))
    guard percent != lastPercent else { return }
    lastPercent = percent
    let width = 30
    let filled = percent * width / 100
    let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
    Diagnostics.write(
      fd: 2,
      "\r\(label) \(bar) \(String(percent).leftAligned(3))%  \(Format.bytes(done)) / \(Format.bytes(total))\u{1B}[K"
    )
    drawn = true
  }

  func finish() {
    if drawn { Diagnostics.write(fd: 2, "\r\u{1B}[K") }
    drawn = false
  }
}

extension String {
  fileprivate func leftAligned(_ width: Int) -> String {
    count >= width ? self : String(repeating: " ", count: width - count) + self
  }
}
