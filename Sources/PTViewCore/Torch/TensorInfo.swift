public import PTViewPickle

/// A storage reference: one persistent id `('storage', type, key, location, numel[, view])`.
public struct StorageRef: Sendable, Equatable {
  /// The storage key (`"0"`; for legacy files a pointer-like string).
  public var key: String
  /// The location as saved (`cuda:0`, `cpu`, `mps`...).
  public var location: String
  /// The storage class's element type (bytes for UntypedStorage).
  public var storageDType: DType
  /// Elements of the storage type (bytes for UntypedStorage).
  public var numel: Int64
  /// The record holding the bytes, relative to the archive root (`data/0`); the key for legacy.
  public var record: String
  /// For legacy views of a bigger storage: (root key, offset in elements).
  public var view: (key: String, offset: Int64)?
  /// The persistent-id node and the node holding the location string inside it.
  public var pidNode: ValueID
  public var locationNode: ValueID

  /// Bytes the record must hold.
  public var byteCount: Int64 {
    let (bytes, overflow) = numel.multipliedReportingOverflow(by: Int64(storageDType.elementSize))
    return overflow ? Int64.max : bytes
  }

  public static func == (lhs: StorageRef, rhs: StorageRef) -> Bool {
    lhs.key == rhs.key && lhs.location == rhs.location && lhs.storageDType == rhs.storageDType
      && lhs.numel == rhs.numel && lhs.record == rhs.record && lhs.view?.key == rhs.view?.key
      && lhs.view?.offset == rhs.view?.offset && lhs.pidNode == rhs.pidNode
      && lhs.locationNode == rhs.locationNode
  }
}

/// What a rebuild call says about one tensor, before it is given a path.
public struct TensorInfo: Sendable, Equatable {
  /// The tensor's dtype.
  public var dtype: DType
  /// Sizes.
  public var shape: [Int64]
  /// Strides in elements (nil where torch has none: sparse layouts).
  public var stride: [Int64]?
  /// Storage offset in elements.
  public var offset: Int64
  /// Where a plain `torch.load` would put it.
  public var device: String
  /// The storage that holds its bytes, if any.
  public var storage: StorageRef?
  /// Tensors it is built from (sparse indices and values, nested buffer and metadata,
  /// per-channel quantizer scales and zero points).
  public var components: [TensorInfo] = []
  /// `requires_grad` as saved.
  public var requiresGrad: Bool
  /// True for `nn.Parameter`.
  public var isParameter: Bool
  /// torch's layout name when not strided (`sparse_coo`, `sparse_csr`, `nested`).
  public var layout: String?
  /// The rebuild function (`_rebuild_tensor_v2`...).
  public var rebuild: String
  /// Where the device came from when it is not the storage location (`_rebuild_device_tensor_from_cpu_tensor`).
  public var deviceNode: ValueID?
  /// The tensor's node in the graph (nil for formats without a pickle, such as safetensors).
  public var node: ValueID?

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
