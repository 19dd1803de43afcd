import ArgumentParser
import PTViewFiles

/// The `ptview` command: an explorer by default, plain subcommands for scripts.
@main
struct PTView: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ptview",
    abstract: "Inspect and fix PyTorch checkpoints without PyTorch or running them.",
    discussion: """
      ptview reads .pt, .pth, .bin and .ckpt files (torch.save zips, legacy streams, \
      TorchScript, safetensors) by parsing the container and the pickle itself: nothing from \
      the file is ever executed. `ptview FILE` opens the explorer.

      Examples:
        ptview model.pt                       # browse it (the ls table when piped)
        ptview doctor model.pt                # would torch.load work here? the fix
        ptview remap model.pt --to cpu -o model.cpu.pt
        ptview scan ~/Downloads/*.pt          # would loading run code?
        ptview ls s3://bucket/model.pt        # remote: reads only what it needs

      A FILE may be an http://, https:// or s3:// URL (README: remote files); \
      --no-sign-request (an option of every verb) sends S3 requests unsigned.

      Exit codes: 0 success, 1 refused or failed to write, 2 unreadable input, 3 and 4 \
      verdicts of doctor and scan, 64 usage errors.
      """,
    version: Version.line,
    subcommands: [
      Explore.self, List.self, Info.self, Disassemble.self, Tree.self, Remap.self,
      EditCommand.self, Repair.self, Doctor.self, Scan.self, Stats.self, Export.self,
      Cat.self, Diff.self,
    ],
    defaultSubcommand: Explore.self
  )

  /// Sets up signal handling (temporary files never outlive an interrupted write), then runs.
  static func main() {
    PendingTemporary.installSignalCleanup()
    MemoryTuning.apply()
    main(verbFirst(Array(CommandLine.arguments.dropFirst())))
  }

  /// `--no-sign-request` is each verb's option (RemoteOptions), but it has always been accepted
  /// before the verb too (`ptview --no-sign-request ls s3://...`, as the AWS CLI puts its
  /// global options): there it moves behind the verb, where the verb parses it.
  static func verbFirst(_ arguments: [String]) -> [String] {
    let flag = "--no-sign-request"
    let leading = arguments.prefix { $0 == flag }.count
    guard leading > 0, leading < arguments.count else { return arguments }
    let verbs = Set(configuration.subcommands.map { $0._commandName })
    let verb = arguments[leading]
    // The top level's own help and version never read a file: the flag has nothing to do.
    if ["-h", "--help", "help", "--version"].contains(verb) {
      return Array(arguments.dropFirst(leading))
    }
    guard verbs.contains(verb) else { return arguments }
    return [verb] + arguments.prefix(leading) + arguments.dropFirst(leading + 1)
  }
}
