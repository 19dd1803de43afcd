public import PTViewCore
public import PTViewEdit
import PTViewPickle

/// Changes staged in the explorer and not written yet: the operations of `ptview edit` and
/// `ptview remap` (strip a prefix, rename, drop, extract, state_dict, cast, device moves) in
/// the order they were staged. Edits are data: `EditPlanner` plans the list after every key,
/// and `w` hands it to the edit pipeline, which plans it again and writes; until then nothing
/// touches the disk.
public struct Staging: Hashable, Sendable {
  /// The operations, in the order they were staged. `EditPlanner` applies them in its fixed
  /// order, and device moves one after the other in this order: a later move of the same
  /// tensors wins.
  public var operations: [EditOperation] = []

  /// Creates an empty staging.
  public init() {}

  /// True when nothing is staged.
  public var isEmpty: Bool { operations.isEmpty }

  /// Staged operations other than device moves: the header counts these as edits, and device
  /// moves by the tensors they move.
  public var editCount: Int { operations.count(where: { !$0.isDeviceMove }) }
}

extension EditOperation {
  /// True for `m` and `M` (`--to`, `--map`).
  var isDeviceMove: Bool {
    if case .moveDevices = self { return true }
    return false
  }
}

/// The device moves of a plan, looked up per tensor: where each storage record and each
/// device argument goes. Read from the plan's edits, so the tree shows what `w` writes and
/// never its own idea of which storages a move takes along.
public struct PlannedMoves: Sendable {
  /// Storage record (`data/3`) -> the location it will be saved with.
  var storages: [String: String] = [:]
  /// Device-argument node (of `_rebuild_device_tensor_from_cpu_tensor`) -> the device it
  /// will name.
  var arguments: [ValueID: String] = [:]

  /// No moves.
  public init() {}

  /// The moves `plan` writes (none without a plan).
  public init(_ plan: EditPlan?) {
    for edit in plan?.edits ?? [] {
      switch edit {
      case .moveStorage(let record, let to): storages[record] = to
      case .setDeviceArgument(let node, let to): arguments[node] = to
      default: break
      }
    }
  }

  /// True when the plan moves nothing.
  public var isEmpty: Bool { storages.isEmpty && arguments.isEmpty }

  /// The devices something moves to.
  public var targets: Set<String> { Set(storages.values).union(arguments.values) }

  /// The device `tensor` will be on once the plan is written, or nil if it stays. A tensor
  /// rebuilt from a device argument is where its argument says, whatever happens to the
  /// storage it is read from.
  public func target(of tensor: TensorInfo) -> String? {
    if let node = tensor.deviceNode { return arguments[node] }
    for storage in tensor.allStorages {
      if let to = storages[storage.record] { return to }
    }
    return nil
  }

  /// Where `tensor` is after the plan.
  public func device(of tensor: TensorInfo) -> String { target(of: tensor) ?? tensor.device }
}

/// The staged device moves seen from the tree: how many tensors under each node will move,
/// and where. Recomputed in one linear pass after each staging change, never per keypress.
public struct PendingView: Sendable {
  /// The moves of the plan, per storage and device argument.
  public var moves: PlannedMoves
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
    moves = PlannedMoves()
    count = Array(repeating: 0, count: tree.count)
    target = Array(repeating: Tree.none, count: tree.count)
    targets = []
    tensors = 0
    bytes = 0
  }

  /// The moves of `plan` (what `EditPlanner` made of the staged operations) over `tree`.
  public init(tree: Tree, plan: EditPlan?) {
    self.init(tree: tree)
    moves = PlannedMoves(plan)
    guard !moves.isEmpty else { return }
    var codes: [String: Int32] = [:]
    var seen: Set<Int32> = []
    for id in tree.preorder.reversed() {
      let node = tree[id]
      if node.kind == .tensor, let entry = tree.entry(of: id),
        let to = moves.target(of: entry.tensor)
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

  /// The device `tensor` will be on once the staged edits are written, or nil if it stays.
  public func target(of tensor: TensorInfo) -> String? { moves.target(of: tensor) }

  /// The target name for a code.
  public func targetName(_ code: Int32) -> String? {
    code >= 0 && Int(code) < targets.count ? targets[Int(code)] : nil
  }
}
