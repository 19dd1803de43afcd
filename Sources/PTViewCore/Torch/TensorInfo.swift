public import PTViewPickle

/// A storage reference: one persistent id `('storage', type, key, location, numel[, view])`.
///
/// A value type over one shared, copy-on-write box: every tensor of a storage, and the list of
/// a checkpoint's references, hold the same box instead of a hundred-byte copy each.
public struct StorageRef: Sendable, Equatable {
  private var box: Fields

  /// Creates a storage reference.
  public init(
    key: String, location: String, storageDType: DType, numel: Int64, record: String,
    view: (key: String, offset: Int64)?, pidNode: ValueID, locationNode: ValueID
  ) {
    box = Fields(
      key: key, location: location, storageDType: storageDType, numel: numel, record: record,
      view: view, pidNode: pidNode, locationNode: locationNode)
  }

  /// The storage key (`"0"`; for legacy files a pointer-like string).
  public var key: String {
    get { box.key }
    set { unique().key = newValue }
  }
  /// The location as saved (`cuda:0`, `cpu`, `mps`...).
  public var location: String {
    get { box.location }
    set { unique().location = newValue }
  }
  /// The storage class's element type (bytes for UntypedStorage).
  public var storageDType: DType {
    get { box.storageDType }
    set { unique().storageDType = newValue }
  }
  /// Elements of the storage type (bytes for UntypedStorage).
  public var numel: Int64 {
    get { box.numel }
    set { unique().numel = newValue }
  }
  /// The record holding the bytes, relative to the archive root (`data/0`); the key for legacy.
  public var record: String {
    get { box.record }
    set { unique().record = newValue }
  }
  /// For legacy views of a bigger storage: (root key, offset in elements).
  public var view: (key: String, offset: Int64)? {
    get { box.view }
    set { unique().view = newValue }
  }
  /// The persistent-id node.
  public var pidNode: ValueID {
    get { box.pidNode }
    set { unique().pidNode = newValue }
  }
  /// The node holding the location string inside the persistent id.
  public var locationNode: ValueID {
    get { box.locationNode }
    set { unique().locationNode = newValue }
  }

  /// Bytes the record must hold.
  public var byteCount: Int64 {
    let (bytes, overflow) = box.numel.multipliedReportingOverflow(
      by: Int64(box.storageDType.elementSize))
    return overflow ? Int64.max : bytes
  }

  public static func == (lhs: StorageRef, rhs: StorageRef) -> Bool {
    let a = lhs.box
    let b = rhs.box
    return a === b
      || (a.key == b.key && a.location == b.location && a.storageDType == b.storageDType
        && a.numel == b.numel && a.record == b.record && a.view?.key == b.view?.key
        && a.view?.offset == b.view?.offset && a.pidNode == b.pidNode
        && a.locationNode == b.locationNode)
  }

  /// The box, copied first when another value shares it.
  private mutating func unique() -> Fields {
    if !isKnownUniquelyReferenced(&box) { box = box.copy() }
    return box
  }

  /// The stored fields; written only through `unique()`, so a shared box is never written.
  private final class Fields: @unchecked Sendable {
    var key: String
    var location: String
    var storageDType: DType
    var numel: Int64
    var record: String
    var view: (key: String, offset: Int64)?
    var pidNode: ValueID
    var locationNode: ValueID

    init(
      key: String, location: String, storageDType: DType, numel: Int64, record: String,
      view: (key: String, offset: Int64)?, pidNode: ValueID, locationNode: ValueID
    ) {
      self.key = key
      self.location = location
      self.storageDType = storageDType
      self.numel = numel
      self.record = record
      self.view = view
      self.pidNode = pidNode
      self.locationNode = locationNode
    }

    func copy() -> Fields {
      Fields(
        key: key, location: location, storageDType: storageDType, numel: numel, record: record,
        view: view, pidNode: pidNode, locationNode: locationNode)
    }
  }
}

/// What a rebuild call says about one tensor, before it is given a path.
///
/// A value type whose fields live in one shared, copy-on-write box: the tensor table, the
/// path rows and the explorer all hold the same tensors, and for checkpoints of tens of
/// thousands of tensors copying a pointer instead of some two hundred bytes with a dozen
/// reference-counted fields is what keeps listing them fast and small.
public struct TensorInfo: Sendable, Equatable {
  private var box: Fields

  /// Creates a tensor record.
  public init(
    dtype: DType, shape: [Int64], stride: [Int64]?, offset: Int64, device: String,
    storage: StorageRef?, components: [TensorInfo] = [], requiresGrad: Bool, isParameter: Bool,
    layout: String?, rebuild: String, deviceNode: ValueID? = nil, node: ValueID? = nil
  ) {
    box = Fields(
      dtype: dtype, shape: shape, stride: stride, offset: offset, device: device,
      storage: storage, components: components, requiresGrad: requiresGrad,
      isParameter: isParameter, layout: layout, rebuild: rebuild, deviceNode: deviceNode,
      node: node)
  }

  /// The tensor's dtype.
  public var dtype: DType {
    get { box.dtype }
    set { unique().dtype = newValue }
  }
  /// Sizes.
  public var shape: [Int64] {
    get { box.shape }
    set { unique().shape = newValue }
  }
  /// Strides in elements (nil where torch has none: sparse layouts).
  public var stride: [Int64]? {
    get { box.stride }
    set { unique().stride = newValue }
  }
  /// Storage offset in elements.
  public var offset: Int64 {
    get { box.offset }
    set { unique().offset = newValue }
  }
  /// Where a plain `torch.load` would put it.
  public var device: String {
    get { box.device }
    set { unique().device = newValue }
  }
  /// The storage that holds its bytes, if any.
  public var storage: StorageRef? {
    get { box.storage }
    set { unique().storage = newValue }
  }
  /// The record of its storage, read without copying the whole storage reference out.
  public var storageRecord: String? { box.storage?.record }
  /// Tensors it is built from (sparse indices and values, nested buffer and metadata,
  /// per-channel quantizer scales and zero points).
  public var components: [TensorInfo] {
    get { box.components }
    set { unique().components = newValue }
  }
  /// `requires_grad` as saved.
  public var requiresGrad: Bool {
    get { box.requiresGrad }
    set { unique().requiresGrad = newValue }
  }
  /// True for `nn.Parameter`.
  public var isParameter: Bool {
    get { box.isParameter }
    set { unique().isParameter = newValue }
  }
  /// torch's layout name when not strided (`sparse_coo`, `sparse_csr`, `nested`).
  public var layout: String? {
    get { box.layout }
    set { unique().layout = newValue }
  }
  /// The rebuild function (`_rebuild_tensor_v2`...).
  public var rebuild: String {
    get { box.rebuild }
    set { unique().rebuild = newValue }
  }
  /// Where the device came from when it is not the storage location (`_rebuild_device_tensor_from_cpu_tensor`).
  public var deviceNode: ValueID? {
    get { box.deviceNode }
    set { unique().deviceNode = newValue }
  }
  /// The tensor's node in the graph (nil for formats without a pickle, such as safetensors).
  public var node: ValueID? {
    get { box.node }
    set { unique().node = newValue }
  }

  public static func == (lhs: TensorInfo, rhs: TensorInfo) -> Bool {
    lhs.box === rhs.box || lhs.box.hasSameFields(as: rhs.box)
  }

  /// The box, copied first when another value shares it.
  private mutating func unique() -> Fields {
    if !isKnownUniquelyReferenced(&box) { box = box.copy() }
    return box
  }

  /// The stored fields. Mutated only through `unique()`, so a box that two values share is
  /// never written: that is what makes it safe to send between threads.
  private final class Fields: @unchecked Sendable {
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

    init(
      dtype: DType, shape: [Int64], stride: [Int64]?, offset: Int64, device: String,
      storage: StorageRef?, components: [TensorInfo], requiresGrad: Bool, isParameter: Bool,
      layout: String?, rebuild: String, deviceNode: ValueID?, node: ValueID?
    ) {
      self.dtype = dtype
      self.shape = shape
      self.stride = stride
      self.offset = offset
      self.device = device
      self.storage = storage
      self.components = components
      self.requiresGrad = requiresGrad
      self.isParameter = isParameter
      self.layout = layout
      self.rebuild = rebuild
      self.deviceNode = deviceNode
      self.node = node
    }

    func copy() -> Fields {
      Fields(
        dtype: dtype, shape: shape, stride: stride, offset: offset, device: device,
        storage: storage, components: components, requiresGrad: requiresGrad,
        isParameter: isParameter, layout: layout, rebuild: rebuild, deviceNode: deviceNode,
        node: node)
    }

    func hasSameFields(as other: Fields) -> Bool {
      dtype == other.dtype && shape == other.shape && stride == other.stride
        && offset == other.offset && device == other.device && storage == other.storage
        && components == other.components && requiresGrad == other.requiresGrad
        && isParameter == other.isParameter && layout == other.layout
        && rebuild == other.rebuild && deviceNode == other.deviceNode && node == other.node
    }
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

/// A tensor at a path from the root: one row of `ptview ls`.
public struct TensorEntry: Sendable, Equatable {
  /// Dict keys and sequence indices from the root, as strings.
  public var path: [String]
  /// The tensor.
  public var tensor: TensorInfo
  /// False for tensors a module holds outside its state_dict (non-persistent buffers).
  public var inStateDict: Bool = true

  /// `path` joined with dots.
  public var key: String { path.joined(separator: ".") }
}
