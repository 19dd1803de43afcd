import PTViewCore
public import PTViewEdit
import PTViewPickle

/// The planned key, root and dtype operations seen from the tree: which rows get a new key,
/// which are left out, which tensors are cast, and the bytes the write saves. Made from the
/// `EditPlan` that `EditPlanner` returned (the explorer never decides what an operation does
/// itself), in one pass after each staging change.
public struct EditView: Sendable {
  /// Per node: the key the output gives it (relative to the new root), when a rename
  /// changes it.
  public var newKey: [Int32: String] = [:]
  /// Per node: the new key to show as `old -> new` (only where the rename happens, not on
  /// every row below it).
  public var arrow: [Int32: String] = [:]
  /// Per node: left out of the output (dropped, or outside the extracted subtree).
  public var dropped: [Bool]
  /// Per node: tensors below that are cast.
  public var castCount: [Int32]
  /// Per node: the dtype they are cast to (index into `castTargets`, or `Tree.mixed`).
  public var castTarget: [Int32]
  /// Short dtype names of the cast targets.
  public var castTargets: [String] = []
  /// Bytes the write saves: storages left out plus what casts make smaller (negative when a
  /// cast makes the file larger).
  public var bytesSaved: Int64 = 0

  /// Nothing planned.
  public init(tree: Tree) {
    dropped = Array(repeating: false, count: tree.count)
    castCount = Array(repeating: 0, count: tree.count)
    castTarget = Array(repeating: Tree.none, count: tree.count)
  }

  /// The view of `plan`, planned from `operations`, over `tree`.
  public init(tree: Tree, operations: [EditOperation], plan: EditPlan?) {
    self.init(tree: tree)
    guard let plan, !operations.isEmpty else { return }
    bytesSaved = plan.bytesDropped
    // The keys the planner reports are relative to the new root.
    var base = ""
    // With `state_dict`, the planner names the tensors it keeps by node: their keys there.
    var stateDictKeys: [ValueID: String]?
    for operation in operations {
      switch operation {
      case .extract(let path): base = base.isEmpty ? path : base + "." + path
      case .stateDict: stateDictKeys = [:]
      default: break
      }
    }
    var renamed: [String: String] = [:]
    for pair in plan.renamed where renamed[pair.from] == nil { renamed[pair.from] = pair.to }
    let droppedKeys = Set(plan.dropped)
    func relative(_ key: String) -> String? {
      if base.isEmpty { return key }
      if key == base { return "" }
      return key.hasPrefix(base + ".") ? String(key.dropFirst(base.count + 1)) : nil
    }
    // The longest renamed prefix (at a dot) decides: a renamed container renames what is in it.
    func renamedKey(_ key: String) -> String {
      if let to = renamed[key] { return to }
      var end = key.endIndex
      while let dot = key[..<end].lastIndex(of: ".") {
        if let to = renamed[String(key[..<dot])] { return to + key[dot...] }
        end = dot
      }
      return key
    }
    func isDropped(_ key: String) -> Bool {
      if droppedKeys.contains(key) { return true }
      var end = key.endIndex
      while let dot = key[..<end].lastIndex(of: ".") {
        if droppedKeys.contains(String(key[..<dot])) { return true }
        end = dot
      }
      return false
    }
    if stateDictKeys != nil {
      for case .newStateDict(let items) in plan.edits {
        var keys: [ValueID: String] = [:]
        for item in items.items where keys[item.value] == nil { keys[item.value] = item.key }
        stateDictKeys = keys
      }
    }
    // The key a tensor has in the new state_dict (a Parameter is listed by the tensor it wraps).
    func stateDictKey(_ id: Int32) -> String? {
      guard let keys = stateDictKeys, let entry = tree.entry(of: id), let node = entry.tensor.node
      else { return nil }
      if let key = keys[node] { return key }
      if let inner = tree.graph?.callArguments(node)?.first { return keys[inner] }
      return nil
    }
    do {
      // Leaves first: the planner reports the keys of the items it renamed or dropped.
      var rel: [String?] = Array(repeating: nil, count: tree.count)
      var new: [String?] = Array(repeating: nil, count: tree.count)
      rel[0] = ""
      new[0] = ""
      for id in tree.preorder where id != 0 {
        let node = tree[id]
        guard let r = relative(node.key) else {
          dropped[Int(id)] = true
          continue
        }
        rel[Int(id)] = r
        guard !r.isEmpty, node.kind == .tensor || node.kind == .value else { continue }
        var planned = r
        if stateDictKeys != nil {
          // Only the tensors of the state_dict are kept, under its keys.
          guard node.kind == .tensor, let key = stateDictKey(id) else {
            dropped[Int(id)] = true
            continue
          }
          planned = key
        }
        let n = renamedKey(planned)
        new[Int(id)] = n
        if isDropped(n) { dropped[Int(id)] = true }
      }
      // A container's new key follows from its first leaf (dotted keys of a flat state_dict
      // are split into containers the planner never sees): `module.fc` is `fc` when
      // `module.fc.weight` becomes `fc.weight`.
      var sample: [Int32] = Array(repeating: -1, count: tree.count)
      for id in tree.preorder.reversed() where id != 0 {
        let node = tree[id]
        if new[Int(id)] != nil, node.kind == .tensor || node.kind == .value {
          sample[Int(id)] = id
        }
        let parent = Int(node.parent)
        if parent > 0, sample[Int(id)] >= 0 { sample[parent] = sample[Int(id)] }
      }
      for id in tree.preorder where id != 0 {
        let node = tree[id]
        guard node.kind == .group || node.kind == .run, let r = rel[Int(id)], !r.isEmpty else {
          continue
        }
        let leaf = Int(sample[Int(id)])
        if leaf >= 0, let leafRel = rel[leaf], let leafNew = new[leaf], leafRel.hasPrefix(r) {
          let suffix = leafRel.dropFirst(r.count)
          if leafNew.hasSuffix(suffix) {
            new[Int(id)] = String(leafNew.dropLast(suffix.count))
          } else if suffix.hasPrefix("."), leafNew == suffix.dropFirst() {
            new[Int(id)] = ""  // a stripped prefix: the container is gone
          } else {
            new[Int(id)] = renamedKey(r)
          }
        } else {
          new[Int(id)] = renamedKey(r)
        }
        if isDropped(new[Int(id)] ?? r) { dropped[Int(id)] = true }
      }
      // A row shows `old -> new` when its new key is not its parent's new key and its own
      // name: `module -> (stripped)` once, not on every row below it.
      for id in tree.preorder where id != 0 {
        let node = tree[id]
        guard node.kind != .run, !dropped[Int(id)], let r = rel[Int(id)], !r.isEmpty,
          let n = new[Int(id)]
        else { continue }
        if n != r { newKey[id] = n }
        let parent = Int(node.parent)
        let parentRel = rel[parent] ?? ""
        let parentNew = new[parent] ?? parentRel
        var own = Substring(r)
        if !parentRel.isEmpty, r.hasPrefix(parentRel + ".") {
          own = r.dropFirst(parentRel.count + 1)
        }
        let expected = parentNew.isEmpty ? String(own) : parentNew + "." + own
        if n != expected { arrow[id] = n }
      }
    }
    // Casts, per storage record.
    var castTo: [String: DType] = [:]
    for cast in plan.casts {
      castTo[cast.record] = cast.to
      let after = cast.bytes / Int64(max(1, cast.from.elementSize)) * Int64(cast.to.elementSize)
      bytesSaved += cast.bytes - after
    }
    var codes: [String: Int32] = [:]
    // Bottom up: a container is left out when everything in it is, and counts its casts.
    for id in tree.preorder.reversed() {
      let node = tree[id]
      // A safetensors shard's tensors have no storage record: its plan names them by file
      // and key.
      if node.kind == .tensor, let entry = tree.entry(of: id),
        let record = entry.tensor.storage?.record ?? entry.tensor.allStorages.first?.record
          ?? entry.file.map({ SafetensorsEditPlan.record(file: $0, key: entry.key) }),
        let to = castTo[record]
      {
        let name = to.shortName
        let code: Int32
        if let known = codes[name] {
          code = known
        } else {
          code = Int32(castTargets.count)
          castTargets.append(name)
          codes[name] = code
        }
        castCount[Int(id)] = 1
        castTarget[Int(id)] = code
      }
      if !node.children.isEmpty && node.kind != .root
        && node.children.allSatisfy({ dropped[Int($0)] })
      {
        dropped[Int(id)] = true
      }
      let parent = Int(node.parent)
      if parent >= 0, castCount[Int(id)] > 0 {
        castCount[parent] += castCount[Int(id)]
        castTarget[parent] = TreeBuilder.merge(castTarget[parent], castTarget[Int(id)])
      }
    }
  }

  /// The target name for a cast code.
  public func castName(_ code: Int32) -> String? {
    code >= 0 && Int(code) < castTargets.count ? castTargets[Int(code)] : nil
  }
}
