import ArgumentParser
import PTViewCore
import PTViewFiles
import PTViewRemote
import PTViewValues

#if canImport(Glibc)
  import Glibc
#endif

/// `ptview diff`: which tensors two checkpoints hold differently.
struct Diff: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "diff",
    abstract: "Compare the tensors of two checkpoints, values included.",
    usage: "ptview diff <a> <b> [--json] [<options>]",
    discussion: """
      Lists the keys only in A, only in B, and for keys in both what changed: dtype, shape, \
      device (where the file puts the tensor) and values, with the largest absolute \
      difference. Values are compared as torch.load(map_location="cpu") returns them, \
      element by element in float64 (integers exactly; complex by modulus), streamed from \
      both files in bounded memory; tensors of different shapes are not compared by value, \
      sparse and nested ones by their parts (a change has no max |a-b|). \
      NaN equals NaN at the same place; NaN against a number is a change whose max |a-b| is \
      nan (null in JSON). Files in different containers (zip, legacy) with the same tensors \
      are identical. Only tensors are compared. A torch.distributed.checkpoint folder is \
      compared as the file dcp_to_torch_save writes (chunks assembled, keys nested). \
      Sharded folders (local or remote) are not compared yet: export one to a file.

      On a terminal the differences open in the explorer (? lists its keys); --json or a \
      pipe prints text. --json prints {"only_a": [...], "only_b": [...], "changed": [{"key", \
      "changes", "max_abs_diff"}], "identical": N}.

      Examples:
        ptview diff before.pt after.pt
        ptview diff a.pt b.pt --json | jq -r '.changed[].key'
        ptview diff ./dcp-step-100/ model.pt   # a DCP folder against a file

      Exit codes: 0 identical; 1 different; 2 an input is unreadable; 64 usage errors.
      """)

  @ArgumentParser.Argument(help: "The first checkpoint.", completion: .file()) var a: String
  @ArgumentParser.Argument(help: "The second checkpoint.", completion: .file()) var b: String
  @Flag(help: "Print JSON for scripts.") var json = false
  @Flag(help: "Never show a progress bar.") var noProgress = false
  @Flag(name: .customLong("no-mouse"), help: "Leave the mouse to the terminal (text selection).")
  var noMouse = false

  @OptionGroup var remote: RemoteOptions

  func run() throws {
    for path in [a, b] where Self.isShardedFolder(path) {
      Diagnostics.stderr("ptview: \(path): \(Self.shardedNotYet(path))")
      Glibc.exit(1)
    }
    let (left, leftSource) = try Loading.values(a)
    let (right, rightSource) = try Loading.values(b)
    var report = DiffReport(a: left.entries, b: right.entries)
    let readA = TensorValues(checkpoint: left, source: leftSource)
    let readB = TensorValues(checkpoint: right, source: rightSource)
    let bar = ProgressBar(
      enabled: !noProgress && !json && Diagnostics.isTerminal(2), label: "comparing")
    do {
      try ValueDiff(a: readA, b: readB).fill(&report) { done, total in bar.update(done, total) }
    } catch {
      bar.finish()
      Diagnostics.fail(error.inB ? b : a, error.error)
    }
    bar.finish()
    let code: Int32 = report.isIdentical ? 0 : 1
    if json {
      Diagnostics.out(report.json)
    } else if Diagnostics.isTerminal(1) && Diagnostics.isTerminal(0) {
      try DiffExplorer.run(report: report, nameA: a, nameB: b, mouse: !noMouse)
    } else {
      Diagnostics.out(report.text(nameA: a, nameB: b))
    }
    Glibc.exit(code)
  }

  /// Whether `path` is a checkpoint folder other than DCP (a local folder, its `X.index.json`,
  /// an index URL or an S3 prefix), from its name and, locally, its listing: no request.
  static func isShardedFolder(_ path: String) -> Bool {
    Loading.namesRemoteFolder(path)
      || (!RemoteLocation.isRemote(path) && Loading.folderTarget(path) != nil)
  }

  /// The one line for a folder given to diff: comparing two folders shard by shard is not
  /// done yet; cat reads a folder's tensors, and a local folder exports to one file.
  static func shardedNotYet(_ path: String) -> String {
    let local =
      RemoteLocation.isRemote(path)
      ? "download it (`hf download`, `aws s3 sync`), then `ptview export` the copy"
      : "`ptview export FOLDER -o one.safetensors`"
    return
      "not yet: diff compares files and DCP folders, not sharded folders; `ptview cat` prints a folder's tensors, and \(local) makes one file to diff"
  }
}
