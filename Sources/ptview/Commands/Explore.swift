import ArgumentParser
import PTViewCore
import PTViewFiles

/// `ptview FILE`: the explorer on a terminal, the `ls` table otherwise.
struct Explore: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "view",
    abstract: "Open the interactive explorer (the default; the ls table when piped).",
    discussion: """
      Browse the checkpoint as a tree, stage device moves (M maps everything, m the selected \
      subtree, cpu first), and write a remapped copy with w. Nothing touches the disk before w, \
      and the input is never modified. The header shows what ptview doctor and ptview scan say \
      about the file; ! goes to each row the scan flags. ? lists every key; docs/keys.md has \
      the same list. NO_COLOR turns colours off.

      Examples:
        ptview model.pt
        ptview view model.pt --no-mouse       # select text with the mouse
        ptview ./gpt2-sharded/                # a folder: every shard, a FILE column
        ptview model.pt | less                # not a terminal: the ls table
      """)

  @ArgumentParser.Argument(help: "The checkpoint file or folder.", completion: .file())
  var file: String
  @Flag(name: .customLong("no-mouse"), help: "Leave the mouse to the terminal (text selection).")
  var noMouse = false

  @OptionGroup var remote: RemoteOptions

  func run() throws {
    if DistributedLoading.isDistributed(file) {
      // A torch.distributed.checkpoint folder: its .metadata, read-only.
      let metadata = try DistributedLoading.open(file)
      guard Diagnostics.isTerminal(1) else {
        Diagnostics.out(DistributedReport.table(metadata))
        return
      }
      try FolderExplorer.run(distributed: metadata, path: file, mouse: !noMouse)
      return
    }
    let (checkpoint, source): (Checkpoint, any ByteSource)
    switch try Loading.openFileOrFolder(file) {
    case .file(let c, let s): (checkpoint, source) = (c, s)
    case .folder(let folder):
      // Every file's tensors in one tree, each with its file (FILE column).
      FolderNotes.warn(folder)
      guard Diagnostics.isTerminal(1) else {
        Diagnostics.out(ListReport.table(folder.checkpoint.entries))
        return
      }
      try FolderExplorer.run(folder: folder, mouse: !noMouse)
      return
    }
    guard Diagnostics.isTerminal(1) else {
      Diagnostics.out(ListReport.table(checkpoint.entries))
      return
    }
    try Explorer.run(checkpoint: checkpoint, source: source, path: file, mouse: !noMouse)
  }
}
