import PTViewPickle

/// Reads a DCP `.metadata` pickle into `DistributedMetadata`, checking every field's type and
/// every chunk against its tensor and its file, so later reads never go out of bounds.
public enum DistributedMetadataReader {
  /// Largest number of dimensions, chunks or items accepted (far above real checkpoints).
  static let maxDims = 64
  static let maxItems = 10_000_000

  /// Parses `bytes` (the whole `.metadata` file). `fileSizes` maps each `.distcp` file name in
  /// the folder to its size: ranges are checked against it.
  public static func read(_ bytes: [UInt8], fileSizes: [String: Int64]) throws(CheckpointError)
    -> DistributedMetadata
  {
    var machine = Machine()
    let outcome: Machine.Outcome
    do { outcome = try machine.load(bytes) } catch {
      throw CheckpointError(
        .malformed, record: ".metadata", offset: Int64(error.offset), "\(error)")
    }
    var reader = GraphReader(graph: machine.graph)
    return try reader.metadata(outcome.root, fileSizes: fileSizes)
  }
}

/// Walks the value graph of a `.metadata` pickle.
struct GraphReader {
  let graph: ValueGraph

  func fail(_ id: ValueID, _ message: String) -> CheckpointError {
    CheckpointError(
      .malformed, record: ".metadata", offset: Int64(graph.offset(of: id)), message)
  }

  /// The class name of an object made by NEWOBJ/REDUCE of a global, or nil.
  func className(_ id: ValueID) -> String? {
    guard case .object(let index) = graph[id] else { return nil }
    return graph.qualifiedName(graph.construction(index).callee)
  }

  /// The fields a dataclass object got from BUILD: a state dict, or the dict of a
  /// `(dict, slots)` tuple.
  func fields(_ id: ValueID, of expected: String) throws(CheckpointError) -> [String: ValueID] {
    guard let name = className(id), name.hasSuffix("." + expected) || name == expected else {
      throw fail(id, "expected a \(expected), found \(describe(id))")
    }
    var out: [String: ValueID] = [:]
    for mutation in graph.mutations(of: id) {
      guard case .build(let state) = mutation else { continue }
      var dicts: [ValueID] = [state]
      if let parts = graph.elements(state) { dicts = Array(parts) }
      for d in dicts {
        guard case .dict(let c) = graph[d] else { continue }
        let pairs = graph.container(c)
        var i = 0
        while i + 1 < pairs.count {
          if let key = graph.string(pairs[i]) { out[key] = pairs[i + 1] }
          i += 2
        }
      }
    }
    return out
  }

  func describe(_ id: ValueID) -> String {
    if let name = className(id) { return "a \(name) object" }
    return graph.kindName(id)
  }

  func field(_ fields: [String: ValueID], _ name: String, in owner: ValueID)
    throws(CheckpointError) -> ValueID
  {
    guard let id = fields[name] else { throw fail(owner, "missing field \(name)") }
    return id
  }

  /// The pairs of a dict node.
  func pairs(_ id: ValueID, _ what: String) throws(CheckpointError) -> [(ValueID, ValueID)] {
    guard case .dict(let c) = graph[id] else {
      throw fail(id, "\(what) is \(describe(id)), not a dict")
    }
    let flat = graph.container(c)
    return stride(from: 0, to: flat.count - 1, by: 2).map { (flat[$0], flat[$0 + 1]) }
  }

  func string(_ id: ValueID, _ what: String) throws(CheckpointError) -> String {
    guard let s = graph.string(id) else { throw fail(id, "\(what) is \(describe(id)), not a str") }
    return s
  }

  func int(_ id: ValueID, _ what: String) throws(CheckpointError) -> Int64 {
    guard case .int(let v) = graph[id] else {
      throw fail(id, "\(what) is \(describe(id)), not an int")
    }
    return v
  }

  /// A `torch.Size((...))` (or a plain tuple/list) of non-negative ints.
  func size(_ id: ValueID, _ what: String) throws(CheckpointError) -> [Int64] {
    var tuple = id
    if case .object(let index) = graph[id] {
      let c = graph.construction(index)
      guard graph.qualifiedName(c.callee) == "torch.Size", let args = graph.elements(c.args),
        args.count == 1
      else { throw fail(id, "\(what) is \(describe(id)), not a torch.Size") }
      tuple = args[args.startIndex]
    }
    guard let elements = graph.elements(tuple) else {
      throw fail(id, "\(what) is \(describe(id)), not a torch.Size")
    }
    guard elements.count <= DistributedMetadataReader.maxDims else {
      throw fail(id, "\(what) has \(elements.count) dimensions")
    }
    var out: [Int64] = []
    for e in elements {
      let v = try int(e, what)
      guard v >= 0 else { throw fail(e, "\(what) holds \(v)") }
      out.append(v)
    }
    return out
  }

  mutating func metadata(_ root: ValueID, fileSizes: [String: Int64]) throws(CheckpointError)
    -> DistributedMetadata
  {
    let top = try fields(root, of: "Metadata")
    let stateMeta = try pairs(
      try field(top, "state_dict_metadata", in: root), "state_dict_metadata")
    guard stateMeta.count <= DistributedMetadataReader.maxItems else {
      throw fail(root, "\(stateMeta.count) items")
    }
    // storage_data: MetadataIndex(fqn, offset) -> _StorageInfo.
    var storage: [String: [([Int64]?, DistributedMetadata.Storage, ValueID)]] = [:]
    if let data = top["storage_data"], graph[data] != .none {
      for (key, value) in try pairs(data, "storage_data") {
        let index = try fields(key, of: "MetadataIndex")
        let fqn = try string(try field(index, "fqn", in: key), "MetadataIndex.fqn")
        var offset: [Int64]? = nil
        if let o = index["offset"], graph[o] != .none {
          offset = try size(o, "MetadataIndex.offset")
        }
        let info = try fields(value, of: "_StorageInfo")
        let file = try string(try field(info, "relative_path", in: value), "relative_path")
        let at = try int(try field(info, "offset", in: value), "_StorageInfo.offset")
        let length = try int(try field(info, "length", in: value), "_StorageInfo.length")
        if let t = info["transform_descriptors"], graph[t] != .none,
          let list = graph.elements(t), !list.isEmpty
        {
          throw CheckpointError(
            .unsupportedFormat, record: ".metadata", offset: Int64(graph.offset(of: t)),
            "\(fqn) is stored with transforms (compression), which ptview does not read yet")
        }
        guard !file.contains("/"), file != "..", let fileSize = fileSizes[file] else {
          throw fail(value, "\(fqn) names file \(file), which is not in the folder")
        }
        guard at >= 0, length >= 0, at <= fileSize, length <= fileSize - at else {
          throw fail(
            value, "\(fqn): bytes \(at)..<\(at &+ length) are outside \(file) (\(fileSize) bytes)")
        }
        storage[fqn, default: []].append(
          (offset, .init(file: file, offset: at, length: length), value))
      }
    }
    var plannerPaths: [String: ValueID] = [:]
    if let planner = top["planner_data"], case .dict = graph[planner] {
      for (k, v) in try pairs(planner, "planner_data") {
        if let s = graph.string(k) { plannerPaths[s] = v }
      }
    }
    var items: [DistributedMetadata.Item] = []
    var seen = Set<String>()
    for (keyID, value) in stateMeta {
      let fqn = try string(keyID, "a state_dict_metadata key")
      guard seen.insert(fqn).inserted else { throw fail(keyID, "key \(fqn) appears twice") }
      var path: [DistributedMetadata.PathPart] = [.key(fqn)]
      if let p = plannerPaths[fqn] {
        guard let parts = graph.elements(p), !parts.isEmpty else {
          throw fail(p, "planner_data for \(fqn) is not a tuple of keys")
        }
        path = []
        for part in parts {
          if let s = graph.string(part) {
            path.append(.key(s))
          } else if case .int(let i) = graph[part] {
            path.append(.index(i))
          } else {
            throw fail(part, "planner_data for \(fqn) holds \(describe(part))")
          }
        }
      }
      let name = className(value) ?? ""
      if name.hasSuffix("BytesStorageMetadata") {
        guard let places = storage[fqn], places.count == 1 else {
          throw fail(value, "\(fqn) has \(storage[fqn]?.count ?? 0) storage entries, not one")
        }
        items.append(.init(fqn: fqn, path: path, kind: .bytes(places[0].1)))
        continue
      }
      let meta = try fields(value, of: "TensorStorageMetadata")
      let propertiesID = try field(meta, "properties", in: value)
      let dtype = try self.dtype(propertiesID, fqn)
      let shape = try size(try field(meta, "size", in: value), "\(fqn) size")
      let chunkList = try field(meta, "chunks", in: value)
      guard let chunkIDs = graph.elements(chunkList) else {
        throw fail(chunkList, "\(fqn) chunks is \(describe(chunkList)), not a list")
      }
      var chunks: [DistributedMetadata.Chunk] = []
      let places = storage[fqn] ?? []
      for chunkID in chunkIDs {
        let c = try fields(chunkID, of: "ChunkStorageMetadata")
        let offsets = try size(try field(c, "offsets", in: chunkID), "\(fqn) chunk offsets")
        let sizes = try size(try field(c, "sizes", in: chunkID), "\(fqn) chunk sizes")
        guard offsets.count == shape.count, sizes.count == shape.count else {
          throw fail(
            chunkID, "\(fqn): a chunk has \(sizes.count) dimensions, the tensor \(shape.count)")
        }
        for d in shape.indices where offsets[d] > shape[d] || sizes[d] > shape[d] - offsets[d] {
          throw fail(chunkID, "\(fqn): chunk at \(offsets) of size \(sizes) is outside \(shape)")
        }
        guard let place = places.first(where: { $0.0 == offsets }) else {
          throw fail(chunkID, "\(fqn): chunk at \(offsets) has no storage entry")
        }
        chunks.append(.init(offsets: offsets, sizes: sizes, storage: place.1))
      }
      try checkCover(chunks, shape: shape, fqn: fqn, at: chunkList)
      items.append(
        .init(fqn: fqn, path: path, kind: .tensor(dtype: dtype, shape: shape, chunks: chunks)))
    }
    return DistributedMetadata(items: items)
  }

  /// The dtype of a `TensorProperties` (its state is a tuple starting with the dtype, or a
  /// dict with a `dtype` field).
  func dtype(_ id: ValueID, _ fqn: String) throws(CheckpointError) -> DType {
    guard className(id)?.hasSuffix("TensorProperties") == true else {
      throw fail(id, "\(fqn) properties is \(describe(id)), not TensorProperties")
    }
    var candidate: ValueID? = nil
    for mutation in graph.mutations(of: id) {
      guard case .build(let state) = mutation else { continue }
      if let parts = graph.elements(state), let first = parts.first {
        candidate = first
      } else if case .dict = graph[state] {
        candidate = try fields(id, of: "TensorProperties")["dtype"]
      }
    }
    guard let candidate, let name = graph.qualifiedName(candidate), name.hasPrefix("torch."),
      let dtype = DType.named(String(name.dropFirst(6)))
    else { throw fail(id, "\(fqn) has no dtype ptview knows") }
    return dtype
  }

  /// Chunks must not overlap, and together must fill the tensor (what DCP's own
  /// validation demands of a saved plan).
  func checkCover(
    _ chunks: [DistributedMetadata.Chunk], shape: [Int64], fqn: String, at id: ValueID
  ) throws(CheckpointError) {
    var total: Int64 = 1
    for d in shape {
      let (m, o) = total.multipliedReportingOverflow(by: d)
      guard !o else { throw fail(id, "\(fqn): shape \(shape) is too large") }
      total = m
    }
    var sum: Int64 = 0
    for c in chunks {
      var n: Int64 = 1
      for d in c.sizes { n = n &* d }
      sum = sum &+ n
    }
    if chunks.count <= 4096 {
      for i in chunks.indices {
        for j in chunks.indices where j > i {
          let a = chunks[i]
          let b = chunks[j]
          let overlap = shape.indices.allSatisfy { d in
            a.offsets[d] < b.offsets[d] + b.sizes[d] && b.offsets[d] < a.offsets[d] + a.sizes[d]
          }
          if overlap && total > 0 {
            throw fail(id, "\(fqn): chunks at \(a.offsets) and \(b.offsets) overlap")
          }
        }
      }
    }
    guard sum == total else {
      throw fail(id, "\(fqn): chunks hold \(sum) elements, the tensor \(total)")
    }
  }
}
