public import PTViewPickle

/// A storage reference: one persistent id `('storage', type, key, location, numel[, view])`.
///
/// A value type over one shared, copy-on-write box: every tensor of a storage, and the list of
/// a checkpoint's references, hold the same box instead of a hundred-byte copy each.
public struct StorageRef: Sendable, Equatable {
  private var box: CopyOnWrite<Fields>

  /// Creates a storage reference.
  public init(
    key: String, location: String, storageDType: DType, numel: Int64, record: String,
    view: (key: String, offset: Int64)?, pidNode: ValueID, locationNode: ValueID
  ) {
    box = CopyOnWrite(
      Fields(
        key: key, location: location, storageDType: storageDType, numel: numel, record: record,
        view: view, pidNode: pidNode, locationNode: locationNode))
  }

  /// The storage key (`"0"`; for legacy files a pointer-like string).
  public var key: String {
    get { box.value.key }
    set { box.write { $0.key = newValue } }
  }
  /// The location as saved (`cuda:0`, `cpu`, `mps`...).
  public var location: String {
    get { box.value.location }
    set { box.write { $0.location = newValue } }
  }
  /// The storage class's element type (bytes for UntypedStorage).
  public var storageDType: DType {
    get { box.value.storageDType }
    set { box.write { $0.storageDType = newValue } }
  }
  /// Elements of the storage type (bytes for UntypedStorage).
  public var numel: Int64 {
    get { box.value.numel }
    set { box.write { $0.numel = newValue } }
  }
  /// The record holding the bytes, relative to the archive root (`data/0`); the key for legacy.
  public var record: String {
    get { box.value.record }
    set { box.write { $0.record = newValue } }
  }
  /// For legacy views of a bigger storage: (root key, offset in elements).
  public var view: (key: String, offset: Int64)? {
    get { box.value.view }
    set { box.write { $0.view = newValue } }
  }
  /// The persistent-id node.
  public var pidNode: ValueID {
    get { box.value.pidNode }
    set { box.write { $0.pidNode = newValue } }
  }
  /// The node holding the location string inside the persistent id.
  public var locationNode: ValueID {
    get { box.value.locationNode }
    set { box.write { $0.locationNode = newValue } }
  }

  /// Bytes the record must hold.
  public var byteCount: Int64 {
    let (bytes, overflow) = box.value.numel.multipliedReportingOverflow(
      by: Int64(box.value.storageDType.elementSize))
    return overflow ? Int64.max : bytes
  }

  public static func == (lhs: StorageRef, rhs: StorageRef) -> Bool {
    if lhs.box.isShared(with: rhs.box) { return true }
    let a = lhs.box.value
    let b = rhs.box.value
    return a.key == b.key && a.location == b.location && a.storageDType == b.storageDType
      && a.numel == b.numel && a.record == b.record && a.view?.key == b.view?.key
      && a.view?.offset == b.view?.offset && a.pidNode == b.pidNode
      && a.locationNode == b.locationNode
  }

  private struct Fields: Sendable {
    var key: String
    var location: String
    var storageDType: DType
    var numel: Int64
    var record: String
    var view: (key: String, offset: Int64)?
    var pidNode: ValueID
    var locationNode: ValueID
  }
}

/// What a rebuild call says about one tensor, before it is given a path.
///
/// A value type whose fields live in one shared, copy-on-write box: the tensor table, the
/// path rows and the explorer all hold the same tensors, and for checkpoints of tens of
/// thousands of tensors copying a pointer instead of some two hundred bytes with a dozen
/// reference-counted fields is what keeps listing them fast and small.
public struct TensorInfo: Sendable, Equatable {
  private var box: CopyOnWrite<Fields>

  /// Creates a tensor record.
  public init(
    dtype: DType, shape: [Int64], stride: [Int64]?, offset: Int64, device: String,
    storage: StorageRef?, components: [TensorInfo] = [], requiresGrad: Bool, isParameter: Bool,
    layout: String?, rebuild: String, deviceNode: ValueID? = nil, node: ValueID? = nil,
    quantizer: Quantizer? = nil, negated: Bool = false, conjugated: Bool = false,
    dataOffset: Int64? = nil
  ) {
    box = CopyOnWrite(
      Fields(
        dtype: dtype, shape: shape, stride: stride, offset: offset, device: device,
        storage: storage, components: components, requiresGrad: requiresGrad,
        isParameter: isParameter, layout: layout, rebuild: rebuild, deviceNode: deviceNode,
        node: node, quantizer: quantizer, negated: negated, conjugated: conjugated,
        dataOffset: dataOffset))
  }

  /// The tensor's dtype.
  public var dtype: DType {
    get { box.value.dtype }
    set { box.write { $0.dtype = newValue } }
  }
  /// Sizes.
  public var shape: [Int64] {
    get { box.value.shape }
    set { box.write { $0.shape = newValue } }
  }
  /// Strides in elements (nil where torch has none: sparse layouts).
  public var stride: [Int64]? {
    get { box.value.stride }
    set { box.write { $0.stride = newValue } }
  }
  /// Storage offset in elements.
  public var offset: Int64 {
    get { box.value.offset }
    set { box.write { $0.offset = newValue } }
  }
  /// Where a plain `torch.load` would put it.
  public var device: String {
    get { box.value.device }
    set { box.write { $0.device = newValue } }
  }
  /// The storage that holds its bytes, if any.
  public var storage: StorageRef? {
    get { box.value.storage }
    set { box.write { $0.storage = newValue } }
  }
  /// The record of its storage, read without copying the whole storage reference out.
  public var storageRecord: String? { box.value.storage?.record }
  /// Tensors it is built from (sparse indices and values, nested buffer and metadata,
  /// per-channel quantizer scales and zero points).
  public var components: [TensorInfo] {
    get { box.value.components }
    set { box.write { $0.components = newValue } }
  }
  /// `requires_grad` as saved.
  public var requiresGrad: Bool {
    get { box.value.requiresGrad }
    set { box.write { $0.requiresGrad = newValue } }
  }
  /// True for `nn.Parameter`.
  public var isParameter: Bool {
    get { box.value.isParameter }
    set { box.write { $0.isParameter = newValue } }
  }
  /// torch's layout name when not strided (`sparse_coo`, `sparse_csr`, `nested`).
  public var layout: String? {
    get { box.value.layout }
    set { box.write { $0.layout = newValue } }
  }
  /// The rebuild function (`_rebuild_tensor_v2`...).
  public var rebuild: String {
    get { box.value.rebuild }
    set { box.write { $0.rebuild = newValue } }
  }
  /// Where the device came from when it is not the storage location (`_rebuild_device_tensor_from_cpu_tensor`).
  public var deviceNode: ValueID? {
    get { box.value.deviceNode }
    set { box.write { $0.deviceNode = newValue } }
  }
  /// The tensor's node in the graph (nil for formats without a pickle, such as safetensors).
  public var node: ValueID? {
    get { box.value.node }
    set { box.write { $0.node = newValue } }
  }

  /// How a quantized tensor's stored integers become values (`_rebuild_qtensor`'s
  /// quantizer parameters); nil for other tensors.
  public var quantizer: Quantizer? {
    get { box.value.quantizer }
    set { box.write { $0.quantizer = newValue } }
  }
  /// torch's negative bit (`{'neg': True}` in `_rebuild_tensor_v2`'s metadata): the values are
  /// the stored ones negated.
  public var negated: Bool {
    get { box.value.negated }
    set { box.write { $0.negated = newValue } }
  }
  /// torch's conjugate bit (`{'conj': True}`): the values are the stored ones conjugated.
  public var conjugated: Bool {
    get { box.value.conjugated }
    set { box.write { $0.conjugated = newValue } }
  }

  /// File offset of the first byte of a tensor stored as one contiguous, row-major,
  /// little-endian byte range with no storage record (a safetensors tensor: the data
  /// section's start plus its `data_offsets` begin); nil for tensors with a `storage`.
  /// Kept apart from `storage` so listings of such files show no storage, as torch has none.
  public var dataOffset: Int64? {
    get { box.value.dataOffset }
    set { box.write { $0.dataOffset = newValue } }
  }

  public static func == (lhs: TensorInfo, rhs: TensorInfo) -> Bool {
    lhs.box.isShared(with: rhs.box) || lhs.box.value == rhs.box.value
  }

  private struct Fields: Sendable, Equatable {
    var dtype: DType
    var shape: [Int64]
    var stride: [Int64]?
    var offset: Int64
    var device: String
    var storage: StorageRef?
    var components: [TensorInfo]
    var requiresGrad: Bool
    var isParameter: Bool
    var layout: String?
    var rebuild: String
    var deviceNode: ValueID?
    var node: ValueID?
    var quantizer: Quantizer?
    var negated: Bool
    var conjugated: Bool
    var dataOffset: Int64?
  }

  /// Number of elements (product of the shape; 1 for a scalar).
  public var numel: Int64 {
    var product: Int64 = 1
    for size in shape {
      let (p, overflow) = product.multipliedReportingOverflow(by: max(0, size))
      product = overflow ? Int64.max : p
    }
    return product
  }

  /// The tensor's own bytes (packed dtypes by bytes); for sparse and nested tensors, the
  /// bytes of the tensors they are built from.
  public var nbytes: Int64 {
    if storage == nil, layout != nil, !components.isEmpty {
      return components.reduce(0) { $0.addingSaturated($1.nbytes) }
    }
    return dtype.byteCount(elements: numel)
  }

  /// Every storage this tensor reads: its own and its components'.
  public var allStorages: [StorageRef] {
    var out: [StorageRef] = storage.map { [$0] } ?? []
    for c in components { out += c.allStorages }
    return out
  }

  /// Whether the strides are the row-major (C-contiguous) ones for the shape, by torch's
  /// rule: sizes of 1 ignore their stride, and a tensor without elements is contiguous.
  public var isContiguous: Bool {
    guard let stride, stride.count == shape.count else { return layout == nil }
    if shape.contains(0) { return true }
    var expected: Int64 = 1
    for i in stride.indices.reversed() where shape[i] != 1 {
      if stride[i] != expected { return false }
      // Saturating: a later stride cannot equal an overflowed product anyway.
      let (next, overflow) = expected.multipliedReportingOverflow(by: shape[i])
      expected = overflow ? Int64.max : next
    }
    return true
  }
}

/// The quantizer of a quantized tensor, as `_rebuild_qtensor` pickles it: per-tensor
/// schemes carry one scale and zero point; per-channel schemes carry an axis, and their scales
/// and zero points are the tensor's first two `components`.
public struct Quantizer: Sendable, Equatable {
  /// torch's qscheme name without `torch.` (`per_tensor_affine`, `per_channel_affine`,
  /// `per_channel_affine_float_qparams`, `per_tensor_symmetric`, `per_channel_symmetric`).
  public var scheme: String
  /// The scale of a per-tensor scheme.
  public var scale: Double?
  /// The zero point of a per-tensor scheme.
  public var zeroPoint: Int64?
  /// The channel axis of a per-channel scheme.
  public var axis: Int64?

  /// Creates a quantizer record.
  public init(scheme: String, scale: Double? = nil, zeroPoint: Int64? = nil, axis: Int64? = nil) {
    self.scheme = scheme
    self.scale = scale
    self.zeroPoint = zeroPoint
    self.axis = axis
  }

  /// Whether the scheme has one scale per channel.
  public var isPerChannel: Bool { scheme.hasPrefix("per_channel") }
}

/// A tensor at a path from the root: one row of `ptview ls`.
public struct TensorEntry: Sendable, Equatable {
  /// Dict keys and sequence indices from the root, as strings.
  public var path: [String]
  /// The tensor.
  public var tensor: TensorInfo
  /// False for tensors a module holds outside its state_dict (non-persistent buffers).
  public var inStateDict: Bool = true
  /// The file it lives in, for checkpoints read from a folder of files (shards); nil for
  /// single files.
  public var file: String? = nil

  /// `path` joined with dots (a state_dict's one-component path is its key as it is, with no
  /// new string built: a sharded folder's check asks every row for its key).
  public var key: String { path.count == 1 ? path[0] : path.joined(separator: ".") }
}

/// A value kept in one object that copies share: copying is one reference count, and `write`
/// copies the value first when another holder shares it, so holders keep value semantics.
/// Only `write` changes the value, and never a shared one: that is what makes the object
/// safe to send between threads.
struct CopyOnWrite<Value: Sendable>: Sendable {
  private final class Object: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
  }

  private var object: Object

  init(_ value: Value) { object = Object(value) }

  /// The value, read in place (a field of it is read without copying the rest).
  var value: Value {
    _read { yield object.value }
  }

  /// Changes the value, copying it first if it is shared.
  mutating func write<T>(_ change: (inout Value) -> T) -> T {
    if !isKnownUniquelyReferenced(&object) { object = Object(object.value) }
    return change(&object.value)
  }

  /// Whether both hold the same object (and so the same value, without comparing it).
  func isShared(with other: CopyOnWrite) -> Bool { object === other.object }
}

extension TensorEntry {
  /// An entry made outside the readers (a DCP folder's tensors, described by its metadata).
  public init(path: [String], tensor: TensorInfo, file: String?) {
    self.init(path: path, tensor: tensor)
    self.file = file
  }
}
