import ArgumentParser
import PTViewCore

/// `ptview ls`: the tensors, as a table or as JSON.
struct List: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ls",
    abstract: "List every tensor: key, dtype, shape, stride, device, storage, bytes.",
    discussion: """
      --json prints one JSON array, one object per tensor path, in pickle order, with the \
      fields path, key, dtype, shape, stride, offset, device, storage, nbytes, requires_grad \
      (and file, for folders).

      A folder (a Hugging Face sharded model with its index, a Trainer, accelerate or \
      DeepSpeed checkpoint folder) or an X.index.json lists every file's tensors as one \
      checkpoint, each with its file; only the pickles are read. An index's URL (or an \
      s3:// prefix ending in /) lists the remote shards the same way.

      A torch.distributed.checkpoint folder (.metadata and .distcp files) lists every \
      saved key: tensors with dtype, global shape, chunk count and file, and the \
      non-tensor values DCP saved as bytes; --json adds kind, chunks, files and \
      stored_bytes.

      Examples:
        ptview ls model.pt
        ptview ls ./llama-7b/                 # every shard, with a FILE column
        ptview ls s3://bucket/llama-7b/       # its index and shards, by range requests
        ptview ls ./step-1000/                # a DCP folder
        ptview ls model.pt --json | jq -r '.[] | select(.device != "cpu") | .key'
      """)

  @ArgumentParser.Argument(help: "The checkpoint file or folder.", completion: .file())
  var file: String
  @Flag(help: "Print JSON for scripts.") var json = false

  @OptionGroup var remote: RemoteOptions

  func run() throws {
    if DistributedLoading.isDistributed(file) {
      let metadata = try DistributedLoading.open(file)
      if json {
        Diagnostics.out(DistributedReport.json(metadata))
      } else {
        Diagnostics.out(DistributedReport.table(metadata))
      }
      Diagnostics.finish()
    }
    let opened = try Loading.openFileOrFolder(file, rowsOnly: true)
    let entries: [TensorEntry]
    switch opened {
    case .file(let checkpoint, _): entries = checkpoint.entries
    case .folder(let folder):
      entries = folder.checkpoint.entries
      FolderNotes.warn(folder)
    }
    // The checkpoint lives until the process exits: freeing its graph and tables first (tens
    // of thousands of arrays and strings) cost more than writing the rows.
    withExtendedLifetime(opened) {
      if json {
        ListReport.json(entries) { Diagnostics.write(fd: 1, $0) }
      } else {
        Diagnostics.out(ListReport.table(entries))
      }
      Diagnostics.finish()
    }
  }
}
