import Dispatch
public import PTViewPickle

/// A persistent id or rebuild call that cannot describe a tensor; torch would refuse it too.
public struct InterpretError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The offending node's byte offset in the pickle.
  public var offset: Int
  /// What is wrong.
  public var message: String
  /// Creates an error.
  public init(offset: Int, _ message: String) {
    self.offset = offset
    self.message = message
  }
  public var description: String { "\(message) (at byte \(offset))" }
}

/// Turns `_rebuild_*` calls and storage persistent ids into `TensorInfo`, by pattern matching
/// the graph; nothing is called. Unknown shapes stay plain graph nodes.
public struct TorchInterpreter: Sendable {
  /// The container the pickle came from, which decides the persistent id's shape.
  public enum Flavor: Sendable {
    /// torch.save zip: 5-tuple pids, records `<storageFolder>/<key>`.
    case zip(storageFolder: String)
    /// Legacy stream: 6-tuple pids with view metadata; records are named by key.
    case legacy
  }

  /// The graph.
  public let graph: ValueGraph
  /// The container flavour.
  public let flavor: Flavor

  /// Resolved names of the graph's global nodes. A pickle memoizes each GLOBAL once and then
  /// fetches it for every tensor, so resolving names once per node (not per use) is what
  /// keeps interpretation linear and cheap.
  private let names: [Int32: String]
  /// Element types of the global nodes that name storage classes.
  private let storageTypes: [Int32: DType]
  /// The rebuild function each global node names, by node index (nil for other nodes):
  /// an array lookup per tensor instead of hashing its callee's name.
  private let kinds: [RebuildKind?]
  /// Storage references already decoded: `decodedSlot[node]` is an index into `decoded` (or
  /// -1). Every tensor repeats its pid; decoding each once, and finding it by array index
  /// rather than by hashing, keeps big checkpoints cheap.
  private var decoded: [StorageRef] = []
  /// `<storageFolder>/` for zip archives, empty for legacy files (records named by key).
  private let recordPrefix: String
  private var decodedSlot: [Int32] = []

  /// Creates an interpreter.
  public init(graph: ValueGraph, flavor: Flavor) {
    self.graph = graph
    self.flavor = flavor
    switch flavor {
    case .zip(let folder): recordPrefix = folder + "/"
    case .legacy: recordPrefix = ""
    }
    var names: [Int32: String] = [:]
    var storageTypes: [Int32: DType] = [:]
    var kinds = [RebuildKind?](repeating: nil, count: graph.count)
    for index in graph.nodes.indices {
      guard case .global = graph.nodes[index] else { continue }
      let id = ValueID(Int32(index))
      guard let name = graph.globalName(id) else { continue }
      names[id.index] = name
      kinds[index] = RebuildKind(qualifiedName: name)
      let className = name.split(separator: ".").last.map(String.init) ?? name
      if className.contains("Storage"), let dtype = DType.forStorageClass(className) {
        storageTypes[id.index] = dtype
      }
    }
    self.names = names
    self.storageTypes = storageTypes
    self.kinds = kinds
  }

  /// The resolved name of a global node.
  private func name(_ id: ValueID) -> String? { names[id.index] }

  /// The callee name of an object node.
  private func calleeName(_ id: ValueID) -> String? {
    guard case .object(let index) = graph[id] else { return nil }
    return names[graph.construction(index).callee.index]
  }

  /// The tensors and storage references among the nodes in `range`, decoding each pid once.
  /// - Throws: `InterpretError` for malformed storage pids and impossible tensors.
  public func interpret(_ range: Range<Int>) throws(InterpretError)
    -> (tensors: TensorTable, references: [StorageRef])
  {
    let (interpreter, references) = try decodingStorages(in: range)
    let run = try interpreter.tensorRun(in: range)
    return (TensorTable.joined([run], nodeCount: graph.count), references)
  }

  /// The storage references among the nodes in `range`, and an interpreter that finds each
  /// of them decoded when a rebuild call names it. Decoding first is what lets the rebuild
  /// calls be interpreted in parts, on whichever core is free.
  /// - Throws: `InterpretError` for a malformed storage pid.
  func decodingStorages(in range: Range<Int>) throws(InterpretError)
    -> (interpreter: TorchInterpreter, references: [StorageRef])
  {
    let references = try storageReferences(in: range)
    var cached = self
    cached.decodedSlot = [Int32](repeating: -1, count: graph.count)
    for (slot, ref) in references.enumerated() {
      cached.decodedSlot[Int(ref.pidNode.index)] = Int32(slot)
    }
    cached.decoded = references
    return (cached, references)
  }

  /// Every tensor in the graph, keyed by its node.
  /// - Throws: `InterpretError` for storage pids of the wrong shape and impossible tensors.
  public func tensors(in range: Range<Int>? = nil) throws(InterpretError) -> TensorTable {
    TensorTable.joined([try tensorRun(in: range ?? 0..<graph.count)], nodeCount: graph.count)
  }

  /// The tensors among the nodes in `range`, in node order.
  func tensorRun(in range: Range<Int>) throws(InterpretError) -> TensorTable.Run {
    var run = TensorTable.Run()
    run.keys.reserveCapacity(min(range.count / 8, max(decoded.count, 16)))
    run.values.reserveCapacity(min(range.count / 8, max(decoded.count, 16)))
    try tensorRun(in: range, into: &run)
    return run
  }

  /// Appends the tensors among the nodes in `range` to `run` (which must end before `range`).
  func tensorRun(in range: Range<Int>, into run: inout TensorTable.Run) throws(InterpretError) {
    for index in range {
      let id = ValueID(Int32(index))
      guard case .object = graph[id] else { continue }
      if let tensor = try tensor(id) { run.append(id, tensor) }
    }
  }

  /// Every storage persistent id among the nodes in `range`, in stream order.
  /// - Throws: `InterpretError` for a pid that claims to be a storage but is malformed.
  public func storageReferences(in range: Range<Int>) throws(InterpretError) -> [StorageRef] {
    var out: [StorageRef] = []
    var strings = NodeStrings()
    for index in range {
      let id = ValueID(Int32(index))
      guard case .persistentID(let pid) = graph[id] else { continue }
      // Only pids tagged 'storage' are storages; others (legacy 'module' pids) are not ours.
      if let fields = graph.elements(pid), let tag = fields.first,
        strings.text(tag, graph) != "storage", graph.string(tag) != nil
      {
        continue
      }
      if out.isEmpty { out.reserveCapacity(range.count / 16) }
      out.append(try decodeStorageRef(id, strings: &strings))
    }
    return out
  }

  /// Strings and storage classes decoded once per node. A pickle memoizes the location, the
  /// `'storage'` tag and the storage class, so one node stands for every pid of a checkpoint;
  /// a small direct-mapped table remembers the latest few.
  struct NodeStrings {
    private var nodes = [Int32](repeating: -1, count: 16)
    private var texts = [String?](repeating: nil, count: 16)

    private var lastStorageClass: (node: Int32, dtype: DType?) = (-1, nil)

    /// The element type of the storage class a global node names; the pickle memoizes the
    /// class once, so the last answer is nearly always the next one.
    mutating func storageType(_ id: ValueID, _ types: [Int32: DType]) -> DType? {
      if lastStorageClass.node == id.index { return lastStorageClass.dtype }
      let dtype = types[id.index]
      lastStorageClass = (id.index, dtype)
      return dtype
    }

    mutating func text(_ id: ValueID, _ graph: ValueGraph) -> String? {
      let slot = Int(id.index & 15)
      if nodes[slot] == id.index { return texts[slot] }
      let text = graph.string(id)
      nodes[slot] = id.index
      texts[slot] = text
      return text
    }
  }

  // MARK: - Rebuild calls

  /// Whether `id` calls one of torch's rebuild functions: what a tensor node looks like before
  /// it is interpreted (interpreting it may still find no tensor, or fail).
  public func isRebuildCall(_ id: ValueID) -> Bool {
    guard case .object(let index) = graph[id],
      case .reduce(let callee, _) = graph.construction(index),
      Int(callee.index) < kinds.count
    else { return false }
    return kinds[Int(callee.index)] != nil
  }

  /// How many nodes `isRebuildCall` accepts.
  public var rebuildCallCount: Int {
    var count = 0
    for construction in graph.objects {
      guard case .reduce(let callee, _) = construction, Int(callee.index) < kinds.count else {
        continue
      }
      if kinds[Int(callee.index)] != nil { count += 1 }
    }
    return count
  }

  /// The tensor an object node rebuilds, or nil when it is not a tensor.
  public func tensor(_ id: ValueID, depth: Int = 0) throws(InterpretError) -> TensorInfo? {
    guard depth < 32, case .object(let index) = graph[id] else { return nil }
    guard case .reduce(let callee, let argsNode) = graph.construction(index),
      Int(callee.index) < kinds.count, let kind = kinds[Int(callee.index)]
    else { return nil }
    guard let args = graph.elements(argsNode) else {
      throw InterpretError(
        offset: graph.offset(of: id), "\(kind.rawValue) arguments are not a tuple")
    }
    return try rebuild(kind, args, node: id, depth: depth)
  }

  /// What calling rebuild function `name` with `args` would make.
  private func rebuild(
    _ kind: RebuildKind, _ slice: ArraySlice<ValueID>, node id: ValueID, depth: Int
  )
    throws(InterpretError) -> TensorInfo?
  {
    let args = Arguments(slice: slice)
    let name = kind.rawValue
    // Read only for an error: fetching every node's offset is a cache miss per tensor.
    var offset: Int { graph.offset(of: id) }
    func need(_ n: Int) throws(InterpretError) {
      guard args.count >= n else {
        throw InterpretError(offset: offset, "\(name) expects \(n) arguments, got \(args.count)")
      }
    }
    func dtype(_ node: ValueID, _ what: String) throws(InterpretError) -> DType {
      guard let named = self.name(node).flatMap({ dtypeNamed($0) }) else {
        throw InterpretError(offset: graph.offset(of: node), "\(what) is not a torch dtype")
      }
      return named
    }
    switch kind {
    case .tensor, .tensorV2, .tensorV3, .mpsTensor:
      try need(4)
      let storage = try storageRef(args[0])
      var elementType = storage.storageDType
      if kind == .tensorV3 {
        try need(7)
        elementType = try dtype(args[6], "_rebuild_tensor_v3 dtype")
      }
      var info = try strided(
        node: id, rebuild: name, storage: storage, dtype: elementType, offsetNode: args[1],
        sizeNode: args[2], strideNode: args[3],
        requiresGrad: args.count > 4 ? truthy(args[4]) : false)
      // v2's 7th and v3's 8th argument: `{'conj': True}` / `{'neg': True}` math bits.
      let metadataIndex = kind == .tensorV3 ? 7 : 6
      if kind != .tensor, args.count > metadataIndex {
        let bits = mathBits(args[metadataIndex])
        if bits.negated { info.negated = true }
        if bits.conjugated { info.conjugated = true }
      }
      return info
    case .qtensor:
      try need(4)
      let storage = try storageRef(args[0])
      var info = try strided(
        node: id, rebuild: name, storage: storage, dtype: storage.storageDType,
        offsetNode: args[1], sizeNode: args[2], strideNode: args[3],
        requiresGrad: args.count > 5 ? truthy(args[5]) : false)
      // Per-channel quantizers carry scale and zero-point tensors.
      if args.count > 4, let params = graph.sequence(args[4]) {
        for part in params {
          if let inner = try tensor(part, depth: depth + 1) { info.components.append(inner) }
        }
        info.quantizer = quantizer(params)
      }
      return info
    case .parameter, .parameterWithState:
      try need(2)
      guard var inner = try tensor(args[0], depth: depth + 1) else {
        throw InterpretError(offset: offset, "\(name) does not wrap a tensor")
      }
      inner.requiresGrad = truthy(args[1])
      inner.isParameter = true
      inner.node = id
      return inner
    case .fromTypeV2, .fromType:
      // (func, cls, args, state): the tensor is func(*args), then made an instance of cls.
      try need(3)
      guard Int(args[0].index) < kinds.count, let inner = kinds[Int(args[0].index)],
        let innerArgs = graph.elements(args[2]), depth < 32
      else { return nil }
      return try rebuild(inner, innerArgs, node: id, depth: depth + 1)
    case .sparse, .sparseCSR:
      try need(2)
      let layout = layoutName(args[0]) ?? "sparse"
      guard let parts = graph.sequence(args[1]) else {
        throw InterpretError(offset: offset, "sparse tensor data is not a tuple")
      }
      var components: [TensorInfo] = []
      var size: [Int64] = []
      for part in parts {
        if let t = try tensor(part, depth: depth + 1) {
          components.append(t)
        } else if let s = shape(part), !s.isEmpty || size.isEmpty {
          size = s
        }
      }
      // COO: (indices, values, size, coalesced); compressed: (compressed, plain, values, size).
      let valuesIndex = layout == "sparse_coo" ? 1 : 2
      guard components.count > valuesIndex else {
        throw InterpretError(offset: offset, "sparse tensor lacks its values tensor")
      }
      let values = components[valuesIndex]
      return TensorInfo(
        dtype: values.dtype, shape: size, stride: nil, offset: 0, device: values.device,
        storage: nil,
        components: components, requiresGrad: false, isParameter: false, layout: layout,
        rebuild: name, node: id)
    case .nested:
      try need(4)
      var components: [TensorInfo] = []
      for part in args.prefix(4) {
        if let t = try tensor(part, depth: depth + 1) { components.append(t) }
      }
      guard let buffer = components.first else {
        throw InterpretError(offset: offset, "nested tensor has no buffer")
      }
      return TensorInfo(
        dtype: buffer.dtype, shape: [], stride: nil, offset: 0, device: buffer.device, storage: nil,
        components: components, requiresGrad: false, isParameter: false, layout: "nested",
        rebuild: name, node: id)
    case .metaNoStorage:
      try need(3)
      let elementType = try dtype(args[0], "meta tensor dtype")
      let size = try intList(args[1], what: "size", offset: offset)
      let stride = try intList(args[2], what: "stride", offset: offset)
      return TensorInfo(
        dtype: elementType, shape: size, stride: stride, offset: 0, device: "meta", storage: nil,
        requiresGrad: args.count > 3 ? truthy(args[3]) : false, isParameter: false, layout: nil,
        rebuild: name, node: id)
    case .deviceFromCPU:
      try need(3)
      guard var inner = try tensor(args[0], depth: depth + 1) else {
        throw InterpretError(offset: offset, "\(name) does not wrap a tensor")
      }
      if let device = graph.string(args[2]) {
        inner.device = device
        inner.deviceNode = args[2]
      }
      if args.count > 3 { inner.requiresGrad = truthy(args[3]) }
      inner.rebuild = name
      inner.node = id
      return inner
    case .deviceFromNumpy, .xla:
      try need(3)
      let elementType = (try? dtype(args[1], "dtype")) ?? DType.untyped
      let size = numpyShape(args[0]) ?? []
      return TensorInfo(
        dtype: elementType, shape: size, stride: contiguousStride(size), offset: 0,
        device: graph.string(args[2]) ?? "?", storage: nil,
        requiresGrad: args.count > 3 ? truthy(args[3]) : false, isParameter: false, layout: nil,
        rebuild: name, deviceNode: args[2], node: id)
    case .wrapperSubclass:
      try need(7)
      let elementType = try dtype(args[1], "wrapper subclass dtype")
      let size = try intList(args[2], what: "size", offset: offset)
      let stride = try intList(args[3], what: "stride", offset: offset)
      return TensorInfo(
        dtype: elementType, shape: size, stride: stride, offset: graph.int(args[4]) ?? 0,
        device: deviceText(args[6]) ?? "?", storage: nil,
        requiresGrad: args.count > 7 ? truthy(args[7]) : false, isParameter: false, layout: nil,
        rebuild: name, deviceNode: args[6], node: id)
    }
  }

  private func strided(
    node: ValueID, rebuild: String, storage: StorageRef, dtype: DType, offsetNode: ValueID,
    sizeNode: ValueID, strideNode: ValueID, requiresGrad: Bool
  ) throws(InterpretError) -> TensorInfo {
    var at: Int { graph.offset(of: node) }
    guard let storageOffset = graph.int(offsetNode), storageOffset >= 0 else {
      throw InterpretError(offset: at, "storage offset is not a non-negative integer")
    }
    let size = try intList(sizeNode, what: "size", offset: at)
    let stride = try intList(strideNode, what: "stride", offset: at)
    guard size.count == stride.count else {
      throw InterpretError(
        offset: at, "size has \(size.count) dimensions but stride has \(stride.count)")
    }
    guard size.allSatisfy({ $0 >= 0 }) else {
      throw InterpretError(offset: at, "negative size \(size)")
    }
    guard stride.allSatisfy({ $0 >= 0 }) else {
      throw InterpretError(offset: at, "negative stride \(stride)")
    }
    let info = TensorInfo(
      dtype: dtype, shape: size, stride: stride, offset: storageOffset, device: storage.location,
      storage: storage, requiresGrad: requiresGrad, isParameter: false, layout: nil,
      rebuild: rebuild, node: node)
    // torch's set_() refuses views that reach past their storage.
    if info.numel > 0 {
      var last = storageOffset
      for (s, st) in zip(size, stride) {
        let (p, o1) = (s - 1).multipliedReportingOverflow(by: st)
        let (sum, o2) = last.addingReportingOverflow(p)
        guard !o1, !o2 else { throw InterpretError(offset: at, "tensor extent overflows") }
        last = sum
      }
      let storageElements = storage.byteCount / Int64(max(1, dtype.elementSize))
      let needed = dtype.valuesPerByte > 1 ? dtype.byteCount(elements: last + 1) : last + 1
      let available = dtype.valuesPerByte > 1 ? storage.byteCount : storageElements
      guard needed <= available else {
        throw InterpretError(
          offset: at,
          "tensor of shape \(size) at offset \(storageOffset) needs \(needed) elements but storage \(storage.key) holds \(available)"
        )
      }
    }
    return info
  }

  // MARK: - Storage persistent ids

  /// Decodes `('storage', StorageType, key, location, numel[, view])`.
  public func storageRef(_ id: ValueID) throws(InterpretError) -> StorageRef {
    let index = Int(id.index)
    if index >= 0, index < decodedSlot.count, decodedSlot[index] >= 0 {
      return decoded[Int(decodedSlot[index])]
    }
    var strings = NodeStrings()
    return try decodeStorageRef(id, strings: &strings)
  }

  private func decodeStorageRef(_ id: ValueID, strings: inout NodeStrings) throws(InterpretError)
    -> StorageRef
  {
    var at: Int { graph.offset(of: id) }
    guard case .persistentID(let pid) = graph[id] else {
      throw InterpretError(
        offset: at, "expected a storage (persistent id), found a \(graph.kindName(id))")
    }
    guard let slice = graph.elements(pid) else {
      throw InterpretError(offset: at, "persistent id is a \(graph.kindName(pid)), not a tuple")
    }
    let fields = slice
    guard let tag = fields.first, strings.text(tag, graph) == "storage" else {
      throw InterpretError(offset: at, "persistent id is not a storage reference")
    }
    let isLegacy: Bool
    if case .legacy = flavor { isLegacy = true } else { isLegacy = false }
    let expected = isLegacy ? 6 : 5
    guard fields.count == expected || (isLegacy && fields.count == 5) else {
      throw InterpretError(
        offset: at, "storage persistent id has \(fields.count) fields, expected \(expected)")
    }
    let first = fields.startIndex
    guard let dtype = strings.storageType(fields[first + 1], storageTypes) else {
      throw InterpretError(offset: at, "storage type is not a torch storage class")
    }
    let keyNode = fields[first + 2]
    guard let key = graph.string(keyNode) ?? graph.int(keyNode).map({ String($0) }) else {
      throw InterpretError(offset: at, "storage key is not a string")
    }
    guard let location = strings.text(fields[first + 3], graph) else {
      throw InterpretError(offset: at, "storage location is not a string")
    }
    guard let numel = graph.int(fields[first + 4]), numel >= 0 else {
      throw InterpretError(offset: at, "storage size is not a non-negative integer")
    }
    var view: (key: String, offset: Int64)? = nil
    if fields.count == 6, let meta = graph.sequence(fields[first + 5]), meta.count == 3 {
      guard let viewKey = graph.string(meta[0]), let viewOffset = graph.int(meta[1]),
        viewOffset >= 0,
        let viewSize = graph.int(meta[2]), viewSize >= 0
      else { throw InterpretError(offset: at, "storage view metadata is malformed") }
      view = (viewKey, viewOffset)
      _ = viewSize
    }
    return StorageRef(
      key: key, location: location, storageDType: dtype, numel: numel,
      record: recordPrefix.isEmpty ? key : recordPrefix + key, view: view, pidNode: id,
      locationNode: fields[first + 3])
  }

  // MARK: - Helpers

  private func truthy(_ id: ValueID) -> Bool {
    switch graph[id] {
    case .bool(let b): b
    case .int(let v): v != 0
    default: false
    }
  }

  /// `(scheme, scale, zero_point)` or `(scheme, scales, zero_points, axis)`.
  private func quantizer(_ params: [ValueID]) -> Quantizer? {
    guard let first = params.first, let qualified = name(first), qualified.hasPrefix("torch.")
    else { return nil }
    var out = Quantizer(scheme: String(qualified.dropFirst(6)))
    if out.isPerChannel {
      if params.count > 3 { out.axis = graph.int(params[3]) }
    } else if params.count > 2 {
      switch graph[params[1]] {
      case .float(let v): out.scale = v
      case .int(let v): out.scale = Double(v)
      default: break
      }
      out.zeroPoint = graph.int(params[2])
    }
    return out
  }

  /// The conj and neg bits of a rebuild call's metadata dict (an empty or absent dict: none).
  private func mathBits(_ id: ValueID) -> (negated: Bool, conjugated: Bool) {
    guard case .dict = graph[id], let items = graph.dictItems(id) else { return (false, false) }
    var negated = false
    var conjugated = false
    for (key, value) in items {
      guard let text = graph.string(key) else { continue }
      if text == "neg" { negated = truthy(value) }
      if text == "conj" { conjugated = truthy(value) }
    }
    return (negated, conjugated)
  }

  private func dtypeNamed(_ qualified: String) -> DType? {
    guard qualified.hasPrefix("torch.") else { return nil }
    return DType.named(String(qualified.dropFirst(6)))
  }

  /// A tuple/list of ints, or `torch.Size((...))`.
  func shape(_ id: ValueID) -> [Int64]? {
    if let items = graph.elements(id) {
      var out: [Int64] = []
      out.reserveCapacity(items.count)
      for item in items {
        guard let v = graph.int(item) else { return nil }
        out.append(v)
      }
      return out
    }
    if calleeName(id) == "torch.Size", let args = graph.callArguments(id), let first = args.first {
      return shape(first)
    }
    return nil
  }

  private func intList(_ id: ValueID, what: String, offset: Int) throws(InterpretError) -> [Int64] {
    guard let list = shape(id) else {
      throw InterpretError(
        offset: graph.offset(of: id), "tensor \(what) is not a tuple of integers")
    }
    return list
  }

  private func layoutName(_ id: ValueID) -> String? {
    // torch.serialization._get_layout('torch.sparse_coo') or a bare global.
    if calleeName(id) == "torch.serialization._get_layout", let args = graph.callArguments(id),
      let first = args.first, let text = graph.string(first)
    {
      return text.hasPrefix("torch.") ? String(text.dropFirst(6)) : text
    }
    if let name = self.name(id), name.hasPrefix("torch.") { return String(name.dropFirst(6)) }
    return nil
  }

  private func deviceText(_ id: ValueID) -> String? {
    if let s = graph.string(id) { return s }
    guard calleeName(id) == "torch.device", let args = graph.callArguments(id) else { return nil }
    guard let type = args.first.flatMap({ graph.string($0) }) else { return nil }
    if args.count > 1, let index = graph.int(args[1]) { return "\(type):\(index)" }
    return type
  }

  private func numpyShape(_ id: ValueID) -> [Int64]? {
    // numpy _reconstruct then BUILD (version, shape, dtype, fortran, data).
    guard let state = graph.buildState(id), let parts = graph.sequence(state), parts.count >= 2
    else {
      return nil
    }
    return shape(parts[1])
  }

  private func contiguousStride(_ size: [Int64]) -> [Int64] {
    var stride = [Int64](repeating: 1, count: size.count)
    var running: Int64 = 1
    for i in size.indices.reversed() {
      stride[i] = running
      running = running &* max(size[i], 1)
    }
    return stride
  }
}

/// A rebuild call's arguments, indexed from 0 without copying them out of the graph.
private struct Arguments {
  let slice: ArraySlice<ValueID>
  var count: Int { slice.count }
  subscript(i: Int) -> ValueID { slice[slice.startIndex + i] }
  func prefix(_ n: Int) -> ArraySlice<ValueID> { slice.prefix(n) }
}

/// The `_rebuild_*` functions torch pickles tensors with; the raw value is the function's name.
enum RebuildKind: String, Sendable {
  case tensor = "_rebuild_tensor"
  case tensorV2 = "_rebuild_tensor_v2"
  case tensorV3 = "_rebuild_tensor_v3"
  case mpsTensor = "_rebuild_mps_tensor"
  case qtensor = "_rebuild_qtensor"
  case parameter = "_rebuild_parameter"
  case parameterWithState = "_rebuild_parameter_with_state"
  case fromTypeV2 = "_rebuild_from_type_v2"
  case fromType = "_rebuild_from_type"
  case sparse = "_rebuild_sparse_tensor"
  case sparseCSR = "_rebuild_sparse_csr_tensor"
  case nested = "_rebuild_nested_tensor"
  case metaNoStorage = "_rebuild_meta_tensor_no_storage"
  case deviceFromCPU = "_rebuild_device_tensor_from_cpu_tensor"
  case deviceFromNumpy = "_rebuild_device_tensor_from_numpy"
  case xla = "_rebuild_xla_tensor"
  case wrapperSubclass = "_rebuild_wrapper_subclass"

  /// The kind a fully qualified global names (`torch._utils._rebuild_tensor_v2`).
  init?(qualifiedName: String) {
    let module: String
    switch qualifiedName {
    case _ where qualifiedName.hasPrefix("torch._utils."): module = "torch._utils."
    case _ where qualifiedName.hasPrefix("torch._tensor."): module = "torch._tensor."
    default: return nil
    }
    guard let kind = RebuildKind(rawValue: String(qualifiedName.dropFirst(module.count))) else {
      return nil
    }
    let tensorModule = kind == .fromTypeV2 || kind == .fromType
    guard tensorModule == (module == "torch._tensor.") else { return nil }
    self = kind
  }
}
