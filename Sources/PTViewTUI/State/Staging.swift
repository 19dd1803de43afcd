public import PTViewCore
public import PTViewEdit
import PTViewPickle

/// Changes staged in the explorer and not written yet: device moves, and the operations of
/// `ptview edit` (strip a prefix, rename, drop, extract, state_dict, cast) in the order they
/// were staged. Edits are data: `w` hands them to the edit pipeline, which plans the
/// operations with the same planner as `ptview edit`; until then nothing touches the disk.
public struct Staging: Hashable, Sendable {
  /// Key, root and dtype operations, in the order they were staged (`EditPlanner` applies
  /// them in its fixed order).
  public var operations: [EditOperation] = []
  /// Storage record (`data/3`) -> the location it will be saved with.
  public var storages: [String: String] = [:]
  /// Device-argument node (of `_rebuild_device_tensor_from_cpu_tensor` and wrapper
  /// subclasses) -> the device it will name.
  public var deviceArguments: [Int32: String] = [:]
  /// Rules for TorchScript `torch.device("...")` code literals, set when every tensor is
  /// mapped (`M`), as `ptview remap --to` applies them.
  public var codeRules: DeviceRules?

  /// Creates an empty staging.
  public init() {}

  /// True when nothing is staged.
  public var isEmpty: Bool { storages.isEmpty && deviceArguments.isEmpty && operations.isEmpty }

  /// True when no device move is staged.
  public var hasNoMoves: Bool { storages.isEmpty && deviceArguments.isEmpty }

  /// The staged device moves as edits, in a stable order.
  public var edits: [Edit] {
    let moves = storages.keys.sorted(by: Staging.naturalOrder).compactMap { record in
      storages[record].map { Edit.moveStorage(record: record, to: $0) }
    }
    let arguments = deviceArguments.keys.sorted().compactMap { node in
      deviceArguments[node].map { Edit.setDeviceArgument(node: ValueID(node), to: $0) }
    }
    return moves + arguments + (codeRules.map { [Edit.rewriteCode($0)] } ?? [])
  }

  /// The device `tensor` will be on once the edits are written, or nil if they leave it.
  public func target(of tensor: TensorInfo) -> String? {
    if let node = tensor.deviceNode { return deviceArguments[node.index] }
    for storage in tensor.allStorages {
      if let to = storages[storage.record] { return to }
    }
    return nil
  }

  /// Where `tensor` is after the staged edits.
  public func device(of tensor: TensorInfo) -> String { target(of: tensor) ?? tensor.device }

  /// Stages moving `tensor` to `device`.
  /// - Returns: false when it cannot move (no storage: meta tensors) or is already there.
  @discardableResult
  public mutating func move(_ tensor: TensorInfo, to device: String) -> Bool {
    if self.device(of: tensor) == device { return false }
    if let node = tensor.deviceNode {
      deviceArguments[node.index] = tensor.device == device ? nil : device
      // The tensor rebuilt on `device` is read from a CPU tensor; only a move to the CPU
      // needs that inner storage moved as well.
      if device == "cpu" {
        for storage in tensor.allStorages where storage.location != "cpu" {
          storages[storage.record] = "cpu"
        }
      }
      return true
    }
    let all = tensor.allStorages
    guard !all.isEmpty else { return false }
    for storage in all {
      storages[storage.record] = storage.location == device ? nil : device
    }
    return true
  }

  /// `data/2` before `data/10`.
  static func naturalOrder(_ a: String, _ b: String) -> Bool {
    let (pa, na) = split(a)
    let (pb, nb) = split(b)
    if pa != pb { return pa < pb }
    if na != nb { return na < nb }
    return a < b
  }

  private static func split(_ s: String) -> (Substring, Int) {
    let digits = s.utf8.reversed().prefix { $0 >= 48 && $0 <= 57 }.count
    guard digits > 0, digits <= 18 else { return (s[...], -1) }
    let cut = s.utf8.index(s.utf8.endIndex, offsetBy: -digits)
    return (s[..<cut], Int(s[cut...]) ?? -1)
  }
}

/// The staged edits seen from the tree: how many tensors under each node will move, and where.
/// Recomputed in one linear pass after each staging change, never per keypress.
public struct PendingView: Sendable {
  /// Pending tensors below each node.
  public var count: [Int32]
  /// Where they go: an index into `targets`, or `Tree.mixed`.
  public var target: [Int32]
  /// Target device names.
  public var targets: [String]
  /// Distinct tensors that will move (by pickle node; paths of one tensor count once).
  public var tensors: Int
  /// Their bytes.
  public var bytes: Int64

  /// An empty view for `tree`.
  public init(tree: Tree) {
    count = Array(repeating: 0, count: tree.count)
    target = Array(repeating: Tree.none, count: tree.count)
    targets = []
    tensors = 0
    bytes = 0
  }

  /// The view of `staging` over `tree`.
  public init(tree: Tree, staging: Staging) {
    self.init(tree: tree)
    guard !staging.hasNoMoves else { return }
    var codes: [String: Int32] = [:]
    var seen: Set<Int32> = []
    for id in tree.preorder.reversed() {
      let node = tree[id]
      if node.kind == .tensor, let entry = tree.entry(of: id),
        let to = staging.target(of: entry.tensor)
      {
        let code: Int32
        if let known = codes[to] {
          code = known
        } else {
          code = Int32(targets.count)
          targets.append(to)
          codes[to] = code
        }
        count[Int(id)] = 1
        target[Int(id)] = code
        if let n = entry.tensor.node {
          if seen.insert(n.index).inserted {
            tensors += 1
            bytes = bytes.addingSaturated(entry.tensor.nbytes)
          }
        } else {
          tensors += 1
          bytes = bytes.addingSaturated(entry.tensor.nbytes)
        }
      }
      let parent = Int(node.parent)
      if parent >= 0, count[Int(id)] > 0 {
        count[parent] += count[Int(id)]
        target[parent] = TreeBuilder.merge(target[parent], target[Int(id)])
      }
    }
  }

  /// The target name for a code.
  public func targetName(_ code: Int32) -> String? {
    code >= 0 && Int(code) < targets.count ? targets[Int(code)] : nil
  }
}
