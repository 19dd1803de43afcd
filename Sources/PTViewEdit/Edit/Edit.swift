public import PTViewCore
public import PTViewPickle

/// One concrete change to a checkpoint: the vocabulary the planner speaks and the writer
/// applies. Edits are data. The user's requests (`EditOperation`: a CLI flag, an explorer key)
/// are turned into edits by `EditPlanner`, the only place that decides what a request means;
/// `GraphEditor` and `CheckpointRewriter` carry them out without second-guessing.
///
/// Container edits name their container by node and their item by its position in
/// `ValueGraph.dictItems` (or the sequence's elements), so they change the object in place,
/// as Python code editing the loaded dict would: every reference to it sees the change.
public enum Edit: Hashable, Sendable {
  /// Give the storage behind `record` (relative to the archive root, e.g. `data/3`; the key
  /// for legacy files) the location `device` (`cpu`, `cuda:0`...). Every pid that names the
  /// record changes; shared strings elsewhere in the pickle do not.
  case moveStorage(record: String, to: String)
  /// Rewrite a device string that is not a storage location: the device argument of
  /// `_rebuild_device_tensor_from_cpu_tensor` or `_rebuild_wrapper_subclass` (node = the
  /// argument's node).
  case setDeviceArgument(node: ValueID, to: String)
  /// Rewrite `torch.device("...")` literals in TorchScript code with these rules.
  case rewriteCode(DeviceRules)
  /// The object at `node` becomes what `torch.load` returns (`--extract`).
  case newRoot(node: ValueID)
  /// A fresh `OrderedDict` of these items becomes the root (`--state-dict`).
  case newStateDict(StateDictItems)
  /// The item at `item` of the dict-like `container` is saved under the key `to`.
  case renameKey(container: ValueID, item: Int, to: String)
  /// The item at `item` of `container` (a dict-like, list or tuple) is left out.
  case dropItem(container: ValueID, item: Int)
  /// The storage behind `record` is converted to `to` (a floating dtype), as `t.to(dtype)`.
  case castStorage(record: String, from: DType, to: DType)
}

/// The entries of a state_dict built by `--state-dict`, in `state_dict()` order.
public struct StateDictItems: Hashable, Sendable {
  /// Key and tensor node (the plain tensor: a Parameter's inner tensor).
  public var items: [Item]
  /// The `_metadata` object to attach (module versions), when the source had one.
  public var metadata: ValueID?

  /// One key and its tensor.
  public struct Item: Hashable, Sendable {
    /// The dotted key.
    public var key: String
    /// The tensor's node.
    public var value: ValueID
    /// True when the tensor must be saved with `requires_grad` off, as `state_dict()`
    /// detaches it (TorchScript pickles parameters as tensors that require grad).
    public var detach: Bool
    /// Creates an item.
    public init(key: String, value: ValueID, detach: Bool = false) {
      self.key = key
      self.value = value
      self.detach = detach
    }
  }

  /// Creates the items.
  public init(items: [Item], metadata: ValueID? = nil) {
    self.items = items
    self.metadata = metadata
  }
}

extension Edit {
  /// True for edits that change which objects the file holds (and so which storages it
  /// needs): a new root, a state_dict, a dropped item.
  public var changesStructure: Bool {
    switch self {
    case .newRoot, .newStateDict, .dropItem: true
    default: false
    }
  }
}
