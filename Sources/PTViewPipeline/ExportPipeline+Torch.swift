public import PTViewCore
import PTViewEdit
import PTViewFiles
import PTViewPickle
import PTViewZip

extension ExportPipeline {
  /// Writes the tensors of the safetensors file `checkpoint` (read from `source`) as a
  /// torch.save zip: a plain dict, each tensor in its own storage record, as
  /// `torch.save(safetensors.torch.load_file(IN), OUT)` writes it.
  public static func toTorch(
    checkpoint: Checkpoint, source: any ByteSource, inputPath: String, outputPath: String,
    overwrite: Bool
  ) throws(WriteFailure) -> ExportReport {
    if AtomicOutput.sameFile(inputPath, outputPath) {
      throw WriteFailure(kind: .isInput, message: "\(outputPath) is the input file")
    }
    if !overwrite && AtomicOutput.exists(outputPath) {
      throw WriteFailure(kind: .exists, message: "\(outputPath) already exists")
    }
    let header: SafetensorsReader.Header
    do { header = try SafetensorsReader.header(source) } catch {
      throw WriteFailure(kind: .unreadable, message: "\(inputPath): \(error.description)")
    }
    // load_file returns its keys in data order: the dict torch.save writes keeps it.
    let wanted = Set(checkpoint.entries.map(\.key))
    let entries = header.entries.filter { wanted.contains($0.name) }.sorted {
      ($0.begin, $0.end) != ($1.begin, $1.end)
        ? ($0.begin, $0.end) < ($1.begin, $1.end)
        : Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8))
    }
    let (written, output) = try writeTorchZip(
      entries.enumerated().map { index, entry in
        TorchEntry(
          name: entry.name, code: entry.code, dtype: entry.dtype, shape: entry.shape,
          storage: index)
      },
      storages: entries.map {
        TorchStorage(
          offset: header.dataStart + $0.begin, length: $0.end - $0.begin,
          elementSize: Int64(max(1, $0.dtype.elementSize)))
      }, from: source, inputPath: inputPath, to: outputPath,
      mode: ((source as? FileSource)?.mode ?? 0o644) & 0o666)
    // The archive must list the same keys, dtypes and shapes.
    let expected = checkpoint.entries.map { "\($0.key) \($0.tensor.dtype) \($0.tensor.shape)" }
    let got = written.entries.map { "\($0.key) \($0.tensor.dtype) \($0.tensor.shape)" }
    guard Set(expected) == Set(got), expected.count == got.count else {
      throw verificationFailure(outputPath, "its tensors differ from the input's")
    }
    return ExportReport(
      format: "pt", files: [.init(path: outputPath, size: output.size, tensors: entries.count)],
      tensors: entries.count, dataBytes: entries.reduce(0) { $0 + $1.end - $1.begin },
      leftOut: [], gathered: 0)
  }

  /// Writes `entries` as a torch.save zip holding a plain dict, each of `storages` (byte
  /// ranges of `source`, little-endian) in its own record, and reads it back.
  static func writeTorchZip(
    _ entries: [TorchEntry], storages: [TorchStorage], from source: any ByteSource,
    inputPath: String, to outputPath: String, mode: UInt32
  ) throws(WriteFailure) -> (Checkpoint, FileSource) {
    let root = ArchiveNaming.root(forPath: outputPath)
    let pickle: [UInt8]
    do { pickle = try TorchPickle.stateDict(entries, storages: storages) } catch {
      throw WriteFailure(kind: .failed, message: "cannot write the pickle: \(error.description)")
    }
    var writer = TorchZipWriter(alignment: 64)
    writer.add(root + "/data.pkl", .bytes(pickle))
    writer.add(root + "/.format_version", .bytes(Array("1".utf8)))
    writer.add(root + "/.storage_alignment", .bytes(Array("64".utf8)))
    writer.add(root + "/byteorder", .bytes(Array("little".utf8)))
    for (index, storage) in storages.enumerated() {
      let crc: UInt32
      do { crc = try checksum(source, offset: storage.offset, length: storage.length) } catch {
        let name = entries.first { $0.storage == index }?.name ?? "storage \(index)"
        throw WriteFailure(kind: .unreadable, message: "\(inputPath): \(name): \(error)")
      }
      writer.add(
        root + "/data/\(index)",
        .copy(
          offset: storage.offset, compressedSize: storage.length,
          uncompressedSize: storage.length, method: 0, crc32: crc))
    }
    writer.add(root + "/version", .bytes(Array("3\n".utf8)))
    writer.add(
      root + "/.data/serialization_id", .bytes(serializationID(entries, storages: storages)))
    let plan = writer.finish()
    return try writeAndReadBack(plan, from: source, to: outputPath, mode: mode)
  }

  /// Writes `plan` atomically, then reads the archive back as a checkpoint: what each export
  /// to a torch file checks its output against.
  static func writeAndReadBack(
    _ plan: WritePlan, from source: any ByteSource, to outputPath: String, mode: UInt32
  ) throws(WriteFailure) -> (Checkpoint, FileSource) {
    do {
      try AtomicOutput.write(plan, from: source, to: outputPath, mode: mode)
    } catch {
      throw WriteFailure(kind: .failed, message: error.message)
    }
    let output: FileSource
    do { output = try FileSource(path: outputPath) } catch {
      throw verificationFailure(outputPath, "cannot be reopened: \(error.message)")
    }
    do {
      let written = try CheckpointReader(decompressor: LazyLibzip(path: outputPath)).read(output)
      return (written, output)
    } catch { throw verificationFailure(outputPath, error.description) }
  }

  /// A written file that does not read back as planned.
  static func verificationFailure(_ outputPath: String, _ why: String) -> WriteFailure {
    WriteFailure(
      kind: .failed, message: "\(outputPath) was written but failed verification: \(why)")
  }

  /// CRC-32 of `length` bytes at `offset`, read 4 MiB at a time.
  static func checksum(_ source: any ByteSource, offset: Int64, length: Int64) throws(SourceError)
    -> UInt32
  {
    var crc: UInt32 = 0
    var at = offset
    let end = offset + length
    while at < end {
      let n = Int(min(Int64(4 << 20), end - at))
      let bytes = try source.readExactly(at: at, count: n)
      crc = bytes.withUnsafeBytes { BlockChecksum.crc32($0, continuing: crc) }
      at += Int64(n)
    }
    return crc
  }

  /// torch writes a random 20-digit id; this one is derived from the header, so the same
  /// input gives the same file.
  static func serializationID(_ entries: [TorchEntry], storages: [TorchStorage]) -> [UInt8] {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for entry in entries {
      for byte in entry.name.utf8 {
        hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3
      }
      let storage = storages.indices.contains(entry.storage) ? storages[entry.storage] : nil
      let end = (storage?.offset ?? 0) + (storage?.length ?? 0)
      hash = (hash ^ UInt64(bitPattern: end &+ entry.storageOffset)) &* 0x100_0000_01B3
    }
    var digits = ""
    var h = hash
    for _ in 0..<40 {
      digits += String(h % 10)
      h = h / 10 == 0 ? (hash &* 0x9E37_79B9_7F4A_7C15) | 1 : h / 10
    }
    return Array(digits.utf8)
  }
}

/// One tensor of a torch file to write: a view of one of the file's storages (the whole
/// storage, row-major, unless it has an offset or strides).
struct TorchEntry {
  var name: String
  /// The safetensors dtype code (`F4` halves the last size).
  var code: String
  var dtype: DType
  /// The shape as a safetensors header writes it.
  var shape: [Int64]
  /// Which storage (an index into the file's storages).
  var storage: Int
  /// Elements before the tensor's first one in its storage.
  var storageOffset: Int64 = 0
  /// The strides in elements; nil: row-major.
  var stride: [Int64]? = nil
}

/// One storage record of a torch file to write: a little-endian byte range of the input.
struct TorchStorage {
  var offset: Int64
  var length: Int64
  /// Bytes per element of the dtype its tensors read it as.
  var elementSize: Int64
}

/// The pickle torch.save writes for a dict of tensors, built as a value graph and written by
/// ptview's own protocol-2 writer (weights_only opcodes only).
enum TorchPickle {
  static func stateDict(_ entries: [TorchEntry], storages: [TorchStorage])
    throws(PickleWriter.WriteError) -> [UInt8]
  {
    var graph = ValueGraph()
    var pairs: [ValueID] = []
    let rebuildV2 = graph.addGlobal(module: "torch._utils", name: "_rebuild_tensor_v2", at: 0)
    let rebuildV3 = graph.addGlobal(module: "torch._utils", name: "_rebuild_tensor_v3", at: 0)
    let orderedDict = graph.addGlobal(module: "collections", name: "OrderedDict", at: 0)
    let storageTag = graph.addString("storage", at: 0)
    let cpu = graph.addString("cpu", at: 0)
    let untyped = graph.addGlobal(module: "torch.storage", name: "UntypedStorage", at: 0)
    var storageClasses: [String: ValueID] = [:]
    var dtypeGlobals: [String: ValueID] = [:]
    func int(_ v: Int64) -> ValueID { graph.add(.int(v), at: 0) }
    for entry in entries {
      let dtype = entry.dtype
      // torch counts float4_e2m1fn_x2 in bytes: the header's last size halves.
      var shape = entry.shape
      if entry.code == "F4", let last = shape.last { shape[shape.count - 1] = last / 2 }
      var stride = [Int64](repeating: 1, count: shape.count)
      var running: Int64 = 1
      for i in shape.indices.reversed() {
        stride[i] = running
        running = running &* max(shape[i], 1)
      }
      if let given = entry.stride, given.count == shape.count { stride = given }
      let bytes = storages[entry.storage].length
      let typed = dtype.storageClass
      let storageClass: ValueID
      if let typed {
        if let known = storageClasses[typed] {
          storageClass = known
        } else {
          storageClass = graph.addGlobal(module: "torch", name: typed, at: 0)
          storageClasses[typed] = storageClass
        }
      } else {
        storageClass = untyped
      }
      let pid = graph.addTuple(
        [
          storageTag, storageClass, graph.addString(String(entry.storage), at: 0), cpu,
          int(typed != nil ? bytes / Int64(max(1, dtype.elementSize)) : bytes),
        ], at: 0)
      let storage = graph.add(.persistentID(pid), at: 0)
      let hooks = graph.addObject(
        .reduce(callable: orderedDict, args: graph.addTuple([], at: 0)), at: 0)
      var args = [
        storage, int(entry.storageOffset), graph.addTuple(shape.map(int), at: 0),
        graph.addTuple(stride.map(int), at: 0), graph.add(.bool(false), at: 0), hooks,
      ]
      if typed == nil {
        let name = dtype.name
        if dtypeGlobals[name] == nil {
          dtypeGlobals[name] = graph.addGlobal(module: "torch", name: name, at: 0)
        }
        args.append(dtypeGlobals[name]!)
      }
      let tensor = graph.addObject(
        .reduce(callable: typed != nil ? rebuildV2 : rebuildV3, args: graph.addTuple(args, at: 0)),
        at: 0)
      pairs += [graph.addString(entry.name, at: 0), tensor]
    }
    let dict = graph.add(.dict(graph.newContainer(pairs)), at: 0)
    var writer = PickleWriter(graph: graph)
    return try writer.write(dict)
  }
}
