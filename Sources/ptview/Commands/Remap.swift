import ArgumentParser
import PTViewCore
import PTViewEdit
import PTViewJudge

/// `ptview remap`: rewrite storage locations and write a file a plain `torch.load` accepts.
struct Remap: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Move tensors to another device and write a file a plain torch.load accepts.",
    discussion: """
      Rewrites the location of every storage reference (e.g. cuda:0 -> cpu) and writes OUT in \
      torch's own layout: the same records in the same order, storage bytes copied unchanged \
      and 64-byte aligned (torch.load(mmap=True) works), the pickle re-encoded at protocol 2 \
      with only the opcodes torch's weights_only loader accepts. OUT is written to a temporary \
      file, synced and renamed; FILE is never modified (unless --in-place). OUT is read back \
      and verified before success is reported.

      Rules: --map FROM=TO renames one location (`*` in FROM matches any rest: 'cuda:*=cpu'); \
      rules are tried in order, the first match wins, and --to applies to whatever no rule \
      matched. --only GLOB limits the change to tensors whose key matches (`*` crosses dots); \
      a storage moves when any selected tensor uses it.

      Exit codes: 0 written and verified; 1 refused or failed (nothing left behind); \
      2 FILE is unreadable; 64 usage errors.
      """)

  @ArgumentParser.Argument(help: "The checkpoint to read.") var file: String
  @Option(name: [.short, .customLong("output")], help: "Where to write the result.") var output:
    String?
  @Flag(help: "Rewrite FILE itself (still through a temporary file and a rename).") var inPlace =
    false
  @Option(help: "Move every storage not already there to DEVICE (e.g. cpu).") var to: String?
  @Option(name: .customLong("map"), help: "A FROM=TO location rule (repeatable; first match wins).")
  var maps: [String] = []
  @Option(help: "Only move storages used by tensors whose key matches GLOB (repeatable).")
  var only: [String] = []
  @Flag(help: "Replace OUT if it exists.") var force = false
  @Flag(help: "Print the report as JSON.") var json = false
  @Flag(help: "Never show a progress bar.") var noProgress = false

  @Flag(help: "Accept a device name torch does not know (a backend your own code registers).")
  var customDevice = false

  func validate() throws {
    if (output == nil) == !inPlace {
      throw ValidationError("give exactly one of -o OUT and --in-place")
    }
    // Text that is no device name at all is a usage error (64); a well-formed name torch
    // cannot restore (`banana`, `cuda0`) is a refusal (1), decided in run().
    if let to {
      do { try DeviceRules.validate(device: to) } catch { throw ValidationError(error.message) }
    }
    if to == nil && maps.isEmpty {
      throw ValidationError("say where to move tensors: --to DEVICE or --map FROM=TO")
    }
  }

  func run() throws {
    let rules = try DeviceMoveOptions.rules(to: to, maps: maps, custom: customDevice)
    try EditRun.run(
      file: file, output: inPlace ? file : output!, inPlace: inPlace, force: force, json: json,
      noProgress: noProgress, verb: "remap",
      operations: [.moveDevices(rules, only: TensorSelection(only: only))])
  }
}
