import ArgumentParser
import PTViewCore
import PTViewEdit
import PTViewJudge

/// `ptview remap`: rewrite storage locations and write a file a plain `torch.load` accepts.
struct Remap: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "remap",
    abstract: "Move tensors to another device and write a file a plain torch.load accepts.",
    usage: """
      ptview remap <file> (-o <out> | --in-place) --to <device> [<options>]
      ptview remap <file> (-o <out> | --in-place) --map <from=to> [<options>]
      """,
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

      --in-place changes FILE itself without copying it: on zip and TorchScript files the new \
      pickle and a new central directory are appended after the old end (storage records stay \
      where they are, still aligned; nothing before the old end is written), synced, read back \
      and verified, and truncated away again if anything fails. `ptview repair FILE` undoes an \
      append a crash interrupted. --compact (with --in-place) rewrites FILE whole in torch's \
      own layout instead, leaving out superseded records; legacy files are always rewritten.

      A folder (a Hugging Face sharded model, a Trainer, accelerate or DeepSpeed folder) is \
      written whole to the new folder OUT: every torch file rewritten as above, two at a time, \
      every other file (index, config, tokenizer) copied byte for byte, all in a temporary \
      folder beside OUT renamed into place at the end. safetensors shards are copied \
      unchanged: the format stores no device.

      Examples:
        ptview remap gpu.pt --to cpu -o cpu.pt
        ptview remap ./llama-sharded/ --to cpu -o ./llama-cpu/
        ptview remap model.pt --map 'cuda:*=cpu' --only 'encoder.*' -o enc_cpu.pt
        ptview remap big.pt --in-place --to cpu
        ptview remap big.pt --in-place --compact --to cpu

      Exit codes: 0 written and verified; 1 refused or failed (nothing left behind); \
      2 FILE is unreadable; 64 usage errors.
      """)

  @ArgumentParser.Argument(help: "The checkpoint file or folder to read.", completion: .file())
  var file: String
  @Option(name: [.short, .customLong("output")], help: "Where to write the result.") var output:
    String?
  @Flag(
    help:
      "Change FILE itself: zip and TorchScript files get the changed records and a new directory appended (nothing before the old end is written; `ptview repair` undoes an interrupted append); other files are rewritten through a temporary file and a rename."
  )
  var inPlace = false
  @Flag(
    help:
      "With --in-place: rewrite FILE whole in torch's own layout (temporary file and rename), leaving out records earlier in-place edits superseded."
  )
  var compact = false
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
    if compact && !inPlace {
      throw ValidationError("--compact rewrites FILE itself: add --in-place")
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
      file: file, output: inPlace ? file : output!, inPlace: inPlace, compact: compact,
      force: force, json: json, noProgress: noProgress, verb: "remap",
      operations: [.moveDevices(rules, only: TensorSelection(only: only))])
  }
}
