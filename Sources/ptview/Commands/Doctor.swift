import ArgumentParser

/// `ptview doctor`: predicts what a plain `torch.load` does with a file (issue 5).
struct Doctor: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Predict whether a plain torch.load(FILE) works here, and print the fix.")

  @ArgumentParser.Argument(help: "The checkpoint file.") var file: String

  func run() throws {
    throw ValidationError("doctor is not implemented yet")
  }
}
