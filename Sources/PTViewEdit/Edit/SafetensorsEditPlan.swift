public import PTViewCore

/// What folder edits do to one safetensors shard, as a plan the explorer can show: the keys
/// the folder-wide `FolderKeyPlan` renames or drops in it, and the tensors a cast converts.
///
/// A safetensors shard is not planned by `EditPlanner` (it has no pickle to edit): the
/// folder writer rewrites it from the key plan and the cast alone (`SafetensorsRewrite`).
/// The cast rule lives here so that the explorer's staged view and the writer never
/// disagree on which tensors change.
public enum SafetensorsEditPlan {
  /// The dtype a tensor of `dtype` is written as under `--cast cast`, with its safetensors
  /// code; nil when it is written as it is (not floating, already that dtype, no cast, or no
  /// kernel for the pair).
  public static func castTarget(_ dtype: DType, to cast: DType?) -> (dtype: DType, code: String)? {
    guard let cast, cast != dtype, EditOperation.isFloating(dtype),
      Conversion(from: dtype, to: cast, bigEndian: false) != nil,
      let code = SafetensorsReader.code(forTorchName: cast.name)
    else { return nil }
    return (cast, code)
  }

  /// The name a plan gives the bytes of tensor `key` of the safetensors file `file` (such a
  /// file has no storage records): the file, the explorer's separator, the key.
  public static func record(file: String, key: String) -> String { file + "\u{1F}" + key }

  /// The last `--cast` of `operations`, which is the one that applies.
  public static func cast(in operations: [EditOperation]) -> DType? {
    var last: DType?
    for case .cast(let dtype) in operations { last = dtype }
    return last
  }

  /// The plan of the safetensors shard `checkpoint`, named `file` in the folder: keys renamed
  /// and dropped by `keyPlan` (nil when no key edit is staged), tensors converted by the last
  /// cast of `operations`. Nil when the shard is written unchanged (device moves alone copy
  /// it: safetensors stores no device).
  public static func plan(
    _ checkpoint: Checkpoint, file: String, keyPlan: FolderKeyPlan?,
    operations: [EditOperation]
  ) -> EditPlan? {
    let cast = cast(in: operations)
    guard keyPlan != nil || cast != nil else { return nil }
    var plan = EditPlan(edits: [], remap: .empty)
    for entry in checkpoint.entries where entry.inStateDict {
      let key = entry.key
      let record = record(file: file, key: key)
      if let keyPlan {
        guard let output = keyPlan.outputKey[key] else {
          plan.dropped.append(key)
          plan.unusedStorages.append((record, entry.tensor.nbytes))
          continue
        }
        if output != key { plan.renamed.append((key, output)) }
      }
      if let target = castTarget(entry.tensor.dtype, to: cast) {
        plan.casts.append((record, entry.tensor.dtype, target.dtype, entry.tensor.nbytes))
      }
    }
    plan.detectedPrefixes = keyPlan?.detectedPrefixes ?? []
    return plan
  }
}
