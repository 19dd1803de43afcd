public import PTViewPickle

/// Everything ptview knows about a checkpoint after reading its pickles (never its tensor data).
public struct Checkpoint: Sendable {
  /// The container format.
  public enum Format: String, Sendable {
    case zip = "zip"
    case legacy = "legacy"
    case torchScript = "torchscript"
    case safetensors = "safetensors"
    case pickle = "pickle"
  }

  /// A decoded pickle: where it lives and what it returned.
  public struct PickleSection: Sendable {
    /// The record name (`archive/data.pkl`) or legacy part (`magic`, `protocol`, `sys_info`,
    /// `main`, `keys`).
    public var name: String
    /// File offset of its first byte.
    public var fileOffset: Int64
    /// Its length in bytes.
    public var length: Int64
    /// The value STOP returned.
    public var root: ValueID
    /// PROTO's argument.
    public var declaredProtocol: Int?
    /// The highest protocol among its opcodes.
    public var highestProtocol: Int
    /// Range of graph nodes it created.
    public var nodes: Range<Int>
    /// The folder holding its storages (`data`, `constants`), for zip flavours.
    public var storageFolder: String?
  }

  /// Where a storage's bytes are.
  public struct StorageExtent: Sendable, Equatable {
    /// Record name relative to the archive root (`data/0`), or the legacy key.
    public var record: String
    /// File offset of the first data byte, when known without decompression.
    public var dataOffset: Int64?
    /// Bytes in the record.
    public var size: Int64
    /// True when the record is compressed (values cannot be memory-mapped).
    public var compressed: Bool

    /// Creates an extent.
    public init(record: String, dataOffset: Int64?, size: Int64, compressed: Bool) {
      self.record = record
      self.dataOffset = dataOffset
      self.size = size
      self.compressed = compressed
    }
  }

  /// The container.
  public var format: Format
  /// Size of the file.
  public var fileSize: Int64
  /// The zip's root folder (`archive`, `model`), for zip flavours.
  public var archiveRoot: String?
  /// The zip directory, for zip flavours.
  public var directory: ZipDirectory?
  /// Every decoded pickle, in file order.
  public var pickles: [PickleSection]
  /// The graph all pickles were decoded into.
  public var graph: ValueGraph
  /// The object `torch.load` would return (data.pkl's root; the legacy main pickle's root).
  public var root: ValueID?
  /// Tensors by node.
  public var tensors: TensorTable
  /// Tensor rows by path, in walk order.
  public var entries: [TensorEntry]
  /// Every storage persistent id in the pickles, in stream order (one per pid node; bare
  /// storages that no tensor uses included).
  public var storageReferences: [StorageRef] = []
  /// Storage records by record name (relative to the root; legacy keys).
  public var storages: StorageExtents
  /// The `byteorder` record (`little`, `big`), if present.
  public var byteorder: String?
  /// The `version` (or `.data/version`) record's text, trimmed.
  public var version: String?
  /// The `.storage_alignment` record's value.
  public var storageAlignment: Int?
  /// Things that do not stop reading but that a user should know.
  public var notes: [String]
  /// safetensors `__metadata__`, if any.
  public var metadata: [(String, String)]
  /// Why the tensors could not be interpreted (set only by non-strict reads).
  public var problem: CheckpointError?
  /// TorchScript only: the class declarations in `code/` by qualified name (which attributes
  /// are parameters and buffers). Empty when the code could not be read.
  public var scriptClasses: [String: ScriptClass] = [:]
  /// Zip archives ptview edited in place: where the last append starts (the file's size
  /// before it). Nil for files never appended to.
  public var appendedAt: Int64?

  /// Drops what only the graph's readers need (the graph, the tensor table, the storage
  /// references, the zip directory, TorchScript's classes), keeping the rows, the pickles'
  /// places, the storages and the notes. A folder listing keeps this much of each shard, so it
  /// never holds every shard's graph at once.
  public mutating func dropGraph() {
    graph = ValueGraph()
    tensors = [:]
    storageReferences = []
    directory = nil
    scriptClasses = [:]
  }

  /// Number of distinct storages referenced by tensors.
  public var referencedStorageKeys: Set<String> {
    var keys: Set<String> = []
    for tensor in tensors.values {
      for s in tensor.allStorages { keys.insert(s.record) }
    }
    return keys
  }

  /// Every global the pickles reference, `module.name`, sorted and unique.
  public var globals: [String] {
    var names: Set<String> = []
    for node in graph.nodes.indices {
      if let name = graph.globalName(ValueID(Int32(node))) { names.insert(name) }
    }
    return names.sorted()
  }
}
