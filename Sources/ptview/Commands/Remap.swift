import ArgumentParser

/// `ptview remap`: rewrite storage locations (issue 3).
struct Remap: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Move tensors to another device and write a file a plain torch.load accepts.")

  @ArgumentParser.Argument(help: "The checkpoint file.") var file: String

  func run() throws {
    throw ValidationError("remap is not implemented yet")
  }
}
