import ArgumentParser
import PTViewCore
import PTViewEdit
import PTViewFiles
import PTViewJudge
import PTViewZip

/// `ptview doctor`: predicts what a plain `torch.load` does with a file (issue 5).
struct Doctor: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Predict whether a plain torch.load(FILE) works here; print the fix.",
    discussion: """
      Predicts torch.load(FILE) with PyTorch's defaults since 2.6 (weights_only=True, the \
      allowlist of torch 2.15, no map_location) on a machine with the given devices, without \
      PyTorch and without running the file.

      Exit codes: 0 loads as is; 3 fails, but a ptview rewrite (ptview remap) fixes it; \
      4 needs code changes or a trusted class (4 wins over 3); 2 unreadable. With exit 4, \
      when the weights alone would load (a whole pickled module, TorchScript, Namespace or \
      numpy values beside the state_dict), the ptview edit --state-dict command that writes \
      them is printed too, as an alternative fix.

      Examples:
        ptview doctor model.pt
        ptview doctor model.pt --device cuda:1   # a machine with GPUs 0 and 1
        ptview doctor model.pt --json | jq -r .remap
      """)

  @ArgumentParser.Argument(help: "The checkpoint file.", completion: .file()) var file: String
  @Option(
    name: .customLong("device"),
    help:
      "A device of the target machine (repeatable): cpu (the default), cuda:N (GPUs 0..N), xpu:N, mps."
  )
  var devices: [String] = []
  @Flag(help: "Print JSON for scripts.") var json = false

  func run() throws {
    var set = DeviceSet()
    for d in devices where !set.add(d) {
      throw ValidationError("unknown device '\(d)' (use cpu, cuda, cuda:N, xpu:N or mps)")
    }
    let source = try Loading.source(file)
    if let torn = AppendedArchive.tornTailQuick(source) { Diagnostics.fail(file, torn) }
    var doctor = LoadDoctor(devices: set)
    doctor.decompressor = Loading.decompressor(file, source)
    let report = doctor.diagnose(source, path: file)
    Diagnostics.out(json ? report.json + "\n" : report.text)
    if report.verdict == .unreadable, !json {
      Diagnostics.stderr("ptview: \(file): \(report.unreadableReason ?? "unreadable")")
    }
    if report.verdict != .loads { throw ExitCode(report.verdict.rawValue) }
  }
}
