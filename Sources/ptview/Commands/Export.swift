import ArgumentParser
import PTViewCore
import PTViewEdit
import PTViewFiles
import PTViewPipeline

/// `ptview export`: a checkpoint's tensors to safetensors, or safetensors to a torch.save file.
struct Export: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export",
    abstract: "Convert a checkpoint's tensors to safetensors, or safetensors to .pt.",
    usage: """
      ptview export <file> -o <out> [--force] [--only <glob> ...] [--json]
      ptview export <file> -o <folder> --max-shard-size <size> [<options>]
      ptview export <folder> -o <out> [--max-shard-size <size>] [<options>]
      """,
    discussion: """
      A .pt/.pth/.bin/.ckpt file (zip, legacy or TorchScript) becomes a .safetensors file \
      holding every tensor `ptview ls` lists, under the same dotted keys, with metadata \
      {"format": "pt"} as transformers expects. Every key gets its own bytes in its own shape: \
      tied tensors are written once per key, views are gathered by their strides, big-endian \
      files are swapped to little-endian. Contiguous tensors are copied by the kernel \
      (copy_file_range), never loaded into memory. Values that are not tensors are listed as \
      left out (on stderr, or in --json); that is not an error. A dtype or layout \
      safetensors cannot hold (complex128, quantized, sparse, nested, meta) is refused by name; \
      --only GLOB exports just the tensors whose keys match.

      A .safetensors file becomes a torch.save zip holding a plain dict of its tensors, as \
      torch.save(safetensors.torch.load_file(IN), OUT) writes it; it loads with torch.load's \
      defaults (weights_only=True). With --max-shard-size it is re-sharded instead.

      A torch.distributed.checkpoint folder (.metadata, .distcp files) becomes one .pt \
      holding what dcp_to_torch_save writes: the nested dict, every tensor assembled from \
      its chunks (copied from the files, never held in memory), and the non-tensor values \
      when they are plain Python values (others are refused by key).

      --max-shard-size SIZE writes OUT as a folder: model-00001-of-0000N.safetensors files \
      filled in key order (a new shard starts when the next tensor would pass SIZE; a bigger \
      tensor gets a shard of its own) and model.safetensors.index.json, as save_pretrained \
      does; one shard is model.safetensors without an index. SIZE is bytes or a number with \
      KB/MB/GB/TB (powers of 1000) or KiB/MiB/GiB/TiB (powers of 1024).

      A checkpoint folder (Hugging Face shards and their index, a Trainer folder) is \
      exported as the one state_dict its weights files hold. OUT ending in .safetensors, \
      .pt, .pth, .bin or .ckpt is one file. Any other OUT is a new folder in the other \
      format: .bin shards become model.safetensors or model-0000N-of-0000M.safetensors \
      with model.safetensors.index.json, safetensors shards become pytorch_model.bin or \
      pytorch_model-0000N-of-0000M.bin with pytorch_model.bin.index.json, split at 5GB as \
      save_pretrained splits (--max-shard-size sets another size); config, tokenizer and \
      other files are copied byte for byte. The folder is written in a temporary folder \
      beside OUT and renamed into place; Ctrl-C leaves nothing. In a torch file OUT, views \
      stay views: a storage the shards' views share is written once, and each view points \
      into it with its own offset and strides, as torch.save writes them.

      Each file is written to a temporary file, synced and renamed, then read back: its \
      header must list exactly the planned tensors at the planned offsets, and the first and \
      last 4 KiB of each copied tensor must equal the input's.

      Examples:
        ptview export model.pt -o model.safetensors
        ptview export model.bin -o out --max-shard-size 5GB
        ptview export model.safetensors -o model.pt --json
        ptview export ./checkpoint-dcp/ -o model.pt
        ptview export ./llama-bin/ -o ./llama-st/ --max-shard-size 2GB
        ptview export ./llama-st/ -o model.pt

      Exit codes: 0 written and verified; 1 refused (a dtype safetensors cannot hold, OUT \
      exists) or failed, nothing left behind; 2 IN is unreadable; 64 usage errors.
      """)

  @ArgumentParser.Argument(
    help: "The checkpoint or safetensors file, or checkpoint folder, to read.",
    completion: .file())
  var file: String
  @Option(
    name: [.short, .customLong("output")],
    help: ArgumentHelp(
      "Where to write the result (a folder with --max-shard-size).", valueName: "out"))
  var output: String
  @Flag(help: "Replace OUT if it exists.") var force = false
  @Option(
    help: ArgumentHelp(
      "Write shards of at most SIZE into the folder OUT (e.g. 5GB, 500MB, 2GiB).",
      valueName: "size"))
  var maxShardSize: String?
  @Option(
    help: ArgumentHelp(
      "Only tensors whose key matches GLOB (`*` crosses dots; repeatable).", valueName: "glob"))
  var only: [String] = []
  @Flag(help: "Print the report as JSON.") var json = false
  @Flag(help: "Never show a progress bar.") var noProgress = false

  func validate() throws {
    if let maxShardSize, ShardSize.parse(maxShardSize) == nil {
      throw ValidationError(
        "--max-shard-size: '\(maxShardSize)' is not a size (bytes, or e.g. 5GB, 500MB, 2GiB)")
    }
  }

  @OptionGroup var remote: RemoteOptions

  func run() throws {
    if DistributedLoading.isDistributed(file) {
      try exportDistributed()
      return
    }
    if Loading.namesRemoteFolder(file) {
      Diagnostics.stderr("ptview: \(file): \(Loading.remoteFolderWriteNotYet("export"))")
      throw ExitCode(1)
    }
    if let target = Loading.folderTarget(file) {
      let folder = Loading.listFolder(target.folder, index: target.index, keys: false)
      let report = try FolderExport.run(
        folder: folder, output: output, force: force,
        maxShardSize: maxShardSize.flatMap(ShardSize.parse), only: only, json: json,
        noProgress: noProgress)
      printReport(report)
      return
    }
    var (checkpoint, source) = try Loading.checkpoint(file)
    if !only.isEmpty {
      checkpoint.entries = checkpoint.entries.filter { entry in
        only.contains { Glob.matches($0, entry.key) }
      }
    }
    let bar = ProgressBar(
      enabled: !noProgress && !json && Diagnostics.isTerminal(2), label: "writing")
    let report: ExportReport
    do {
      if checkpoint.format == .safetensors && maxShardSize == nil {
        report = try ExportPipeline.toTorch(
          checkpoint: checkpoint, source: source, inputPath: file, outputPath: output,
          overwrite: force)
      } else {
        report = try ExportPipeline.toSafetensors(
          checkpoint: checkpoint, source: source, inputPath: file, outputPath: output,
          overwrite: force,
          maxShardSize: maxShardSize.flatMap(ShardSize.parse),
          progress: { done, total in bar.update(done, total) })
      }
    } catch {
      bar.finish()
      switch error.kind {
      case .exists: Diagnostics.stderr("ptview: \(error.message); use --force to replace it")
      default: Diagnostics.stderr("ptview: \(error.message)")
      }
      throw ExitCode(error.exitCode)
    }
    bar.finish()
    printReport(report)
  }

  /// A torch.distributed.checkpoint folder to one .pt, as dcp_to_torch_save writes it.
  func exportDistributed() throws {
    guard maxShardSize == nil, only.isEmpty else {
      Diagnostics.stderr(
        "ptview: a DCP folder exports whole to one .pt (no --only, --max-shard-size)")
      throw ExitCode(64)
    }
    let metadata = try DistributedLoading.open(file)
    let report: ExportReport
    do {
      report = try ExportPipeline.distributedToTorch(
        metadata: metadata, folder: file, outputPath: output, overwrite: force)
    } catch {
      switch error.kind {
      case .exists: Diagnostics.stderr("ptview: \(error.message); use --force to replace it")
      default: Diagnostics.stderr("ptview: \(error.message)")
      }
      throw ExitCode(error.exitCode)
    }
    printReport(report)
  }

  func printReport(_ report: ExportReport) {
    if json {
      Diagnostics.out(ExportOutput.json(report, input: file, output: output))
    } else {
      for item in report.leftOut.prefix(20) {
        Diagnostics.stderr("ptview: left out \(item.key) (\(item.kind))")
      }
      if report.leftOut.count > 20 {
        Diagnostics.stderr("ptview: left out \(report.leftOut.count - 20) more values")
      }
      Diagnostics.out(ExportOutput.text(report, output: output))
    }
  }
}

/// The export report: a line for people, JSON for scripts.
enum ExportOutput {
  static func text(_ report: ExportReport, output: String) -> String {
    let files = report.files.count
    let size = report.files.reduce(Int64(0)) { $0 + $1.size }
    var line = "wrote \(output) (\(Format.bytes(size))"
    if files > 1 { line += " in \(files) files" }
    line += "): \(report.tensors) tensor\(report.tensors == 1 ? "" : "s") as \(report.format)"
    if report.gathered > 0 { line += ", \(report.gathered) gathered" }
    if !report.leftOut.isEmpty { line += ", \(report.leftOut.count) non-tensor values left out" }
    return line + ", verified\n"
  }

  static func json(_ report: ExportReport, input: String, output: String) -> String {
    var out = "{\"input\":" + JSONWriter.quoted(input) + ",\"output\":" + JSONWriter.quoted(output)
    out += ",\"format\":" + JSONWriter.quoted(report.format)
    out += ",\"tensors\":\(report.tensors),\"data_bytes\":\(report.dataBytes)"
    out += ",\"gathered\":\(report.gathered),\"files\":["
    out += report.files.map {
      "{\"path\":" + JSONWriter.quoted($0.path) + ",\"size\":\($0.size),\"tensors\":\($0.tensors)}"
    }.joined(separator: ",")
    out += "],\"left_out\":["
    out += report.leftOut.map {
      "{\"key\":" + JSONWriter.quoted($0.key) + ",\"type\":" + JSONWriter.quoted($0.kind) + "}"
    }.joined(separator: ",")
    return out + "],\"verified\":true}\n"
  }
}
