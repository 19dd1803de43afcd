import PTViewCore

/// torch.load(path) of a zip checkpoint requires each storage record to hold exactly the bytes
/// its first persistent id declares (numel times the element size: "record size (440 bytes)
/// does not match expected size (432 bytes ...)"). A file that breaks this rule loads nowhere,
/// and a faithful rewrite would carry the defect into the output, which `ptview doctor` would
/// then flag, so the planner refuses instead, naming the record and the keys that read it
/// (dropping those keys writes the rest).
enum StorageSizeCheck {
  /// - Parameters:
  ///   - reached: the records the output keeps (nil: all of them).
  ///   - plainOutput: whether the output is a `torch.save` archive (TorchScript loses its
  ///     code under a new root); torch.jit.load does not make this check.
  static func verify(_ checkpoint: Checkpoint, reached: Set<String>?, plainOutput: Bool)
    throws(EditRefusal)
  {
    guard checkpoint.format == .zip || (checkpoint.format == .torchScript && plainOutput) else {
      return
    }
    var seen: Set<String> = []
    for ref in checkpoint.storageReferences {
      guard seen.insert(ref.record).inserted, reached?.contains(ref.record) ?? true,
        let extent = checkpoint.storages[ref.record], extent.size != ref.byteCount
      else { continue }
      let need = ref.byteCount == Int64.max ? "more than 2^63" : "\(ref.byteCount)"
      let readers = checkpoint.entries.filter { entry in
        entry.tensor.allStorages.contains { $0.record == ref.record }
      }.map(\.key)
      var message =
        "record \(ref.record) holds \(extent.size) bytes but its storage needs \(need): "
        + "torch.load would refuse the output as it refuses the input"
      if !readers.isEmpty {
        let shown = readers.prefix(3).joined(separator: ", ")
        let more = readers.count > 3 ? " and \(readers.count - 3) more" : ""
        message += "; it is read by \(shown)\(more) (ptview edit --drop KEY writes the rest)"
      }
      throw EditRefusal(message)
    }
  }
}
