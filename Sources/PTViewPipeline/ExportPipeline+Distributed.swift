public import PTViewCore
public import PTViewEdit
public import PTViewFiles
import PTViewPickle
import PTViewZip

extension ExportPipeline {
  /// Writes a torch.distributed.checkpoint folder as one torch.save zip: the nested dict
  /// `dcp_to_torch_save` writes (keys re-nested by `planner_data`, lists where it used
  /// integer indices), every tensor assembled from its chunks, and the non-tensor values DCP
  /// saved as bytes when they are plain Python values or containers of tensors (tuples DCP
  /// pickles whole; see `DistributedValueCopy`); anything else is refused by key.
  ///
  /// Tensor bytes are never held in memory: each chunk is a torch.save archive inside a
  /// `.distcp` file, its stored record is found, and the output record is written as runs
  /// copied from the files (one run per contiguous stretch of the assembled tensor).
  public static func distributedToTorch(
    metadata: DistributedMetadata, folder: String, outputPath: String, overwrite: Bool
  ) throws(WriteFailure) -> ExportReport {
    if !overwrite && AtomicOutput.exists(outputPath) {
      throw WriteFailure(kind: .exists, message: "\(outputPath) already exists")
    }
    let archive = try distributedArchive(
      metadata: metadata, folder: folder, root: ArchiveNaming.root(forPath: outputPath),
      mode: .export)
    // Read back: the archive must parse and hold the planned tensors.
    let (written, output) = try writeAndReadBack(
      archive.plan, from: archive.input, to: outputPath, mode: 0o644)
    guard written.entries.count == archive.tensors else {
      throw verificationFailure(
        outputPath, "it holds \(written.entries.count) tensors, not \(archive.tensors)")
    }
    return ExportReport(
      format: "pt", files: [.init(path: outputPath, size: output.size, tensors: archive.tensors)],
      tensors: archive.tensors, dataBytes: archive.dataBytes, leftOut: [], gathered: 0)
  }

  /// Lays out the torch.save zip `dcp_to_torch_save` would write for a DCP folder as a plan
  /// over the folder's `.distcp` files end to end (`input`): pickles and headers are new
  /// bytes, every tensor record is runs copied from the chunks. Both `export` (which writes
  /// it) and the value readers (which read it in place through `PlanSource`) use it, so
  /// stats, cat and diff see exactly the tensors export writes.
  ///
  /// A pickled value's tensors are copied with it: each storage they read becomes a record
  /// of the archive, one run of the value's own record, so stats and cat read them through
  /// the same reader as any file's tensors, named by their path (`opt.0.buf`).
  ///
  /// In `.export` mode record checksums are computed (every tensor byte is read once) and a
  /// bytes item that `DistributedValueCopy` cannot copy is refused. In `.view` mode checksums are
  /// left 0 (nothing reads them back) and such an item becomes None, its key listed in
  /// `replaced`: the view only needs the tensors.
  public static func distributedArchive(
    metadata: DistributedMetadata, folder: String, root: String, mode: DistributedArchive.Mode
  ) throws(WriteFailure) -> DistributedArchive {
    func unreadable(_ file: String, _ why: String) -> WriteFailure {
      WriteFailure(kind: .unreadable, message: "\(folder)/\(file): \(why)")
    }
    // The files, end to end, as one input.
    var sources: [any ByteSource] = []
    var bases: [String: Int64] = [:]
    var fileSources: [String: FileSource] = [:]
    var at: Int64 = 0
    for name in metadata.files {
      let source: FileSource
      do { source = try FileSource(path: folder + "/" + name) } catch {
        throw unreadable(name, error.message)
      }
      sources.append(source)
      fileSources[name] = source
      bases[name] = at
      at += source.size
    }
    let input = ConcatenatedSource(sources)

    /// The torch.save archive a storage range holds, read (pickles only).
    func archive(_ storage: DistributedMetadata.Storage, _ fqn: String) throws(WriteFailure)
      -> Checkpoint
    {
      guard let file = fileSources[storage.file] else { throw unreadable(storage.file, "missing") }
      let slice = SliceSource(file, start: storage.offset, size: storage.length)
      let reader = CheckpointReader(
        decompressor: LazyLibzip(source: slice, name: storage.file))
      do { return try reader.read(slice) } catch {
        throw unreadable(
          storage.file, "\(fqn): the archive at byte \(storage.offset): \(error.description)")
      }
    }

    /// Where a stored (uncompressed) record's bytes start in its storage range.
    func dataOffset(
      of extent: Checkpoint.StorageExtent, in saved: Checkpoint,
      _ storage: DistributedMetadata.Storage
    ) -> Int64? {
      guard !extent.compressed else { return nil }
      if let known = extent.dataOffset, known >= 0 { return known }
      let name = (saved.archiveRoot.map { $0 + "/" } ?? "") + extent.record
      guard let zipEntry = saved.directory?.entry(named: name),
        let file = fileSources[storage.file],
        let header = try? ZipDirectory.localHeader(
          of: zipEntry,
          in: SliceSource(file, start: storage.offset, size: storage.length))
      else { return nil }
      return header.dataOffset
    }

    var graph = ValueGraph()
    var builder = TensorNodes(graph: &graph)
    var tree = NestedValue.dict([])
    var tensorRecords: [(record: Int, runs: [TorchZipWriter.Run], fqn: String)] = []
    var dataBytes: Int64 = 0
    var tensors = 0
    var records = 0
    var replaced: [String] = []
    for item in metadata.items {
      let value: ValueID
      switch item.kind {
      case .tensor(let dtype, let shape, let chunks):
        let size = Int64(dtype.elementSize)
        var pieces: [(global: Int64, source: Int64, length: Int64)] = []
        for chunk in chunks {
          let saved = try archive(chunk.storage, item.fqn)
          guard let root = saved.root, let entry = saved.entries.first,
            saved.entries.count == 1, entry.path.isEmpty, entry.tensor.node == root
          else {
            throw unreadable(
              chunk.storage.file,
              "\(item.fqn): the chunk at byte \(chunk.storage.offset) does not hold one tensor")
          }
          let t = entry.tensor
          func notPlain() -> WriteFailure {
            unreadable(
              chunk.storage.file,
              "\(item.fqn): the chunk at byte \(chunk.storage.offset) is not a contiguous \(dtype) tensor of shape \(chunk.sizes) in a stored record"
            )
          }
          guard t.dtype == dtype, t.shape == chunk.sizes, t.isContiguous, t.layout == nil,
            let storage = t.storage, storage.view == nil,
            let extent = saved.storages[storage.record],
            let dataOffset = dataOffset(of: extent, in: saved, chunk.storage)
          else { throw notPlain() }
          let numel = chunk.sizes.reduce(Int64(1), &*)
          guard t.offset >= 0, (t.offset + numel) * size <= extent.size,
            dataOffset >= 0, dataOffset + extent.size <= chunk.storage.length
          else {
            throw unreadable(
              chunk.storage.file,
              "\(item.fqn): the chunk at byte \(chunk.storage.offset) has fewer bytes than its shape needs"
            )
          }
          let start =
            bases[chunk.storage.file]! + chunk.storage.offset + dataOffset + t.offset * size
          let fits = DistributedAssembly.runs(
            chunk: chunk, shape: shape, elementSize: size, sourceStart: start,
            limit: (1 << 22) - pieces.count
          ) { global, source, length in pieces.append((global, source, length)) }
          guard fits else {
            throw unreadable(chunk.storage.file, "\(item.fqn): too many pieces to assemble")
          }
        }
        pieces.sort { $0.global < $1.global }
        var runs: [TorchZipWriter.Run] = []
        var expected: Int64 = 0
        for piece in pieces {
          guard piece.global == expected else {
            throw unreadable(item.fqn, "the chunks do not tile the tensor at byte \(expected)")
          }
          if let last = runs.last, last.offset + last.length == piece.source {
            runs[runs.count - 1].length += piece.length
          } else {
            runs.append(.init(offset: piece.source, length: piece.length))
          }
          expected += piece.length
        }
        let total = shape.reduce(Int64(1), &*) * size
        guard expected == total else {
          throw unreadable(item.fqn, "the chunks hold \(expected) bytes, the tensor \(total)")
        }
        value = builder.tensor(
          &graph, record: records, dtype: dtype, shape: shape, bytes: total)
        tensorRecords.append((records, runs, item.fqn))
        records += 1
        tensors += 1
        dataBytes += total
      case .bytes(let storage):
        let saved = try archive(storage, item.fqn)
        var copier = DistributedValueCopy(saved, firstRecord: records)
        if let root = saved.root, let copied = copier.copy(root, into: &graph) {
          // Each storage the value's tensors read becomes a record of its own, copied whole
          // from the value's archive (torch.save writes a view's whole storage too).
          for (i, record) in copier.records.enumerated() {
            guard let extent = saved.storages[record],
              let start = dataOffset(of: extent, in: saved, storage), start >= 0,
              extent.size >= 0, start <= storage.length - extent.size
            else {
              throw unreadable(
                storage.file,
                "\(item.fqn): the value at byte \(storage.offset) has no stored record \(record) within its range"
              )
            }
            let runs =
              extent.size > 0
              ? [
                TorchZipWriter.Run(
                  offset: bases[storage.file]! + storage.offset + start, length: extent.size)
              ]
              : []
            tensorRecords.append((records + i, runs, item.fqn))
            dataBytes += extent.size
          }
          records += copier.records.count
          tensors += saved.entries.count
          value = copied
        } else if mode == .view {
          value = graph.add(.none, at: 0)
          replaced.append(item.fqn)
        } else {
          throw WriteFailure(
            kind: .refused,
            message:
              "\(item.fqn) is a value DCP pickled that is not a plain Python value (ptview does not run pickles); export refuses it"
          )
        }
      }
      guard tree.insert(value, at: item.path[...]) else {
        throw unreadable(".metadata", "\(item.fqn): its path clashes with another key's")
      }
    }
    let rootID = tree.build(into: &graph)
    let pickle: [UInt8]
    do {
      var writer = PickleWriter(graph: graph)
      pickle = try writer.write(rootID)
    } catch {
      throw WriteFailure(kind: .failed, message: "cannot write the pickle: \(error.description)")
    }
    var writer = TorchZipWriter(alignment: 64)
    writer.add(root + "/data.pkl", .bytes(pickle))
    writer.add(root + "/.format_version", .bytes(Array("1".utf8)))
    writer.add(root + "/.storage_alignment", .bytes(Array("64".utf8)))
    writer.add(root + "/byteorder", .bytes(Array("little".utf8)))
    for record in tensorRecords {
      var crc: UInt32 = 0
      for run in record.runs where mode == .export {
        do {
          var position = run.offset
          let end = run.offset + run.length
          while position < end {
            let n = Int(min(Int64(4 << 20), end - position))
            let bytes = try input.readExactly(at: position, count: n)
            crc = bytes.withUnsafeBytes { BlockChecksum.crc32($0, continuing: crc) }
            position += Int64(n)
          }
        } catch {
          throw unreadable(record.fqn, error.message)
        }
      }
      writer.add(root + "/data/\(record.record)", .gathered(runs: record.runs, crc32: crc))
    }
    writer.add(root + "/version", .bytes(Array("3\n".utf8)))
    writer.add(
      root + "/.data/serialization_id", .bytes(Array(String(repeating: "0", count: 40).utf8)))
    return DistributedArchive(
      plan: writer.finish(), input: input, tensors: tensors, dataBytes: dataBytes,
      replaced: replaced)
  }
}

/// The torch.save archive of a DCP folder, planned but not written (see
/// `ExportPipeline.distributedArchive`).
public struct DistributedArchive: Sendable {
  /// What the plan is for.
  public enum Mode: Sendable, Equatable {
    /// Written by export: checksums computed, non-plain values refused.
    case export
    /// Read in place: checksums 0, non-plain values replaced by None.
    case view
  }
  /// The archive, as literal bytes and runs of `input`.
  public var plan: WritePlan
  /// The folder's `.distcp` files end to end (sorted by name).
  public var input: ConcatenatedSource
  /// Tensors (chunked tensors and those inside pickled values).
  public var tensors: Int
  /// Their bytes.
  public var dataBytes: Int64
  /// Keys of pickled values that are not plain Python values, left None (`.view` only).
  public var replaced: [String]

  /// The archive as a file to read: what `CheckpointReader` and `TensorValues` take.
  public var source: PlanSource { PlanSource(plan, over: input) }
}
