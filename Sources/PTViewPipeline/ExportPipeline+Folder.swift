public import PTViewCore
import PTViewEdit
import PTViewFiles
import PTViewPickle
import PTViewValues

/// `export FOLDER`: the state_dict a folder's weights files hold, written as one file
/// (safetensors or torch) or as a folder of shards named and indexed as transformers'
/// `save_pretrained` names them. Each tensor is copied from the shard it lives in (or
/// gathered, for views), never loaded whole.
extension ExportPipeline {
  /// One weights file of the folder.
  public struct FolderInput: Sendable {
    /// Its path (for messages).
    public var path: String
    /// Its tensors.
    public var checkpoint: Checkpoint
    /// Its bytes.
    public var source: any ByteSource
    /// An input.
    public init(path: String, checkpoint: Checkpoint, source: any ByteSource) {
      self.path = path
      self.checkpoint = checkpoint
      self.source = source
    }
  }

  /// What is written.
  public enum FolderTarget: Sendable {
    case safetensorsFile
    case torchFile
    /// `model.safetensors` or `model-0000N-of-0000M.safetensors` and the index.
    case safetensorsShards(limit: Int64)
    /// `pytorch_model.bin` or `pytorch_model-0000N-of-0000M.bin` and the index.
    case torchShards(limit: Int64)
  }

  /// save_pretrained's default `max_shard_size` ("5GB").
  public static let defaultShardLimit: Int64 = 5_000_000_000

  /// What a folder export writes, gathered file by file: the tensors in model order (file by
  /// file, each file's own order), the inputs they are read from, the values left out.
  public struct FolderPlan: Sendable {
    var tensors: [ExportTensor] = []
    var inputs: [ExportInput] = []
    var leftOut: [ExportPlanner.LeftOut] = []
    var files: [String: String] = [:]
    /// An empty plan.
    public init() {}
    /// Tensors planned so far.
    public var count: Int { tensors.count }
  }

  /// Plans the tensors of one more input (those whose key `keep` accepts). The plan keeps
  /// the input's pickles only when a tensor must be gathered through them; otherwise just
  /// the byte ranges, so a folder's files can be planned one at a time in bounded memory.
  public static func plan(
    _ input: FolderInput, into plan: inout FolderPlan, keep: (String) -> Bool
  ) throws(WriteFailure) {
    let origin = plan.inputs.count
    let planned = try planTensors(input, keep: keep)
    plan.leftOut += planned.leftOut
    plan.inputs.append(planned.input)
    for var tensor in planned.tensors {
      if let other = plan.files.updateValue(input.path, forKey: tensor.layout.key) {
        throw duplicateKey(tensor.layout.key, other, input.path)
      }
      tensor.origin = origin
      plan.tensors.append(tensor)
    }
  }

  /// The bytes of each tensor `input` would give (of the keys `keep` accepts), in order.
  public static func plannedSizes(_ input: FolderInput, keep: (String) -> Bool)
    throws(WriteFailure) -> [Int64]
  {
    try planTensors(input, keep: keep).tensors.map(\.layout.byteCount)
  }

  static func duplicateKey(_ key: String, _ one: String, _ other: String) -> WriteFailure {
    WriteFailure(
      kind: .refused,
      message: "\(key) is in both \(one) and \(other); one state_dict has each key once")
  }

  /// One input's tensors (origin 0), the input to read them from (its pickles dropped
  /// unless a tensor is gathered through them), and the values left out.
  static func planTensors(_ input: FolderInput, keep: (String) -> Bool) throws(WriteFailure)
    -> (tensors: [ExportTensor], input: ExportInput, leftOut: [ExportPlanner.LeftOut])
  {
    var checkpoint = input.checkpoint
    checkpoint.entries = checkpoint.entries.filter { keep($0.key) }
    var planned: [ExportTensor]
    var leftOut: [ExportPlanner.LeftOut] = []
    if checkpoint.format == .safetensors {
      let header: SafetensorsReader.Header
      do { header = try SafetensorsReader.header(input.source) } catch {
        throw WriteFailure(kind: .unreadable, message: "\(input.path): \(error.description)")
      }
      let wanted = Set(checkpoint.entries.map(\.key))
      planned = header.entries.filter { wanted.contains($0.name) }.sorted {
        ($0.begin, $0.end) < ($1.begin, $1.end)
      }.map {
        ExportTensor(
          layout: .init(
            key: $0.name, code: $0.code, shape: $0.shape, byteCount: $0.end - $0.begin),
          bytes: .copy(offset: header.dataStart + $0.begin, length: $0.end - $0.begin))
      }
    } else {
      let reader = TensorValues(checkpoint: input.checkpoint, source: input.source)
      let selection: ExportPlanner.Selection
      do { selection = try ExportPlanner.plan(checkpoint, reader: reader) } catch {
        throw WriteFailure(
          kind: error.unreadable ? .unreadable : .refused,
          message: "\(input.path): \(error.message)")
      }
      planned = selection.tensors
      leftOut = selection.leftOut
    }
    let gathers = planned.contains { if case .gather = $0.bytes { true } else { false } }
    let kept = gathers ? input.checkpoint : rangesOnly(input.checkpoint)
    return (
      planned,
      ExportInput(
        reader: TensorValues(checkpoint: kept, source: input.source), source: input.source),
      leftOut
    )
  }

  /// What reading byte ranges of a checkpoint needs: no graph, no tensor table, no pickles.
  static func rangesOnly(_ checkpoint: Checkpoint) -> Checkpoint {
    var kept = checkpoint
    kept.graph = ValueGraph()
    kept.tensors = TensorTable()
    kept.entries = []
    kept.pickles = []
    kept.storageReferences = []
    kept.storages = StorageExtents()
    kept.directory = nil
    return kept
  }

  /// Writes the planned tensors as `target`: to the file `outputPath`, or into the folder
  /// `outputPath` (which the caller made, empty, and renames into place afterwards).
  public static func exportFolder(
    _ plan: FolderPlan, target: FolderTarget, outputPath: String,
    progress: @escaping @Sendable (Int64, Int64) -> Void
  ) throws(WriteFailure) -> ExportReport {
    let (tensors, readers, leftOut) = (plan.tensors, plan.inputs, plan.leftOut)
    let dataBytes = tensors.reduce(Int64(0)) { $0 + $1.layout.byteCount }
    var report = ExportReport(
      format: "safetensors", files: [], tensors: tensors.count, dataBytes: dataBytes,
      leftOut: leftOut,
      gathered: tensors.filter { if case .gather = $0.bytes { true } else { false } }.count)
    let mode = fileMode(readers)
    let done = Counter()
    func write(_ group: [ExportTensor], torch: Bool, to path: String) throws(WriteFailure) {
      let before = done.value
      report.files.append(
        try writeGroup(group, torch: torch, readers: readers, to: path, mode: mode) { written in
          progress(min(dataBytes, before + written), dataBytes)
        })
      done.value = before + group.reduce(0) { $0 + $1.layout.byteCount }
      progress(done.value, dataBytes)
    }
    switch target {
    case .safetensorsFile:
      try write(tensors, torch: false, to: outputPath)
    case .torchFile:
      report.format = "pt"
      try write(tensors, torch: true, to: outputPath)
    case .safetensorsShards(let limit), .torchShards(let limit):
      let torch: Bool
      if case .torchShards = target { torch = true } else { torch = false }
      if torch { report.format = "pt" }
      var groups = ShardPlan.split(tensors.map(\.layout.byteCount), limit: limit)
      if groups.isEmpty { groups = [[]] }
      var weightMap: [(key: String, file: String)] = []
      for (n, group) in groups.enumerated() {
        let name =
          torch ? torchShardName(n, of: groups.count) : ShardPlan.fileName(n, of: groups.count)
        try write(group.map { tensors[$0] }, torch: torch, to: outputPath + "/" + name)
        for i in group { weightMap.append((tensors[i].layout.key, name)) }
      }
      if groups.count > 1 {
        let text = ShardPlan.indexJSON(totalSize: dataBytes, weightMap: weightMap)
        let path = outputPath + "/" + (torch ? torchIndexName : ShardPlan.indexName)
        do { try AtomicOutput.writeBytes(Array(text.utf8), to: path, mode: 0o644) } catch {
          throw WriteFailure(kind: .failed, message: error.message)
        }
        report.files.append(.init(path: path, size: Int64(text.utf8.count), tensors: 0))
      }
    }
    return report
  }

  /// The permission bits of the files written: the first input's, as a copy keeps them.
  static func fileMode(_ readers: [ExportInput]) -> UInt32 {
    ((readers.first?.source as? FileSource)?.mode ?? 0o644) & 0o666
  }

  /// Writes `group` (tensors of `readers`) as one safetensors or torch file at `path` and
  /// reads it back. `progress` gets the bytes written of this file.
  static func writeGroup(
    _ group: [ExportTensor], torch: Bool, readers: [ExportInput], to path: String, mode: UInt32,
    progress: @escaping (Int64) -> Void
  ) throws(WriteFailure) -> ExportReport.File {
    if torch { return try writeTorchFile(group, readers: readers, to: path, mode: mode) }
    let ordered = order(group)
    let header = SafetensorsLayout.header(ordered.map(\.layout), metadata: [("format", "pt")])
    do {
      try ExportWriter.write(
        header: header, tensors: ordered, inputs: readers, to: path, mode: mode
      ) { written, _ in progress(written) }
    } catch {
      throw WriteFailure(kind: .failed, message: error.message)
    }
    let size = try verify(path, header: header, tensors: ordered, inputs: readers.map(\.source))
    return .init(path: path, size: size, tensors: ordered.count)
  }

  /// The index `save_pretrained(safe_serialization=False)` writes beside its shards.
  public static let torchIndexName = "pytorch_model.bin.index.json"

  /// `pytorch_model-00001-of-00002.bin`; one shard is `pytorch_model.bin`.
  public static func torchShardName(_ index: Int, of count: Int) -> String {
    guard count > 1 else { return "pytorch_model.bin" }
    func pad5(_ n: Int) -> String {
      let text = String(n)
      return String(repeating: "0", count: max(0, 5 - text.count)) + text
    }
    return "pytorch_model-\(pad5(index + 1))-of-\(pad5(count)).bin"
  }

  /// Writes `tensors` (byte ranges of their inputs) as one torch.save zip and reads it back.
  /// A view (a tensor with strides or a storage offset) is written as torch.save writes it:
  /// its storage copied once, whole, and the tensor pointing into it with its own offset and
  /// strides, so views that share a storage in a shard share it in the output too; a
  /// contiguous tensor whose bytes lie inside such a storage (the fused weight the views were
  /// cut from), or that another tensor's bytes equal exactly (tied weights), points into the
  /// same storage. Big-endian storages and torch's negative and conjugate bits are refused
  /// by key (not yet).
  static func writeTorchFile(
    _ tensors: [ExportTensor], readers: [ExportInput], to path: String, mode: UInt32
  ) throws(WriteFailure) -> ExportReport.File {
    let joined = ConcatenatedSource(readers.map { $0.source })
    var storages: [TorchStorage] = []
    // Storages by where their bytes are in `joined` and the dtype code they are read as.
    var storageAt: [String: Int] = [:]
    func storageKey(_ offset: Int64, _ length: Int64, _ code: String) -> String {
      "\(offset) \(length) \(code)"
    }
    func dtype(_ layout: SafetensorsLayout.Tensor) throws(WriteFailure) -> DType {
      guard let dtype = SafetensorsReader.dtype(code: layout.code)?.dtype else {
        throw WriteFailure(
          kind: .refused, message: "\(layout.key): no torch dtype for \(layout.code)")
      }
      return dtype
    }
    // Views first: their storages are what contiguous tensors may lie inside.
    var entries = [TorchEntry?](repeating: nil, count: tensors.count)
    for (i, tensor) in tensors.enumerated() {
      guard case .gather(let stored, let transform) = tensor.bytes else { continue }
      let layout = tensor.layout
      guard transform.isIdentity, layout.code != "F4" else {
        throw WriteFailure(
          kind: .refused,
          message:
            "\(layout.key): big-endian bytes, or torch's negative or conjugate bit; writing it into a torch file is not supported yet"
        )
      }
      let width = Int64(transform.width)
      let (length, overflow) = stored.storageElements.multipliedReportingOverflow(by: width)
      guard !overflow else {
        throw WriteFailure(kind: .refused, message: "\(layout.key): the storage is too large")
      }
      let offset = joined.starts[tensor.origin] + stored.dataOffset
      let key = storageKey(offset, length, layout.code)
      let index: Int
      if let known = storageAt[key] {
        index = known
      } else {
        storages.append(TorchStorage(offset: offset, length: length, elementSize: width))
        index = storages.count - 1
        storageAt[key] = index
      }
      entries[i] = TorchEntry(
        name: layout.key, code: layout.code, dtype: try dtype(layout), shape: stored.layout.shape,
        storage: index, storageOffset: stored.layout.offset, stride: stored.layout.strides)
    }
    let viewStorages = storages.indices
    for (i, tensor) in tensors.enumerated() where entries[i] == nil {
      let layout = tensor.layout
      guard case .copy(let localOffset, let length) = tensor.bytes else {
        throw WriteFailure(
          kind: .refused,
          message: "\(layout.key): converted bytes cannot be written into a torch file")
      }
      let offset = joined.starts[tensor.origin] + localOffset
      let dtype = try dtype(layout)
      let width = Int64(max(1, dtype.elementSize))
      var index = storageAt[storageKey(offset, length, layout.code)]
      var storageOffset: Int64 = 0
      if index == nil, layout.code != "F4" {
        // Inside a view's storage, at a whole element: point into it.
        for s in viewStorages {
          let storage = storages[s]
          if storage.elementSize == width, offset >= storage.offset,
            offset + length <= storage.offset + storage.length,
            (offset - storage.offset) % width == 0,
            storageAt[storageKey(storage.offset, storage.length, layout.code)] == s
          {
            index = s
            storageOffset = (offset - storage.offset) / width
            break
          }
        }
      }
      if index == nil {
        storages.append(TorchStorage(offset: offset, length: length, elementSize: width))
        index = storages.count - 1
        storageAt[storageKey(offset, length, layout.code)] = index
      }
      entries[i] = TorchEntry(
        name: layout.key, code: layout.code, dtype: dtype, shape: layout.shape,
        storage: index!, storageOffset: storageOffset, stride: nil)
    }
    let all = entries.compactMap { $0 }
    let (written, output) = try writeTorchZip(
      all, storages: storages, from: joined, inputPath: path, to: path, mode: mode)
    guard written.entries.count == all.count,
      Set(written.entries.map { $0.key }) == Set(all.map { $0.name })
    else {
      throw verificationFailure(path, "its tensors differ from the input's")
    }
    // Views must read back with their offsets and strides.
    let byKey = Dictionary(
      written.entries.map { ($0.key, $0.tensor) }, uniquingKeysWith: { first, _ in first })
    for entry in all where entry.stride != nil {
      guard let tensor = byKey[entry.name], tensor.stride == entry.stride,
        tensor.offset == entry.storageOffset
      else {
        throw verificationFailure(path, "\(entry.name) does not read back as the view it is")
      }
    }
    return .init(path: path, size: output.size, tensors: all.count)
  }
}
