import ArgumentParser
import PTViewCore
import PTViewEdit
import PTViewFiles
import PTViewPipeline
import PTViewRemote

/// Device-move flags shared by `remap` and `edit`.
enum DeviceMoveOptions {
  /// The rules `--to` and `--map` describe; refusals exit 1 with one line.
  static func rules(to: String?, maps: [String], custom: Bool) throws -> DeviceRules {
    var rules = DeviceRules(defaultTarget: to)
    do {
      if let to { try DeviceRules.validateTarget(to, custom: custom) }
      for map in maps { rules.rules.append(try DeviceRules.parse(map, custom: custom)) }
    } catch {
      Diagnostics.stderr("ptview: \(error.message)")
      throw ExitCode(1)
    }
    return rules
  }
}

/// Runs the edit pipeline for a command: read, plan, write, verify, report.
enum EditRun {
  static func run(
    file: String, output: String, inPlace: Bool, compact: Bool = false, hardLinks: Bool = false,
    force: Bool, json: Bool, noProgress: Bool,
    verb: String, operations: [EditOperation]
  ) throws {
    if inPlace && RemoteLocation.isRemote(file) {
      Diagnostics.stderr("ptview: \(file): --in-place changes a local file; this one is remote")
      throw ExitCode(1)
    }
    if Loading.namesRemoteFolder(file) {
      Diagnostics.stderr("ptview: \(file): \(Loading.remoteFolderWriteNotYet(verb))")
      throw ExitCode(1)
    }
    if let target = Loading.folderTarget(file) {
      if inPlace {
        Diagnostics.stderr(
          "ptview: \(file): --in-place does not work on folders yet; write a new folder with -o OUT"
        )
        throw ExitCode(1)
      }
      let folder = Loading.listFolder(target.folder, index: target.index, keys: false)
      try FolderEdit.run(
        folder: folder, output: output, force: force, json: json, noProgress: noProgress,
        verb: verb, operations: operations)
      return
    }
    let (checkpoint, source) = try Loading.checkpoint(file)
    guard checkpoint.format != .safetensors && checkpoint.format != .pickle else {
      Diagnostics.stderr(
        "ptview: \(file): \(checkpoint.format.rawValue) files hold no storage locations to \(verb)")
      throw ExitCode(1)
    }
    let bar = ProgressBar(
      enabled: !noProgress && !json && Diagnostics.isTerminal(2), label: "writing")
    let outcome: WriteOutcome
    do {
      let plan = try EditPipeline.plan(checkpoint, operations)
      outcome = try EditPipeline.write(
        checkpoint: checkpoint, inputPath: file,
        inputSource: source is FileSource ? nil : source, plan: plan, outputPath: output,
        overwrite: force || inPlace, allowInPlace: inPlace, appendInPlace: inPlace && !compact,
        appendToLinks: hardLinks,
        progress: { done, total in bar.update(done, total) })
    } catch {
      bar.finish()
      switch error.kind {
      case .exists: Diagnostics.stderr("ptview: \(error.message); use --force to replace it")
      case .isInput: Diagnostics.stderr("ptview: \(error.message); use --in-place to rewrite it")
      case .refused, .failed, .unreadable: Diagnostics.stderr("ptview: \(error.message)")
      }
      throw ExitCode(error.exitCode)
    }
    bar.finish()
    Diagnostics.out(
      json
        ? RemapReport.json(outcome.report, input: file, output: output, verb: verb)
        : RemapReport.text(outcome.report, input: file, output: output, verb: verb))
  }
}
