import ArgumentParser
import PTViewCore

/// `ptview info`: the checkpoint as a whole.
struct Info: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "Summarise a checkpoint: format, protocol, records, totals, devices, dtypes, globals.",
    discussion: """
      Examples:
        ptview info model.pt
        ptview info model.pt --json | jq .devices
      """)

  @ArgumentParser.Argument(help: "The checkpoint file.", completion: .file()) var file: String
  @Flag(help: "Print JSON for scripts.") var json = false

  func run() throws {
    let (checkpoint, source) = try Loading.checkpoint(file)
    var appends: AppendedArchive.History?
    if checkpoint.appendedAt != nil, let directory = checkpoint.directory {
      appends = try? AppendedArchive.history(directory, in: source)
    }
    let report = InfoReport(checkpoint, appends: appends)
    Diagnostics.out(json ? report.json : report.text)
    Diagnostics.finish()
  }
}
