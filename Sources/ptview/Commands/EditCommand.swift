import ArgumentParser
import PTViewCore
import PTViewEdit
import PTViewFiles

/// `ptview edit`: checkpoint surgery in one pass, through the same planner and writer as
/// `remap` and the explorer.
struct EditCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "edit",
    abstract: "Strip prefixes, extract the weights, drop, rename, cast and move, in one pass.",
    discussion: """
      Operations apply in this order, whatever order they are given in: the root \
      (--extract, then --state-dict), then --strip-prefix and --rename, then --drop and \
      --keep, then --cast, then device moves. Key globs and prefixes act on the keys of the \
      chosen root, as `ptview ls` would print them for the result. OUT is written like \
      `ptview remap` writes: torch's layout, atomically, read back and verified; FILE is \
      never modified (unless --in-place).

      Examples:
        ptview edit ddp.pt --strip-prefix auto -o plain.pt
        ptview edit last.ckpt --extract state_dict --strip-prefix model. -o w.pt
        ptview edit checkpoint.pt --state-dict --cast bf16 --to cpu -o deploy.pt
        ptview edit model.pt --drop optimizer --drop 'ema*' -o small.pt
        ptview edit big.pt --strip-prefix auto --in-place
        ptview edit big.pt --in-place --compact --to cpu
        ptview edit ./sharded/ --cast bf16 -o ./sharded-bf16/   # index rewritten
        ptview edit ./st-shards/ --strip-prefix model. --drop 'lm_head*' -o ./out/

      A folder (.bin or safetensors shards and their index) is edited as one model: key \
      rules must match somewhere in it, each shard gets the edits that touch its keys, \
      safetensors shards are rewritten as safetensors, the index is written anew and the \
      other files are copied, all in a temporary folder renamed into place at the end. \
      --extract, --state-dict and --from-error are for single files.

      --in-place appends the changed records and a new directory to zip and TorchScript \
      files instead of copying them (`ptview repair` undoes an interrupted append); --cast \
      and legacy files, and --compact, rewrite FILE whole through a temporary file. An \
      append to a FILE with other hard links would change them all: it is refused unless \
      --hard-links (--compact changes this name only).

      Exit codes: 0 written and verified; 1 refused or failed (nothing written); \
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
  @Flag(help: "Replace OUT if it exists.") var force = false
  @Option(
    help: ArgumentHelp(
      "Make the value at a dotted key path the new root (e.g. state_dict, model).",
      valueName: "KEYPATH"))
  var extract: String?
  @Flag(
    help:
      "Write the weights as a flat OrderedDict[str, Tensor] (from a whole module, a TorchScript archive, or the training checkpoint's state_dict entry)."
  )
  var stateDict = false
  @Option(
    help: ArgumentHelp(
      "Remove prefix P from every key that has it; 'auto' detects module. and _orig_mod. (repeatable).",
      valueName: "P"))
  var stripPrefix: [String] = []
  @Option(
    help: ArgumentHelp(
      "Rename keys by dotted prefix OLD=NEW (repeatable; * in OLD is copied to * in NEW).",
      valueName: "OLD=NEW"))
  var rename: [String] = []
  @Option(
    help: ArgumentHelp(
      "Remove entries whose dotted key matches GLOB, with everything under them (repeatable).",
      valueName: "GLOB"))
  var drop: [String] = []
  @Option(
    help: ArgumentHelp(
      "Keep only entries whose dotted key matches GLOB (repeatable).", valueName: "GLOB")) var keep:
    [String] = []
  @Option(
    help: ArgumentHelp(
      "Convert floating tensors to DTYPE: bf16, fp16, fp32 or fp64.", valueName: "DTYPE")) var cast:
    String?
  @Option(
    help: ArgumentHelp(
      "Read a load_state_dict error message from FILE (- for standard input) and apply the key rules that explain it.",
      valueName: "FILE"))
  var fromError: String?
  @Option(
    help: ArgumentHelp(
      "Move every storage not already there to DEVICE (e.g. cpu).", valueName: "DEVICE")) var to:
    String?
  @Option(
    name: .customLong("map"),
    help: ArgumentHelp(
      "A FROM=TO location rule (repeatable; first match wins).", valueName: "FROM=TO"))
  var maps: [String] = []
  @Option(
    help: ArgumentHelp(
      "Only move storages used by tensors whose key matches GLOB (repeatable).", valueName: "GLOB"))
  var only: [String] = []
  @Flag(help: "Accept a device name torch does not know (a backend your own code registers).")
  var customDevice = false
  @Flag(help: "Print the report as JSON.") var json = false
  @Flag(help: "Never show a progress bar.") var noProgress = false

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
    if !only.isEmpty && to == nil && maps.isEmpty {
      throw ValidationError("--only limits a device move: add --to DEVICE or --map FROM=TO")
    }
    for text in rename {
      do { _ = try KeyPattern.parse(text) } catch {
        throw ValidationError("--rename \(error.message)")
      }
    }
  }

  @OptionGroup var remote: RemoteOptions

  func run() throws {
    var operations: [EditOperation] = []
    if let extract { operations.append(.extract(extract)) }
    if stateDict { operations.append(.stateDict) }
    operations += stripPrefix.map { .stripPrefix($0) }
    for text in rename {
      do { operations.append(.rename(try KeyPattern.parse(text))) } catch {
        Diagnostics.stderr("ptview: --rename \(error.message)")
        throw ExitCode(1)
      }
    }
    if let fromError {
      let text = try ErrorText.read(fromError)
      do { operations.append(.fromError(try LoadErrorMessage.parse(text))) } catch {
        Diagnostics.stderr("ptview: --from-error \(fromError): \(error.message)")
        throw ExitCode(1)
      }
    }
    operations += drop.map { .drop($0) }
    operations += keep.map { .keep($0) }
    if let cast {
      guard let dtype = EditOperation.castTarget(named: cast) else {
        Diagnostics.stderr(
          "ptview: --cast \(cast): not a dtype ptview casts to (bf16, fp16, fp32, fp64)")
        throw ExitCode(1)
      }
      operations.append(.cast(dtype))
    }
    if to != nil || !maps.isEmpty {
      let rules = try DeviceMoveOptions.rules(to: to, maps: maps, custom: customDevice)
      operations.append(.moveDevices(rules, only: TensorSelection(only: only)))
    }
    if operations.isEmpty {
      Diagnostics.stderr(
        "ptview: nothing to do: give an operation (--strip-prefix, --state-dict, --drop, --cast, --to...)"
      )
      throw ExitCode(1)
    }
    try EditRun.run(
      file: file, output: inPlace ? file : output!, inPlace: inPlace, compact: compact,
      hardLinks: hardLinks,
      force: force,
      json: json,
      noProgress: noProgress, verb: "edit", operations: operations)
  }
}

/// Reads the error text `--from-error` names: a file, or standard input for `-`.
enum ErrorText {
  static func read(_ path: String) throws -> String {
    if path == "-" {
      var text = ""
      while let line = readLine(strippingNewline: false) { text += line }
      return text
    }
    let source = try Loading.source(path)
    do {
      let bytes = try source.readExactly(at: 0, count: Int(min(source.size, 64 << 20)))
      return String(decoding: bytes, as: UTF8.self)
    } catch {
      Diagnostics.stderr("ptview: --from-error \(path): cannot read it")
      throw ExitCode(1)
    }
  }
}
