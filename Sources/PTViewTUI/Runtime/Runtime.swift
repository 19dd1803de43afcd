/// A terminal as the runtime sees it: frames in, messages out. The curses backend and the
/// fake one for tests both conform, so the same loop runs in both.
public protocol TerminalBackend {
  /// The current size.
  var size: Size { get }
  /// Blocks for the next input (key, resize, mouse); nil when input has ended.
  mutating func nextMessage() -> Message?
  /// Shows a frame.
  mutating func draw(_ screen: Screen)
}

/// Runs effects for the runtime: the shell's side of the loop, where I/O happens.
public protocol EffectRunner {
  /// Runs `effect`; replies and progress go through `send`, which updates and redraws.
  mutating func run(_ effect: Effect, send: (Message) -> Void)
}

/// The one loop: draw, wait for a message, update, run effects, draw again.
public struct Runtime<Backend: TerminalBackend> {
  /// The state.
  public var model: Model
  /// The terminal.
  public var backend: Backend
  /// Frames drawn (for tests and benchmarks).
  public private(set) var frames = 0
  /// Set once an effect asked to quit.
  public private(set) var finished = false

  /// A runtime over `model` and `backend`; the model takes the backend's size.
  public init(model: Model, backend: Backend) {
    self.model = model
    self.backend = backend
    if self.model.size != backend.size {
      _ = self.model.update(.resize(backend.size))
    }
  }

  /// Draws the current state.
  public mutating func redraw() {
    backend.draw(model.render())
    frames += 1
  }

  /// Applies `message`, runs what it asks for, and redraws.
  public mutating func send(_ message: Message, runner: inout some EffectRunner) {
    var queue = [message]
    while !queue.isEmpty && !finished {
      let next = queue.removeFirst()
      let effects = model.update(next)
      for effect in effects {
        if effect == .quit {
          finished = true
          return
        }
        var replies: [Message] = []
        runner.run(effect) { reply in
          if case .writeProgress = reply {
            // Progress is drawn as it comes, while the effect is still running.
            _ = model.update(reply)
            redraw()
          } else {
            replies.append(reply)
          }
        }
        queue += replies
      }
    }
    if !finished { redraw() }
  }

  /// Runs until a quit effect or the end of input.
  public mutating func run(runner: inout some EffectRunner) {
    redraw()
    while !finished, let message = backend.nextMessage() {
      send(message, runner: &runner)
    }
  }
}

/// An effect runner that does nothing: for driving the explorer where no effect should run.
public struct NoEffects: EffectRunner {
  /// Effects it was asked to run.
  public private(set) var requested: [Effect] = []
  /// Creates one.
  public init() {}
  public mutating func run(_ effect: Effect, send: (Message) -> Void) { requested.append(effect) }
}
