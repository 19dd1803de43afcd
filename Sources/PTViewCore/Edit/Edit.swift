public import PTViewPickle

/// One staged change to a checkpoint. Edits are data: the explorer stages them, `remap`
/// computes them from rules, and the writer applies a list of them in one pass.
public enum Edit: Hashable, Sendable {
  /// Give the storage behind `record` (relative to the archive root, e.g. `data/3`; the key
  /// for legacy files) the location `device` (`cpu`, `cuda:0`...). Every pid that names the
  /// record changes; shared strings elsewhere in the pickle do not.
  case moveStorage(record: String, to: String)
  /// Rewrite a device string that is not a storage location: the device argument of
  /// `_rebuild_device_tensor_from_cpu_tensor` or `_rebuild_wrapper_subclass` (node = the
  /// argument's node).
  case setDeviceArgument(node: ValueID, to: String)
}
