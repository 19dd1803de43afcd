import ArgumentParser
import PTViewCore
import PTViewEdit
import PTViewJudge
import PTViewPipeline

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
      own layout instead, leaving out superseded records; legacy files are always rewritten. \
      An append to a FILE with other hard links would change them all: it is refused unless \
      --hard-links (--compact changes this name only).

      A folder (a Hugging Face sharded model, a Trainer, accelerate or DeepSpeed folder) is \
      written whole to the new folder OUT: every torch file rewritten as above, two at a time, \
      every other file (index, config, tokenizer) copied byte for byte, all in a temporary \
      folder beside OUT renamed into place at the end (Ctrl-C leaves nothing). Files are \
      read two at a time, so memory holds two files' pickles, not the folder's. \
      safetensors shards are copied unchanged: the format stores no device.

      A torch.distributed.checkpoint folder records no device for its tensors (DCP saves \
      them from the CPU and loads them with map_location="cpu"). Only a pickled value (a \
      tuple holding tensors, saved whole) keeps its tensors' devices. When the rules move \
      none, remap says "nothing to remap" and exits 0, writing nothing. Otherwise OUT is \
      written as a new DCP folder: each such value rewritten as a .pt file is, the later \
      byte ranges of its .distcp file shifted, .metadata patched (only those offsets and \
      lengths change), every other file copied; --only matches the value's tensors as \
      stats names them (pair.0). --in-place is refused for a DCP folder.

      Examples:
        ptview remap gpu.pt --to cpu -o cpu.pt
        ptview remap ./llama-sharded/ --to cpu -o ./llama-cpu/
        ptview remap model.pt --map 'cuda:*=cpu' --only 'encoder.*' -o enc_cpu.pt
        ptview remap big.pt --in-place --to cpu
        ptview remap big.pt --in-place --compact --to cpu
        ptview remap ./dcp-step-100/ --to cpu -o ./dcp-cpu/

      Exit codes: 0 written and verified (or a DCP folder with nothing to remap); 1 refused or failed (nothing left behind); \
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
  @Flag(
    help:
      "With --in-place: append even when FILE has other hard links (every link changes); without it that append is refused."
  )
  var hardLinks = false
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

  @OptionGroup var remote: RemoteOptions

  func run() throws {
    let rules = try DeviceMoveOptions.rules(to: to, maps: maps, custom: customDevice)
    if DistributedLoading.isDistributed(file) { try remapDistributed(rules) }
    try EditRun.run(
      file: file, output: inPlace ? file : output!, inPlace: inPlace, compact: compact,
      hardLinks: hardLinks,
      force: force, json: json, noProgress: noProgress, verb: "remap",
      operations: [.moveDevices(rules, only: TensorSelection(only: only))])
  }

  /// A torch.distributed.checkpoint folder. Its tensors record no device: DCP moves them to
  /// the CPU before writing and loads them with map_location="cpu", and `.metadata` has no
  /// device field. Only pickled values (loaded with a plain torch.load) can hold tensors
  /// with a location. When the rules move none of those, there is nothing to do (exit 0,
  /// nothing written); otherwise OUT is written as a new DCP folder with those values
  /// rewritten and `.metadata`'s byte ranges moved (`DistributedRemap`).
  private func remapDistributed(_ rules: DeviceRules) throws -> Never {
    var folder = file
    while folder.count > 1 && folder.hasSuffix("/") { folder.removeLast() }
    if inPlace {
      Diagnostics.stderr(
        "ptview: \(folder): --in-place is not supported for a DCP folder; write a new one with -o OUT"
      )
      throw ExitCode(1)
    }
    let metadata = try DistributedLoading.open(folder)
    let selection = TensorSelection(only: only)
    let needed: Bool
    do {
      needed = try DistributedRemap.needed(
        metadata, folder: folder, rules: rules, only: selection)
    } catch {
      Diagnostics.stderr("ptview: \(error.message)")
      throw ExitCode(error.exitCode)
    }
    guard needed else {
      let why =
        "nothing to remap: a DCP folder's tensors record no device (dcp.load reads them with map_location=\"cpu\") and no pickled value holds a tensor the rules move; nothing written"
      Diagnostics.out(
        json
          ? "{\"input\": \(JSONWriter.quoted(folder)), \"written\": false, \"reason\": \(JSONWriter.quoted(why))}\n"
          : "\(folder): \(why)\n")
      Diagnostics.finish()
    }
    let report: DistributedRemap.Report
    do {
      report = try DistributedRemap.write(
        folder: folder, output: output!, rules: rules, only: selection, overwrite: force)
    } catch {
      switch error.kind {
      case .exists: Diagnostics.stderr("ptview: \(error.message); use --force to replace it")
      default: Diagnostics.stderr("ptview: \(error.message)")
      }
      throw ExitCode(error.exitCode)
    }
    Diagnostics.out(
      json
        ? RemapReport.distributedJSON(report, input: folder)
        : RemapReport.distributedText(report, input: folder))
    Diagnostics.finish()
  }
}
