import ArgumentParser
import PTViewCore
import PTViewPickle

/// `ptview tree`: the object graph as indented text.
struct Tree: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tree",
    abstract: "Print the object graph as indented text; shared objects shown once.",
    usage: "ptview tree <file> [--depth <depth>] [--raw] [<options>]",
    discussion: """
      Examples:
        ptview tree model.pt --depth 2
        ptview tree model.pt --raw | less     # tensors as their rebuild calls
        ptview tree ./sharded-model/ --depth 1  # each file's tree under its name
        ptview tree ./dcp-step-100/           # the dict dcp_to_torch_save rebuilds
      """)

  @ArgumentParser.Argument(help: "The checkpoint file or folder.", completion: .file())
  var file: String
  @Option(help: "Stop descending below this depth.") var depth: Int?
  @Flag(help: "Show tensor rebuild calls as calls, not one-line summaries.") var raw = false
  @Option(help: "The pickle to show (e.g. constants.pkl; default: the main one).") var record:
    String?

  @OptionGroup var remote: RemoteOptions

  func run() throws {
    if DistributedLoading.isDistributed(file) {
      let metadata = try DistributedLoading.open(file)
      Diagnostics.out(DistributedReport.tree(metadata, maxDepth: depth))
      return
    }
    switch try Loading.openFileOrFolder(file, strict: false) {
    case .file(let checkpoint, _): try show(checkpoint)
    case .folder(let folder):
      for (member, checkpoint) in folder.checkpoint.readMembers {
        Diagnostics.out("== \(member.file.name) (\(member.file.role))\n")
        try show(checkpoint)
      }
      FolderNotes.warn(folder)
    }
  }

  private func show(_ checkpoint: Checkpoint) throws {
    guard let root = try rootNode(checkpoint) else {
      Diagnostics.out("(no pickle: \(checkpoint.format.rawValue) files hold no object graph)\n")
      return
    }
    var printer = TreePrinter(graph: checkpoint.graph, tensors: checkpoint.tensors)
    printer.raw = raw
    printer.maxDepth = depth
    Diagnostics.out(printer.render(root))
  }

  private func rootNode(_ checkpoint: Checkpoint) throws -> ValueID? {
    guard let record else { return checkpoint.root }
    guard let section = checkpoint.pickles.first(where: { $0.name == record }) else {
      throw ValidationError(
        "no pickle named \(record); have: \(checkpoint.pickles.map(\.name).joined(separator: ", "))"
      )
    }
    return section.root
  }
}
