import ArgumentParser
import PTViewCore
import PTViewEdit
import PTViewFiles
import PTViewPipeline

/// `export FOLDER -o OUT`: a checkpoint folder's weights as one file (OUT ends in
/// .safetensors, .pt, .pth, .bin or .ckpt) or as a new folder: .bin shards become safetensors
/// shards and safetensors shards become .bin shards, named and indexed as save_pretrained
/// names them, every other file (config, tokenizer) copied byte for byte. A new folder is
/// written in a temporary folder beside OUT and renamed into place at the end.
enum FolderExport {
  static func run(
    folder: ListedFolder, output: String, force: Bool, maxShardSize: Int64?, only: [String],
    json: Bool, noProgress: Bool
  ) throws -> ExportReport {
    let weights = folder.layout.files.filter { $0.isWeights && $0.reading != .other }
    guard !weights.isEmpty else {
      Diagnostics.stderr("ptview: \(folder.path): no weights files to export")
      throw ExitCode(1)
    }
    let safetensors = weights.filter { $0.reading == .safetensors }.count
    guard safetensors == 0 || safetensors == weights.count else {
      Diagnostics.stderr(
        "ptview: \(folder.path): holds both .bin and safetensors weights; export one index's shards (name the index file)"
      )
      throw ExitCode(1)
    }
    let lower = output.lowercased()
    let target: ExportPipeline.FolderTarget
    let oneFile: Bool
    if lower.hasSuffix(".safetensors") {
      target = .safetensorsFile
      oneFile = true
    } else if [".pt", ".pth", ".bin", ".ckpt"].contains(where: { lower.hasSuffix($0) }) {
      target = .torchFile
      oneFile = true
    } else {
      let limit = maxShardSize ?? ExportPipeline.defaultShardLimit
      // The other format: an export of a folder is a conversion.
      target = safetensors > 0 ? .torchShards(limit: limit) : .safetensorsShards(limit: limit)
      oneFile = false
    }
    if oneFile && maxShardSize != nil {
      Diagnostics.stderr(
        "ptview: --max-shard-size writes a folder; name a folder as OUT (not \(output))")
      throw ExitCode(64)
    }
    if AtomicOutput.sameFile(folder.path, output) {
      Diagnostics.stderr("ptview: \(output) is the input folder; write elsewhere with -o")
      throw ExitCode(1)
    }
    if AtomicOutput.exists(output) && !force {
      Diagnostics.stderr("ptview: \(output) already exists; use --force to replace it")
      throw ExitCode(1)
    }
    if oneFile && Folder.isDirectory(output, followingLinks: true) {
      Diagnostics.stderr("ptview: \(output) is a folder; name a file")
      throw ExitCode(1)
    }
    let keep: (String) -> Bool = { key in only.isEmpty || only.contains { Glob.matches($0, key) } }
    // The weights files one at a time: each one's pickles are planned and let go (kept only
    // for views that must be gathered through them).
    func eachInput(_ body: (ExportPipeline.FolderInput) throws(WriteFailure) -> Void) throws {
      for file in weights {
        let path = folder.path(of: file.name)
        let read = Loading.readMember(file, at: path, strict: true)
        if let error = read.error { Diagnostics.fail(path, error) }
        guard let checkpoint = read.checkpoint, let source = read.source else {
          Diagnostics.fail(path, CheckpointError(.io, read.problem ?? "cannot be read"))
        }
        do { try body(.init(path: path, checkpoint: checkpoint, source: source)) } catch {
          Diagnostics.stderr("ptview: \(error.message)")
          throw ExitCode(error.exitCode)
        }
      }
    }
    let bar = ProgressBar(
      enabled: !noProgress && !json && Diagnostics.isTerminal(2), label: "writing")
    func fail(_ error: WriteFailure) -> ExitCode {
      bar.finish()
      Diagnostics.stderr("ptview: \(error.message)")
      return ExitCode(error.exitCode)
    }
    if oneFile {
      // One file's header (safetensors) or pickle (torch) names every tensor: the whole
      // folder's plan is held until it is written.
      var plan = ExportPipeline.FolderPlan()
      try eachInput { input throws(WriteFailure) in
        try ExportPipeline.plan(input, into: &plan, keep: keep)
      }
      do {
        let report = try ExportPipeline.exportFolder(
          plan, target: target, outputPath: output,
          progress: { done, total in bar.update(done, total) })
        bar.finish()
        return report
      } catch {
        throw fail(error)
      }
    }
    let torch: Bool
    let limit: Int64
    switch target {
    case .torchShards(let l): (torch, limit) = (true, l)
    case .safetensorsShards(let l): (torch, limit) = (false, l)
    default: (torch, limit) = (false, ExportPipeline.defaultShardLimit)
    }
    // A torch shard's archive is named after its file, whose name holds the count: the
    // safetensors inputs' headers (no pickle) give the sizes the split needs first.
    var shardCount: Int?
    var dataBytes: Int64 = 0
    if torch {
      var sizes: [Int64] = []
      try eachInput { input throws(WriteFailure) in
        sizes += try ExportPipeline.plannedSizes(input, keep: keep)
      }
      shardCount = max(1, ShardPlan.split(sizes, limit: limit).count)
      dataBytes = sizes.reduce(0, +)
    } else {
      // The data is known only as each file is planned: the files' sizes bound it.
      dataBytes = weights.reduce(Int64(0)) { total, file in
        total + ((try? FileSource(path: folder.path(of: file.name)))?.size ?? 0)
      }
    }
    let temporary: String
    do {
      temporary = try FolderOutput.makePendingTemporary(near: output)
      FolderOutput.copyMode(from: folder.path, to: temporary)
    } catch {
      Diagnostics.stderr("ptview: \(error.message)")
      throw ExitCode(1)
    }
    var report: ExportReport
    do throws(WriteFailure) {
      var writer = ExportPipeline.ShardWriter(
        torch: torch, limit: limit, folder: temporary, shardCount: shardCount, total: dataBytes,
        progress: { done, total in bar.update(done, total) })
      for file in weights {
        let path = folder.path(of: file.name)
        let read = Loading.readMember(file, at: path, strict: true)
        guard let checkpoint = read.checkpoint, let source = read.source else {
          throw WriteFailure(
            kind: .unreadable,
            message: "\(path): \(read.error?.description ?? read.problem ?? "cannot be read")")
        }
        try writer.add(.init(path: path, checkpoint: checkpoint, source: source), keep: keep)
      }
      report = try writer.finish()
    } catch {
      FolderOutput.discard(temporary)
      throw fail(error)
    }
    bar.finish()
    // Every other file of the top folder, byte for byte: config, tokenizer, generation
    // config. Not the input's weights or their index, nor a name the export just wrote.
    let written = Set(report.files.map { $0.path.split(separator: "/").last.map(String.init)! })
    for file in folder.layout.files
    where !file.isWeights && !file.name.contains("/") && !FolderLayout.isIndex(file.name)
      && !written.contains(file.name)
    {
      do {
        try FolderOutput.copy(folder.path(of: file.name), to: temporary + "/" + file.name) { _ in }
      } catch {
        FolderOutput.discard(temporary)
        Diagnostics.stderr("ptview: \(error.message)")
        throw ExitCode(1)
      }
    }
    FolderOutput.sync(folder: temporary)
    do { try FolderOutput.commit(temporary, to: output, replace: force) } catch {
      FolderOutput.discard(temporary)
      Diagnostics.stderr("ptview: \(error.message)")
      throw ExitCode(1)
    }
    // Report the files where they are now.
    for i in report.files.indices {
      let name = report.files[i].path.split(separator: "/").last.map(String.init) ?? ""
      report.files[i].path = output + (output.hasSuffix("/") ? "" : "/") + name
    }
    return report
  }
}
