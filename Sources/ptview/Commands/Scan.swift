import ArgumentParser

/// `ptview scan`: safety verdicts for pickles (issue 5).
struct Scan: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Flag files whose pickles would run code when loaded.")

  @ArgumentParser.Argument(help: "The files to scan.") var files: [String]

  func run() throws {
    throw ValidationError("scan is not implemented yet")
  }
}
