/// The diff view's loop: draw, wait for a message, update, until the view closes or input
/// ends. The diff view runs no effects, so this is all of its runtime.
public struct DiffRuntime<Backend: TerminalBackend> {
  /// The state.
  public var model: DiffModel
  /// The terminal.
  public var backend: Backend

  /// A runtime over `model` and `backend`; the model takes the backend's size.
  public init(model: DiffModel, backend: Backend) {
    self.model = model
    self.backend = backend
    self.model.size = backend.size
  }

  /// Runs until the user quits or input ends.
  public mutating func run() {
    backend.draw(model.render())
    while let message = backend.nextMessage() {
      guard model.update(message) else { return }
      backend.draw(model.render())
    }
  }
}
