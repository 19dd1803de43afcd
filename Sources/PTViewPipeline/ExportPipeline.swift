public import PTViewCore
import PTViewEdit
public import PTViewFiles
import PTViewPickle
import PTViewZip

#if canImport(Glibc)
  import Glibc
#endif

/// What an export wrote and checked.
public struct ExportReport: Sendable {
  /// One written file.
  public struct File: Sendable {
    /// Its path.
    public var path: String
    /// Its size.
    public var size: Int64
    /// Tensors in it.
    public var tensors: Int
  }
  /// `safetensors` or `pt`: what was written.
  public var format: String
  /// The files written, in order (shards, then the index).
  public var files: [File]
  /// Tensors written.
  public var tensors: Int
  /// Bytes of tensor data written.
  public var dataBytes: Int64
  /// Values that are not tensors and were left out.
  public var leftOut: [ExportPlanner.LeftOut]
  /// Tensors whose bytes were gathered (views, big-endian storages) rather than copied.
  public var gathered: Int
}

/// `ptview export`: a checkpoint's tensors to safetensors (one file or shards), or a
/// safetensors file to a torch.save zip; written atomically and read back.
public enum ExportPipeline {
  /// Bytes compared at each end of every copied tensor when verifying.
  static let sampleBytes = 4096

  /// Writes the tensors of `checkpoint` (read from `inputPath`) as safetensors to
  /// `outputPath`: one file, or, with `maxShardSize`, a folder of shards and an index.
  public static func toSafetensors(
    checkpoint: Checkpoint, source: any ByteSource, inputPath: String, outputPath: String,
    overwrite: Bool, maxShardSize: Int64?,
    progress: @escaping @Sendable (Int64, Int64) -> Void
  ) throws(WriteFailure) -> ExportReport {
    guard source.size == checkpoint.fileSize else {
      throw WriteFailure(kind: .unreadable, message: "\(inputPath) changed size since it was read")
    }
    let reader = TensorValues(checkpoint: checkpoint, source: source)
    var selection: ExportPlanner.Selection
    if checkpoint.format == .safetensors {
      // Re-sharding a safetensors file: its tensors are byte ranges already.
      let header: SafetensorsReader.Header
      do { header = try SafetensorsReader.header(source) } catch {
        throw WriteFailure(kind: .unreadable, message: "\(inputPath): \(error.description)")
      }
      let wanted = Set(checkpoint.entries.map(\.key))
      let entries = header.entries.filter { wanted.contains($0.name) }.sorted {
        ($0.begin, $0.end) < ($1.begin, $1.end)
      }
      selection = ExportPlanner.Selection(
        tensors: entries.map {
          ExportTensor(
            layout: .init(
              key: $0.name, code: $0.code, shape: $0.shape, byteCount: $0.end - $0.begin),
            bytes: .copy(offset: header.dataStart + $0.begin, length: $0.end - $0.begin))
        }, leftOut: [])
    } else {
      do { selection = try ExportPlanner.plan(checkpoint, reader: reader) } catch {
        throw WriteFailure(
          kind: error.unreadable ? .unreadable : .refused,
          message: error.unreadable ? "\(inputPath): \(error.message)" : error.message)
      }
    }
    let tensors = selection.tensors
    let metadata = [("format", "pt")]
    var files: [(path: String, tensors: [ExportTensor])] = []
    var stale: [String] = []
    var indexText: String?
    if let limit = maxShardSize {
      try prepareFolder(outputPath, overwrite: overwrite)
      let groups = ShardPlan.split(tensors.map(\.layout.byteCount), limit: limit)
      var weightMap: [(key: String, file: String)] = []
      for (n, group) in groups.enumerated() {
        let name = ShardPlan.fileName(n, of: groups.count)
        files.append((outputPath + "/" + name, group.map { tensors[$0] }))
        for i in group { weightMap.append((tensors[i].layout.key, name)) }
      }
      if groups.isEmpty { files.append((outputPath + "/" + ShardPlan.fileName(0, of: 1), [])) }
      if groups.count > 1 {
        let total = tensors.reduce(Int64(0)) { $0 + $1.layout.byteCount }
        indexText = ShardPlan.indexJSON(totalSize: total, weightMap: weightMap)
      }
      let keep = Set(files.map { $0.path.split(separator: "/").last.map(String.init) ?? "" })
      for name in Folder.list(outputPath) ?? [] where !keep.contains(name) {
        if isShardName(name) || (indexText == nil && name == ShardPlan.indexName) {
          stale.append(outputPath + "/" + name)
        }
      }
    } else {
      if AtomicOutput.sameFile(inputPath, outputPath) {
        throw WriteFailure(kind: .isInput, message: "\(outputPath) is the input file")
      }
      if !overwrite && AtomicOutput.exists(outputPath) {
        throw WriteFailure(kind: .exists, message: "\(outputPath) already exists")
      }
      if Folder.isDirectory(outputPath, followingLinks: true) {
        throw WriteFailure(
          kind: .refused,
          message: "\(outputPath) is a folder; name a file, or add --max-shard-size for shards")
      }
      files.append((outputPath, tensors))
    }
    for file in files where AtomicOutput.sameFile(inputPath, file.path) {
      throw WriteFailure(kind: .isInput, message: "\(file.path) is the input file")
    }
    var report = ExportReport(
      format: "safetensors", files: [], tensors: tensors.count,
      dataBytes: tensors.reduce(0) { $0 + $1.layout.byteCount }, leftOut: selection.leftOut,
      gathered: tensors.filter { if case .gather = $0.bytes { true } else { false } }.count)
    let total = report.dataBytes
    let done = Counter()
    for file in files {
      let ordered = order(file.tensors)
      let header = SafetensorsLayout.header(ordered.map(\.layout), metadata: metadata)
      let before = done.value
      do {
        try ExportWriter.write(
          header: header, tensors: ordered, reader: reader, input: source, to: file.path,
          mode: ((source as? FileSource)?.mode ?? 0o644) & 0o666
        ) { written, _ in progress(min(total, before + written), total) }
      } catch {
        throw WriteFailure(kind: .failed, message: error.message)
      }
      done.value = before + ordered.reduce(0) { $0 + $1.layout.byteCount }
      let size = try verify(file.path, header: header, tensors: ordered, input: source)
      report.files.append(.init(path: file.path, size: size, tensors: ordered.count))
    }
    if let indexText {
      let path = outputPath + "/" + ShardPlan.indexName
      do { try AtomicOutput.writeBytes(Array(indexText.utf8), to: path, mode: 0o644) } catch {
        throw WriteFailure(kind: .failed, message: error.message)
      }
      report.files.append(.init(path: path, size: Int64(indexText.utf8.count), tensors: 0))
    }
    // Shards of an earlier export that the new index does not name (as save_pretrained
    // removes them), only once everything new is in place.
    for path in stale { unlink(path) }
    return report
  }

  /// `model-00001-of-00002.safetensors` and the like.
  static func isShardName(_ name: String) -> Bool {
    let parts = Array(name.utf8)
    guard parts.count == "model-00001-of-00002.safetensors".utf8.count,
      name.hasPrefix("model-"), name.hasSuffix(".safetensors")
    else { return false }
    let digits = Array(parts[6..<11]) + Array(parts[15..<20])
    return digits.allSatisfy { $0 >= 48 && $0 <= 57 } && name.dropFirst(11).hasPrefix("-of-")
  }

  /// The file's tensors in write order: by element size, largest first (aligned data).
  static func order(_ tensors: [ExportTensor]) -> [ExportTensor] {
    tensors.enumerated().sorted { a, b in
      let x = SafetensorsLayout.alignment(of: a.element.layout.code)
      let y = SafetensorsLayout.alignment(of: b.element.layout.code)
      return x != y ? x > y : a.offset < b.offset
    }.map(\.element)
  }

  /// Makes `path` a folder for shards: created when missing; an existing one that already
  /// holds an export (an index or shard files) is reused only with `overwrite`.
  static func prepareFolder(_ path: String, overwrite: Bool) throws(WriteFailure) {
    if Folder.isDirectory(path, followingLinks: true) {
      let names = Folder.list(path) ?? []
      let taken = names.filter {
        $0 == ShardPlan.indexName || $0 == "model.safetensors" || isShardName($0)
      }
      if !taken.isEmpty && !overwrite {
        throw WriteFailure(
          kind: .exists, message: "\(path) already holds \(taken.sorted()[0]) (--force replaces)")
      }
      return
    }
    if AtomicOutput.exists(path) {
      throw WriteFailure(
        kind: .refused, message: "\(path) is a file; --max-shard-size writes a folder of shards")
    }
    guard mkdir(path, 0o777) == 0 else {
      throw WriteFailure(
        kind: .failed, message: "cannot create \(path): \(String(cString: strerror(errno)))")
    }
  }

  /// Reads the written file back: its header must parse (the same checks as any safetensors
  /// read: offsets tiling the data exactly, the size matching) and list exactly the planned
  /// tensors; the first and last 4 KiB of every copied tensor must equal the input's.
  /// Returns the file's size.
  static func verify(
    _ path: String, header: [UInt8], tensors: [ExportTensor], input: any ByteSource
  ) throws(WriteFailure) -> Int64 {
    try verify(path, header: header, tensors: tensors, inputs: [input])
  }

  /// `verify`, each tensor compared with `inputs[tensor.origin]`.
  static func verify(
    _ path: String, header: [UInt8], tensors: [ExportTensor], inputs: [any ByteSource]
  ) throws(WriteFailure) -> Int64 {
    func fail(_ why: String) -> WriteFailure {
      WriteFailure(kind: .failed, message: "\(path) was written but failed verification: \(why)")
    }
    let output: FileSource
    do { output = try FileSource(path: path) } catch {
      throw fail("cannot be reopened: \(error.message)")
    }
    let parsed: SafetensorsReader.Header
    do { parsed = try SafetensorsReader.header(output) } catch { throw fail(error.description) }
    guard parsed.dataStart == Int64(header.count), parsed.entries.count == tensors.count else {
      throw fail("the header does not read back as written")
    }
    guard parsed.metadata.contains(where: { $0.0 == "format" && $0.1 == "pt" }) else {
      throw fail("metadata format=pt is missing")
    }
    var offset: Int64 = 0
    let byName = Dictionary(
      parsed.entries.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    for tensor in tensors {
      let layout = tensor.layout
      guard let entry = byName[layout.key], entry.code == layout.code,
        entry.shape == layout.shape, entry.begin == offset,
        entry.end == offset + layout.byteCount
      else { throw fail("\(layout.key) does not read back as written") }
      if case .copy(let from, let length) = tensor.bytes, length > 0 {
        // Small tensors are compared whole, once; big ones at both ends.
        let n = Int64(min(Int64(sampleBytes), length))
        let places =
          length <= 2 * Int64(sampleBytes)
          ? [(from, parsed.dataStart + offset, length)]
          : [
            (from, parsed.dataStart + offset, n),
            (from + length - n, parsed.dataStart + offset + length - n, n),
          ]
        for (a, b, count) in places {
          let x = try? inputs[tensor.origin].readExactly(at: a, count: Int(count))
          let y = try? output.readExactly(at: b, count: Int(count))
          guard x != nil, x == y else { throw fail("\(layout.key): bytes differ from the input") }
        }
      }
      offset += layout.byteCount
    }
    return output.size
  }

  final class Counter: @unchecked Sendable {
    var value: Int64 = 0
  }
}
