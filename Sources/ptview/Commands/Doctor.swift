import ArgumentParser
import PTViewCore
import PTViewEdit
import PTViewFiles
import PTViewJudge
import PTViewPipeline
import PTViewZip

/// `ptview doctor`: predicts what a plain `torch.load` does with a file (issue 5).
struct Doctor: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "doctor",
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
        ptview doctor ./sharded-model/        # every file, and the index
        ptview doctor ./dcp-step-100/         # a torch.distributed.checkpoint folder

      A folder (or X.index.json) is judged file by file; the verdict is the worst of its \
      files (4, then 2, then 3), and the index is checked against the shards: a shard it \
      names that is missing makes the folder unreadable (2); keys it misplaces are listed.

      A torch.distributed.checkpoint folder is judged as dcp.load reads it: every file \
      .metadata names present, every byte range inside its file, chunks tiling each tensor \
      with no overlap or gap, each chunk one tensor of the recorded dtype and shape, each \
      pickled value readable. Each problem is one line with its file and byte offset; the \
      verdict is 0 or 2.
      """)

  @ArgumentParser.Argument(help: "The checkpoint file or folder.", completion: .file())
  var file: String
  @Option(
    name: .customLong("device"),
    help:
      "A device of the target machine (repeatable): cpu (the default), cuda:N (GPUs 0..N), xpu:N, mps."
  )
  var devices: [String] = []
  @Flag(help: "Print JSON for scripts.") var json = false

  @OptionGroup var remote: RemoteOptions

  func run() throws {
    var set = DeviceSet()
    for d in devices where !set.add(d) {
      throw ValidationError("unknown device '\(d)' (use cpu, cuda, cuda:N, xpu:N or mps)")
    }
    if DistributedLoading.isDistributed(file) { try diagnoseDistributed() }
    if let index = Loading.remoteIndex(file) {
      try diagnose(Loading.remoteFolder(index, strict: false), devices: set)
    }
    if let target = Loading.folderTarget(file) {
      let folder = try Loading.folder(target.folder, index: target.index, strict: false)
      try diagnose(folder, devices: set)
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

  /// A torch.distributed.checkpoint folder, judged as dcp.load reads it: the metadata (every
  /// file present, ranges inside them, chunks tiling each tensor), then every chunk and
  /// pickled value opened. Exits 0 (loads) or 2 (unreadable, each problem on one line).
  private func diagnoseDistributed() throws -> Never {
    var folder = file
    while folder.count > 1 && folder.hasSuffix("/") { folder.removeLast() }
    var problems: [DistributedChecks.Problem] = []
    var notes: [String] = []
    var summary = "DCP folder"
    do {
      let metadata = try DistributedLoading.read(folder)
      problems = DistributedChecks.problems(metadata, folder: folder)
      let tensors = metadata.items.filter { if case .tensor = $0.kind { true } else { false } }
      let chunks = tensors.reduce(0) {
        if case .tensor(_, _, let c) = $1.kind { $0 + c.count } else { $0 }
      }
      func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
      summary =
        "DCP folder: \(count(metadata.items.count, "key")) (\(count(tensors.count, "tensor")) in \(count(chunks, "chunk")), \(count(metadata.items.count - tensors.count, "pickled value"))) in \(count(metadata.files.count, "file"))"
      for value in DistributedChecks.valueDevices(metadata, folder: folder)
      where value.devices != ["cpu"] {
        notes.append(
          "\(value.fqn) (\(value.file) @ byte \(value.offset)) is a pickled value holding tensors on \(value.devices.joined(separator: ", ")); dcp.load restores them there (plain torch.load, no map_location); `ptview remap \(folder) --to cpu -o OUT` moves them"
        )
      }
    } catch {
      var message = error.error.description
      if message.hasPrefix(".metadata: ") { message.removeFirst(".metadata: ".count) }
      problems = [.init(file: ".metadata", message: message)]
    }
    let verdict: DoctorReport.Verdict = problems.isEmpty ? .loads : .unreadable
    if json {
      var out = "{\"path\": \(JSONWriter.quoted(folder)), \"format\": \"dcp\", "
      out += "\"verdict\": \"\(verdict)\", \"exit_code\": \(verdict.rawValue), \"problems\": ["
      out += problems.map {
        "{\"file\": \(JSONWriter.quoted($0.file)), \"message\": \(JSONWriter.quoted($0.message))}"
      }.joined(separator: ", ")
      out += "], \"notes\": [" + notes.map(JSONWriter.quoted).joined(separator: ", ") + "]}\n"
      Diagnostics.out(out)
    } else {
      var out = "\(folder): \(summary)\n"
      for p in problems { out += "- \(p.file): \(p.message)\n" }
      for n in notes { out += "  note: \(n)\n" }
      out +=
        problems.isEmpty
        ? "loads: every chunk and value is where .metadata says, and whole\n"
        : "unreadable: \(problems.count) problem\(problems.count == 1 ? "" : "s"); dcp.load fails\n"
      Diagnostics.out(out)
      if let first = problems.first {
        Diagnostics.stderr("ptview: \(folder)/\(first.file): \(first.message)")
      }
    }
    if verdict != .loads { throw ExitCode(verdict.rawValue) }
    Diagnostics.finish()
  }

  /// Each torch and safetensors file of a folder, then the index; exits with the folder's
  /// verdict.
  private func diagnose(_ folder: OpenedFolder, devices set: DeviceSet) throws -> Never {
    var reports: [DoctorReport] = []
    for member in folder.checkpoint.members where member.file.reading != .other {
      let path = folder.path(of: member.file.name)
      var doctor = LoadDoctor(devices: set)
      do {
        // A remote folder's shards are open already (and exist nowhere else).
        let source: any ByteSource
        if let open = folder.sources[member.file.name] {
          source = open
        } else {
          source = try FileSource(path: path)
        }
        doctor.decompressor = Loading.decompressor(path, source)
        if let torn = AppendedArchive.tornTailQuick(source) { Diagnostics.fail(path, torn) }
        reports.append(doctor.diagnose(source, path: path))
      } catch {
        Diagnostics.fail(path, CheckpointError(.io, error.message))
      }
    }
    let findings = folder.checkpoint.findings
    let missing = findings.contains { $0.kind == .missingShard }
    let unread = folder.checkpoint.members.filter {
      $0.file.reading == .safetensors && $0.problem != nil
    }
    let rank: [DoctorReport.Verdict: Int] = [
      .loads: 0, .rewriteFixes: 1, .unreadable: 2, .needsCode: 3,
    ]
    var verdict = reports.map(\.verdict).max { rank[$0]! < rank[$1]! } ?? .loads
    if missing && rank[verdict]! < rank[.unreadable]! { verdict = .unreadable }
    if json {
      var out = "{\"folder\": \(JSONWriter.quoted(folder.path)), "
      out += "\"verdict\": \"\(verdict)\", \"exit_code\": \(verdict.rawValue), "
      out += "\"files\": [" + reports.map { $0.json }.joined(separator: ", ") + "], "
      out +=
        "\"not_read\": [" + unread.map { JSONWriter.quoted($0.file.name) }.joined(separator: ", ")
        + "], "
      out += "\"index_findings\": ["
      out += findings.map {
        "{\"kind\": \(JSONWriter.quoted($0.kind.rawValue)), \"message\": \(JSONWriter.quoted($0.message))}"
      }.joined(separator: ", ")
      out += "]}\n"
      Diagnostics.out(out)
    } else {
      for report in reports {
        Diagnostics.out("== \(report.path)\n" + report.text)
      }
      for member in unread {
        Diagnostics.out("== \(folder.path(of: member.file.name))\n\(member.problem!)\n")
      }
      if let index = folder.checkpoint.index {
        Diagnostics.out("== \(folder.path(of: index.name))\n")
        if findings.isEmpty {
          Diagnostics.out("agrees with the shards\n")
        } else {
          for line in FolderReport.findingLines(findings) { Diagnostics.out("- \(line)\n") }
        }
      }
      Diagnostics.out("folder: \(reports.count) files judged; verdict \(verdict.rawValue)\n")
      if verdict == .rewriteFixes && folder.isRemote {
        let name = folder.path.split(separator: "/").last.map(String.init) ?? "model"
        Diagnostics.out(
          "fix (rewrite), the whole folder, once downloaded to \(name)/:\n  ptview remap \(name) -o \(name)-cpu --to cpu\n"
        )
      } else if verdict == .rewriteFixes {
        Diagnostics.out(
          "fix (rewrite), the whole folder:\n  ptview remap \(folder.path) -o \(folder.path)-cpu --to cpu\n"
        )
      }
    }
    if verdict != .loads { throw ExitCode(verdict.rawValue) }
    Diagnostics.finish()
  }
}
