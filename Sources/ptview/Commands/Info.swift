import ArgumentParser
import PTViewCore
import PTViewFiles

/// `ptview info`: the checkpoint as a whole.
struct Info: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "info",
    abstract:
      "Summarise a checkpoint: format, protocol, records, totals, devices, dtypes, globals.",
    discussion: """
      Examples:
        ptview info model.pt
        ptview info model.pt --json | jq .devices
        ptview info checkpoint-500/          # every file's role and tensors
        ptview info ./dcp-step-100/          # a torch.distributed.checkpoint folder
      """)

  @ArgumentParser.Argument(help: "The checkpoint file or folder.", completion: .file())
  var file: String
  @Flag(help: "Print JSON for scripts.") var json = false

  @OptionGroup var remote: RemoteOptions

  func run() throws {
    if DistributedLoading.isDistributed(file) {
      let metadata = try DistributedLoading.open(file)
      Diagnostics.out(
        json ? DistributedReport.infoJSON(metadata) : DistributedReport.infoText(metadata))
      Diagnostics.finish()
    }
    let (checkpoint, source): (Checkpoint, any ByteSource)
    switch try Loading.openFileOrFolder(file) {
    case .file(let c, let s): (checkpoint, source) = (c, s)
    case .folder(let folder):
      let report = FolderReport(folder.checkpoint, path: folder.path)
      Diagnostics.out(json ? report.json : report.text)
      Diagnostics.finish()
    }
    var appends: AppendedArchive.History?
    if checkpoint.appendedAt != nil, let directory = checkpoint.directory {
      appends = try? AppendedArchive.history(directory, in: source)
    }
    let report = InfoReport(checkpoint, appends: appends)
    Diagnostics.out(json ? report.json : report.text)
    Diagnostics.finish()
  }
}
