import ArgumentParser
import PTViewCore
import PTViewEdit
import PTViewFiles
import PTViewJudge
import PTViewRemote
import PTViewZip

/// `ptview scan`: safety verdicts for pickles (issue 5).
struct Scan: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "scan",
    abstract: "Flag files whose pickles would run code when loaded.",
    discussion: """
      Verdicts: safe (plain data only), suspicious (needs classes or functions beyond plain data), \
      dangerous (can run code or touch the system when loaded), unscannable (cannot be parsed far \
      enough to know; never reported as safe). Containers are recognised by content: bare pickles, \
      several pickles in a row, torch zip/legacy/tar files, nested zips, numpy .npy/.npz. \
      A directory is scanned recursively: every regular file inside it is scanned (symbolic links \
      are not followed). In a torch.distributed.checkpoint folder, .metadata is scanned as \
      a pickle and each .distcp file as the torch.save archives at the byte ranges \
      .metadata names (pickled values and tensor chunks). Text files beside checkpoints \
      (DeepSpeed's `latest`, `zero_to_fp32.py`) are reported safe with a note: torch.load \
      never reads them.

      Exit codes: 0 safe, 3 suspicious, 4 dangerous, 2 unscannable or unreadable; for several \
      files, the most severe (dangerous, then unscannable, then suspicious).

      Examples:
        ptview scan model.pt
        ptview scan ~/Downloads/checkpoints   # every file below it
        ptview scan ./dcp-step-100/           # .metadata and every .distcp archive
        ptview scan s3://bucket/model/        # the index and every shard it names
        ptview scan --json *.pt | jq -r '.files[] | select(.exit_code != 0) | .path'
      """)

  @ArgumentParser.Argument(help: "Files or directories to scan.", completion: .file())
  var files: [String]
  @Flag(help: "Print JSON for scripts.") var json = false
  @Flag(help: .hidden) var noDangerList = false
  @Flag(
    help: """
      Print instead, one JSON line per file, what ptview's VM decodes from the file's first \
      byte as one pickle: its imports, calls, extension codes and persistent ids in stream \
      order, and where it stopped (for differential tests against CPython).
      """) var vmTrace = false

  @OptionGroup var remote: RemoteOptions

  func run() throws {
    if vmTrace {
      for path in expand(files) {
        let bytes: [UInt8]
        do {
          let source = try Loading.openForScan(path)
          bytes = try source.readExactly(at: 0, count: Int(source.size))
        } catch {
          Diagnostics.stderr("ptview: \(path): \(error.message)")
          throw ExitCode(2)
        }
        Diagnostics.out(PickleTrace(bytes).json(path: path) + "\n")
      }
      return
    }
    var reports: [SafetyReport] = []
    // DCP folders' metadata, read once per folder (nil: not readable, scan files whole).
    var distributed: [String: DistributedMetadata?] = [:]
    for path in expand(files) {
      if let (folder, name) = Self.distcpMember(path) {
        if distributed[folder] == nil {
          distributed[folder] = .some(try? DistributedLoading.read(folder))
        }
        if let metadata = distributed[folder]!, metadata.files.contains(name) {
          reports.append(scanDistributed(path, name: name, metadata: metadata))
          continue
        }
      }
      var report = scan(path)
      if path.hasSuffix("/.metadata"), report.verdict == .suspicious,
        DistributedLoading.isDistributed(String(path.dropLast("/.metadata".count))),
        report.findings.allSatisfy({
          $0.verdict == .suspicious && Self.distributedMetadataClasses.contains($0.global ?? "")
        })
      {
        // The report keeps one finding per distinct global, so every name the pickle uses
        // was checked against the list.
        let names = Set(report.findings.compactMap(\.global)).sorted()
        report.verdict = .safe
        report.findings = []
        report.omittedFindings = 0
        report.notes.append(
          "the .metadata of a DCP folder: dcp.load reads it with pickle.load (no allowlist), so only its content makes it safe; it names only DCP's own metadata types (\(names.joined(separator: ", "))), which build data and run no code"
        )
      }
      reports.append(report)
    }
    let verdict = SafetyReport.combined(reports)
    if json {
      Diagnostics.out(
        "{\"verdict\":\"\(verdict.rawValue)\",\"exit_code\":\(verdict.exitCode),\"files\":["
          + reports.map(\.json).joined(separator: ",") + "]}\n")
    } else {
      Diagnostics.out(reports.map(\.text).joined())
      if reports.count > 1 {
        Diagnostics.out("\(reports.count) files: \(verdict.rawValue)\n")
      }
    }
    if verdict.exitCode != 0 { throw ExitCode(verdict.exitCode) }
  }

  /// Files as given; directories replaced by the regular files under them, sorted; a remote
  /// sharded checkpoint (its index's URL, an S3 prefix) by its index and every shard.
  func expand(_ paths: [String]) -> [String] {
    paths.flatMap { path -> [String] in
      guard RemoteLocation.isRemote(path) else { return Folder.regularFiles(under: path) ?? [path] }
      guard let index = Loading.remoteIndex(path) else { return [path] }
      return [index.text] + Loading.remoteShards(index).shards.map(\.location.text)
    }
  }

  /// What torch (2.x) writes into a DCP `.metadata`: its metadata dataclasses (rebuilt by
  /// NEWOBJ + state, no `__setstate__`), the memory-format enum, the filesystem writer's
  /// storage info and the path it saved to. Exact names: anything else stays suspicious.
  static let distributedMetadataClasses: Set<String> = [
    "torch.distributed.checkpoint.metadata.Metadata",
    "torch.distributed.checkpoint.metadata.TensorStorageMetadata",
    "torch.distributed.checkpoint.metadata.BytesStorageMetadata",
    "torch.distributed.checkpoint.metadata.ChunkStorageMetadata",
    "torch.distributed.checkpoint.metadata.TensorProperties",
    "torch.distributed.checkpoint.metadata.MetadataIndex",
    "torch.distributed.checkpoint.metadata.StorageMeta",
    "torch.distributed.checkpoint.metadata._MEM_FORMAT_ENCODING",
    "torch.distributed.checkpoint.filesystem._StorageInfo",
    "pathlib.PosixPath", "pathlib.PurePosixPath", "pathlib.WindowsPath",
    "pathlib.PureWindowsPath", "pathlib.Path", "torch.Size",
  ]

  /// The folder and name of a `.distcp` file inside a DCP folder, or nil.
  static func distcpMember(_ path: String) -> (String, String)? {
    guard path.hasSuffix(".distcp"), let slash = path.lastIndex(of: "/") else { return nil }
    let folder = String(path[..<slash])
    guard DistributedLoading.isDistributed(folder) else { return nil }
    return (folder, String(path[path.index(after: slash)...]))
  }

  /// A `.distcp` file scanned as what DCP reads from it: the torch.save archive at each byte
  /// range `.metadata` names (pickled values and tensor chunks), one verdict for the file.
  /// Offsets in findings are file offsets; locations name the key and the archive's start.
  func scanDistributed(_ path: String, name: String, metadata: DistributedMetadata)
    -> SafetyReport
  {
    var ranges: [(fqn: String, storage: DistributedMetadata.Storage, value: Bool)] = []
    for item in metadata.items {
      switch item.kind {
      case .bytes(let s) where s.file == name: ranges.append((item.fqn, s, true))
      case .tensor(_, _, let chunks):
        for c in chunks where c.storage.file == name { ranges.append((item.fqn, c.storage, false)) }
      default: break
      }
    }
    ranges.sort { $0.storage.offset < $1.storage.offset }
    let source: FileSource
    do { source = try FileSource(path: path) } catch { return scan(path) }
    var verdict = SafetyVerdict.safe
    var findings: [SafetyFinding] = []
    var pickles: [String] = []
    var omitted = 0
    var covered: Int64 = 0
    var end: Int64 = 0
    for range in ranges {
      let s = range.storage
      covered += max(0, s.offset + s.length - max(s.offset, end))
      end = max(end, s.offset + s.length)
      let slice = SliceSource(source, start: s.offset, size: s.length)
      var scanner = SafetyScanner()
      scanner.useDangerList = !noDangerList
      scanner.decompressor = Loading.LazyLibzip(source: slice, name: path)
      scanner.makeDecompressor = { bytes throws(CheckpointError) in
        try LibzipArchive(bytes: bytes)
      }
      let report = scanner.scan(slice, path: path)
      verdict = .worst(verdict, report.verdict)
      let place = "\(range.fqn) @ byte \(s.offset)"
      pickles += report.pickles.map { "\(place): \($0)" }
      omitted += report.omittedFindings
      for var finding in report.findings {
        finding.location = "\(place): \(finding.location)"
        if finding.offsetIsInFile { finding.offset += s.offset }
        findings.append(finding)
      }
    }
    let values = ranges.filter(\.value).count
    var notes = [
      "\(ranges.count) torch.save archive\(ranges.count == 1 ? "" : "s") at the ranges .metadata gives (\(values) pickled value\(values == 1 ? "" : "s"), \(ranges.count - values) tensor chunk\(ranges.count - values == 1 ? "" : "s"))"
    ]
    if covered < source.size {
      notes.append("\(source.size - covered) bytes lie outside every range: DCP never reads them")
    }
    return SafetyReport(
      path: path, verdict: verdict, format: "DCP .distcp file", pickles: pickles,
      findings: findings, notes: notes, omittedFindings: omitted)
  }

  func scan(_ path: String) -> SafetyReport {
    let source: any ByteSource
    do { source = try Loading.openForScan(path) } catch {
      Diagnostics.stderr("ptview: \(path): \(error.message)")
      return SafetyReport(
        path: path, verdict: .unscannable, format: "unreadable", pickles: [],
        findings: [
          SafetyFinding(
            verdict: .unscannable, kind: .unparsable, location: "file", offset: 0,
            offsetIsInFile: true,
            global: nil, rendering: nil, detail: "cannot open: \(error.message)", node: nil)
        ], notes: [], omittedFindings: 0)
    }
    if let torn = AppendedArchive.tornTailQuick(source) {
      Diagnostics.stderr("ptview: \(path): \(torn.description)")
      return SafetyReport(
        path: path, verdict: .unscannable, format: "torn append", pickles: [],
        findings: [
          SafetyFinding(
            verdict: .unscannable, kind: .unparsable, location: "file",
            offset: torn.offset ?? 0, offsetIsInFile: true, global: nil, rendering: nil,
            detail: torn.message, node: nil)
        ], notes: [], omittedFindings: 0)
    }
    // JSON documents (configs, indexes, tokenizers beside checkpoints) hold no pickle and no
    // loader runs them: a folder scan says so instead of calling them unscannable.
    if source.size <= 64 << 20, let first = try? source.read(at: 0, count: 1).first,
      first == UInt8(ascii: "{") || first == UInt8(ascii: "["),
      let bytes = try? source.readExactly(at: 0, count: Int(source.size)),
      (try? JSONParser.parse(bytes)) != nil
    {
      return SafetyReport(
        path: path, verdict: .safe, format: "JSON document (no pickle)", pickles: [],
        findings: [], notes: [], omittedFindings: 0)
    }
    var scanner = SafetyScanner()
    scanner.useDangerList = !noDangerList
    scanner.decompressor = Loading.decompressor(path, source)
    scanner.makeDecompressor = { bytes throws(CheckpointError) in try LibzipArchive(bytes: bytes) }
    let report = scanner.scan(source, path: path)
    // Text beside checkpoints (DeepSpeed's `latest`, scripts): torch.load never reads it.
    if PlainTextFile.qualifies(report), source.size <= PlainTextFile.maxSize,
      let bytes = try? source.readExactly(at: 0, count: Int(source.size)),
      let kind = PlainTextFile.kind(of: bytes, name: path)
    {
      return PlainTextFile.report(path: path, kind: kind)
    }
    return report
  }
}
