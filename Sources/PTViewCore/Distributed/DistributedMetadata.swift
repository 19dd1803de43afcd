import PTViewPickle

/// The `.metadata` of a torch.distributed.checkpoint (DCP) folder, as its pickle describes it:
/// every saved key with its kind, and where each piece lives among the `.distcp` files.
///
/// The pickle holds dataclasses (`Metadata`, `TensorStorageMetadata`, `ChunkStorageMetadata`,
/// `MetadataIndex`, `_StorageInfo`...). It is decoded by ptview's pickle machine, which calls
/// nothing, and the graph is read here by field name; anything else is an error.
public struct DistributedMetadata: Sendable, Equatable {
  /// One key of the flattened state_dict.
  public struct Item: Sendable, Equatable {
    /// The flattened key (nested dicts joined with dots), as DCP stores it.
    public var fqn: String
    /// The path into the nested state_dict `dcp_to_torch_save` rebuilds (`planner_data`):
    /// strings for dict keys, integers for list indices.
    public var path: [PathPart]
    public var kind: Kind
  }

  /// A step of an item's path.
  public enum PathPart: Sendable, Equatable, Hashable {
    case key(String)
    case index(Int64)
  }

  /// What an item is.
  public enum Kind: Sendable, Equatable {
    /// A tensor of `dtype` and global `shape`, saved in `chunks`.
    case tensor(dtype: DType, shape: [Int64], chunks: [Chunk])
    /// A non-tensor value DCP saved with torch.save into its own byte range.
    case bytes(Storage)
  }

  /// A piece of a tensor: a box of the global tensor and its bytes.
  public struct Chunk: Sendable, Equatable {
    public var offsets: [Int64]
    public var sizes: [Int64]
    public var storage: Storage

    public init(offsets: [Int64], sizes: [Int64], storage: Storage) {
      self.offsets = offsets
      self.sizes = sizes
      self.storage = storage
    }
  }

  /// A byte range of a `.distcp` file (a complete torch.save archive).
  public struct Storage: Sendable, Equatable {
    public var file: String
    public var offset: Int64
    public var length: Int64

    public init(file: String, offset: Int64, length: Int64) {
      self.file = file
      self.offset = offset
      self.length = length
    }
  }

  /// The items, in the order of `state_dict_metadata`.
  public var items: [Item]

  /// Metadata of `items` (a subset, to check or assemble keys one at a time).
  public init(items: [Item]) { self.items = items }

  /// Every file the items name, sorted.
  public var files: [String] {
    var names = Set<String>()
    for item in items {
      switch item.kind {
      case .tensor(_, _, let chunks): for c in chunks { names.insert(c.storage.file) }
      case .bytes(let s): names.insert(s.file)
      }
    }
    return names.sorted()
  }
}

extension DistributedMetadata.Item {
  /// The bytes this item's storage ranges take in the files.
  public var storedBytes: Int64 {
    switch kind {
    case .tensor(_, _, let chunks): chunks.reduce(0) { $0 &+ $1.storage.length }
    case .bytes(let s): s.length
    }
  }
}
