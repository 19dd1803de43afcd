import ArgumentParser
import PTViewCore

/// `ptview FILE`: the explorer on a terminal, the `ls` table otherwise.
struct Explore: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "view",
    abstract: "Open the interactive explorer (the default; prints the ls table when not on a terminal).")

  @ArgumentParser.Argument(help: "The checkpoint file.") var file: String

  func run() throws {
    let (checkpoint, _) = try Loading.checkpoint(file)
    Diagnostics.out(ListReport.table(checkpoint.entries))
  }
}
