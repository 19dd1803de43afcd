import ArgumentParser
import PTViewCore

/// `ptview ls`: the tensors, as a table or as JSON.
struct List: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ls",
    abstract: "List every tensor: key, dtype, shape, stride, device, storage, bytes.",
    discussion: """
      --json prints one JSON array, one object per tensor path, in pickle order, with the \
      fields path, key, dtype, shape, stride, offset, device, storage, nbytes, requires_grad.

      Examples:
        ptview ls model.pt
        ptview ls model.pt --json | jq -r '.[] | select(.device != "cpu") | .key'
      """)

  @ArgumentParser.Argument(help: "The checkpoint file.", completion: .file()) var file: String
  @Flag(help: "Print JSON for scripts.") var json = false

  func run() throws {
    let (checkpoint, _) = try Loading.checkpoint(file)
    if json {
      ListReport.json(checkpoint.entries) { Diagnostics.write(fd: 1, $0) }
    } else {
      Diagnostics.out(ListReport.table(checkpoint.entries))
    }
    Diagnostics.finish()
  }
}
