import PTViewCore
import PTViewPickle

/// Where a chunk's bytes go in the assembled tensor: runs of (byte offset in the tensor, byte
/// offset in the input, length), one per contiguous stretch.
enum DistributedAssembly {
  /// Emits the runs of `chunk` (stored contiguously at `sourceStart`) in a row-major tensor of
  /// `shape`. Trailing dimensions the chunk spans whole are merged into one run. Returns
  /// false (having emitted part) when more than `limit` runs would be needed.
  static func runs(
    chunk: DistributedMetadata.Chunk, shape: [Int64], elementSize: Int64, sourceStart: Int64,
    limit: Int, emit: (Int64, Int64, Int64) -> Void
  ) -> Bool {
    let n = shape.count
    if n == 0 {
      emit(0, sourceStart, elementSize)
      return true
    }
    if chunk.sizes.contains(0) { return true }
    var global = [Int64](repeating: 1, count: n)
    var local = [Int64](repeating: 1, count: n)
    for d in stride(from: n - 2, through: 0, by: -1) {
      global[d] = global[d + 1] * shape[d + 1]
      local[d] = local[d + 1] * chunk.sizes[d + 1]
    }
    // The first dimension from which the chunk is one contiguous run in both layouts.
    var k = n - 1
    while k > 0 && chunk.sizes[k] == shape[k] && chunk.offsets[k] == 0 { k -= 1 }
    let runElements = chunk.sizes[k] * (k + 1 < n ? global[k] : 1)
    var index = [Int64](repeating: 0, count: k)
    var count = 0
    while true {
      var g = chunk.offsets[k] * global[k]
      var l: Int64 = 0
      for d in 0..<k {
        g += (chunk.offsets[d] + index[d]) * global[d]
        l += index[d] * local[d]
      }
      count += 1
      if count > limit { return false }
      emit(g * elementSize, sourceStart + l * elementSize, runElements * elementSize)
      var d = k - 1
      while d >= 0 {
        index[d] += 1
        if index[d] < chunk.sizes[d] { break }
        index[d] = 0
        d -= 1
      }
      if d < 0 { return true }
    }
  }
}

/// The nested dict `dcp_to_torch_save` rebuilds from `planner_data` paths, as torch's
/// `set_element` builds it: dicts for string steps, lists (padded with None) for integers.
indirect enum NestedValue {
  case leaf(ValueID)
  case dict([(String, NestedValue)])
  case list([NestedValue?])

  /// Puts `value` at `path`; false when the path runs through a leaf or a container of the
  /// other kind.
  mutating func insert(_ value: ValueID, at path: ArraySlice<DistributedMetadata.PathPart>)
    -> Bool
  {
    guard let first = path.first else { return false }
    let rest = path.dropFirst()
    func child(_ existing: NestedValue?) -> NestedValue? {
      if rest.isEmpty { return existing == nil ? .leaf(value) : nil }
      var node =
        existing
        ?? {
          if case .key = rest.first! { return NestedValue.dict([]) }
          return NestedValue.list([])
        }()
      return node.insert(value, at: rest) ? node : nil
    }
    switch (self, first) {
    case (.dict(var pairs), .key(let key)):
      let at = pairs.firstIndex { $0.0 == key }
      // A repeated leaf replaces the old value, as set_element does.
      if rest.isEmpty, let at {
        pairs[at].1 = .leaf(value)
        self = .dict(pairs)
        return true
      }
      guard let made = child(at.map { pairs[$0].1 }) else { return false }
      if let at { pairs[at].1 = made } else { pairs.append((key, made)) }
      self = .dict(pairs)
      return true
    case (.list(var items), .index(let i)):
      guard i >= 0, i < 1 << 24 else { return false }
      while items.count <= Int(i) { items.append(nil) }
      if rest.isEmpty {
        items[Int(i)] = .leaf(value)
      } else {
        guard let made = child(items[Int(i)]) else { return false }
        items[Int(i)] = made
      }
      self = .list(items)
      return true
    default:
      return false
    }
  }

  /// The graph nodes of this value.
  func build(into graph: inout ValueGraph) -> ValueID {
    switch self {
    case .leaf(let id): return id
    case .dict(let pairs):
      var flat: [ValueID] = []
      for (key, value) in pairs {
        flat.append(graph.addString(key, at: 0))
        flat.append(value.build(into: &graph))
      }
      return graph.add(.dict(graph.newContainer(flat)), at: 0)
    case .list(let items):
      let ids = items.map { $0?.build(into: &graph) ?? graph.add(.none, at: 0) }
      return graph.add(.list(graph.newContainer(ids)), at: 0)
    }
  }
}

/// Copies a plain Python value (None, bools, ints, floats, str, bytes, tuples, lists, dicts)
/// from one graph into another; nil for anything else (objects, globals, tensors).
enum PlainValueCopy {
  static func copy(
    _ id: ValueID, from source: ValueGraph, into graph: inout ValueGraph, depth: Int = 0
  )
    -> ValueID?
  {
    guard depth < 100 else { return nil }
    func all(_ ids: some Collection<ValueID>) -> [ValueID]? {
      var out: [ValueID] = []
      for child in ids {
        guard let c = copy(child, from: source, into: &graph, depth: depth + 1) else { return nil }
        out.append(c)
      }
      return out
    }
    guard source.mutations(of: id).isEmpty else { return nil }
    switch source[id] {
    case .none, .bool, .int, .float: return graph.add(source[id], at: 0)
    case .bigInt(let s): return graph.add(.bigInt(graph.store(source.bytes(s))), at: 0)
    case .string(let s): return graph.add(.string(graph.store(source.bytes(s))), at: 0)
    case .bytes(let s): return graph.add(.bytes(graph.store(source.bytes(s))), at: 0)
    case .tuple(let s):
      guard let items = all(source.ids(s)) else { return nil }
      return graph.addTuple(items, at: 0)
    case .list(let c):
      guard let items = all(source.container(c)) else { return nil }
      return graph.add(.list(graph.newContainer(items)), at: 0)
    case .dict(let c):
      guard let items = all(source.container(c)) else { return nil }
      return graph.add(.dict(graph.newContainer(items)), at: 0)
    case .object(let index):
      // Protocol 2 writes bytes as `_codecs.encode(text, 'latin1')`.
      let made = source.construction(index)
      guard case .reduce(let callable, let args) = made,
        source.qualifiedName(callable) == "_codecs.encode",
        let pair = source.elements(args), pair.count == 2,
        source.string(pair[pair.startIndex + 1]) == "latin1",
        let text = source.string(pair[pair.startIndex])
      else { return nil }
      var raw: [UInt8] = []
      for scalar in text.unicodeScalars {
        guard scalar.value < 256 else { return nil }
        raw.append(UInt8(scalar.value))
      }
      return graph.add(.bytes(graph.store(raw)), at: 0)
    default: return nil
    }
  }
}

/// The nodes torch.save writes for a contiguous CPU tensor with its own storage
/// (`_rebuild_tensor_v2`, or `_rebuild_tensor_v3` for dtypes without a storage class).
struct TensorNodes {
  let rebuildV2: ValueID
  let rebuildV3: ValueID
  let orderedDict: ValueID
  let storageTag: ValueID
  let cpu: ValueID
  let untyped: ValueID
  var globals: [String: ValueID] = [:]

  init(graph: inout ValueGraph) {
    rebuildV2 = graph.addGlobal(module: "torch._utils", name: "_rebuild_tensor_v2", at: 0)
    rebuildV3 = graph.addGlobal(module: "torch._utils", name: "_rebuild_tensor_v3", at: 0)
    orderedDict = graph.addGlobal(module: "collections", name: "OrderedDict", at: 0)
    storageTag = graph.addString("storage", at: 0)
    cpu = graph.addString("cpu", at: 0)
    untyped = graph.addGlobal(module: "torch.storage", name: "UntypedStorage", at: 0)
  }

  mutating func global(_ name: String, _ graph: inout ValueGraph) -> ValueID {
    if let known = globals[name] { return known }
    let id = graph.addGlobal(module: "torch", name: name, at: 0)
    globals[name] = id
    return id
  }

  /// A tensor of `shape` whose `bytes` are in record `data/<record>`.
  mutating func tensor(
    _ graph: inout ValueGraph, record: Int, dtype: DType, shape: [Int64], bytes: Int64
  ) -> ValueID {
    func int(_ v: Int64) -> ValueID { graph.add(.int(v), at: 0) }
    var stride = [Int64](repeating: 1, count: shape.count)
    var running: Int64 = 1
    for i in shape.indices.reversed() {
      stride[i] = running
      running = running &* max(shape[i], 1)
    }
    let typed = dtype.storageClass
    let storageClass = typed.map { global($0, &graph) } ?? untyped
    let pid = graph.addTuple(
      [
        storageTag, storageClass, graph.addString(String(record), at: 0), cpu,
        int(typed != nil ? bytes / Int64(max(1, dtype.elementSize)) : bytes),
      ], at: 0)
    let storage = graph.add(.persistentID(pid), at: 0)
    let hooks = graph.addObject(
      .reduce(callable: orderedDict, args: graph.addTuple([], at: 0)), at: 0)
    var args = [
      storage, int(0), graph.addTuple(shape.map(int), at: 0),
      graph.addTuple(stride.map(int), at: 0), graph.add(.bool(false), at: 0), hooks,
    ]
    if typed == nil { args.append(global(dtype.name, &graph)) }
    return graph.addObject(
      .reduce(callable: typed != nil ? rebuildV2 : rebuildV3, args: graph.addTuple(args, at: 0)),
      at: 0)
  }
}
