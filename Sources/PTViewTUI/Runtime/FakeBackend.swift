/// A scripted terminal for tests and benchmarks: messages in, frames captured out. It lives
/// in the library (as NIO ships `NIOEmbedded`) so every test layer can drive the real loop.
public struct FakeBackend: TerminalBackend {
  /// The size it reports.
  public var size: Size
  /// Messages still to deliver.
  public var script: [Message]
  private var next = 0
  /// The last frame drawn.
  public private(set) var lastFrame: Screen?
  /// Every frame, if `keepFrames`.
  public private(set) var frames: [Screen] = []
  /// Whether to keep every frame (off for benchmarks).
  public var keepFrames: Bool

  /// A backend of `size` that will deliver `script`.
  public init(size: Size = .standard, script: [Message] = [], keepFrames: Bool = false) {
    self.size = size
    self.script = script
    self.keepFrames = keepFrames
  }

  /// A script typing `keys` (each character one key press; use `Message.key` for others).
  public static func keys(_ text: String) -> [Message] {
    text.map { .key(.character($0)) }
  }

  public mutating func nextMessage() -> Message? {
    guard next < script.count else { return nil }
    let message = script[next]
    next += 1
    if case .resize(let newSize) = message { size = newSize }
    return message
  }

  public mutating func draw(_ screen: Screen) {
    lastFrame = screen
    if keepFrames { frames.append(screen) }
  }
}
