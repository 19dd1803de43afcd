public import PTViewCore
import PTViewPickle

extension Tree {
  /// Builds the tree of `checkpoint`: its tensors from `entries`, its other values from the
  /// pickle graph, in file order.
  ///
  /// - Parameter valueBudget: the most non-tensor nodes to create; a pickle of a million
  ///   small objects gets a tree of this many and an ellipsis, not a million rows.
  public init(checkpoint: Checkpoint, valueBudget: Int = 100_000) {
    var builder = TreeBuilder(entries: checkpoint.entries)
    builder.graph = checkpoint.root == nil ? nil : checkpoint.graph
    builder.tensorsByNode = checkpoint.tensors
    if let root = checkpoint.root {
      builder.walkValues(
        graph: checkpoint.graph, tensors: checkpoint.tensors, root: root, budget: valueBudget)
    }
    if !checkpoint.metadata.isEmpty {
      let group = builder.ensureGroup(0, "__metadata__")
      for (k, v) in checkpoint.metadata {
        builder.addValue(group, [k], text: "'" + v + "'")
      }
    }
    builder.insertEntries()
    self = builder.finish()
  }
}

extension Tree {
  /// Builds the tree of tensors that come from no one pickle (a folder's merged shards, a
  /// DCP folder's metadata): the dotted keys only.
  public init(entries: [TensorEntry]) {
    var builder = TreeBuilder(entries: entries)
    builder.insertEntries()
    self = builder.finish()
  }
}

/// The mutable state of one build. Separate from `Tree` so that the finished tree has no
/// lookup tables it no longer needs.
struct TreeBuilder {
  struct ChildKey: Hashable {
    var parent: Int32
    var name: String
  }

  var nodes: [Tree.Node] = [Tree.Node(kind: .root, name: "", parent: -1)]
  let entries: [TensorEntry]
  var graph: ValueGraph?
  var tensorsByNode: TensorTable = [:]
  /// Group children by (parent, name).
  var groups: [ChildKey: Int32] = [:]
  /// Value leaves by (parent, name), so a later tensor path through them turns them into groups.
  var values: [ChildKey: Int32] = [:]
  /// Tensor slots made while walking the graph, so tensors keep their place among values.
  var slots: [ChildKey: [Int32]] = [:]
  var removed: Set<Int32> = []

  init(entries: [TensorEntry]) {
    self.entries = entries
    // About one group per two tensors in real checkpoints: reserve once, not per doubling.
    nodes.reserveCapacity(entries.count + entries.count / 2 + 64)
  }

  static func segments(_ component: String) -> [String] {
    // Most components of a big file are plain names or short dotted keys: find the dots
    // in the UTF-8 bytes and cut there.
    var out: [String] = []
    var start = component.utf8.startIndex
    var i = start
    let end = component.utf8.endIndex
    while i < end {
      if component.utf8[i] == UInt8(ascii: ".") {
        out.append(String(component[start..<i]))
        start = component.utf8.index(after: i)
      }
      i = component.utf8.index(after: i)
    }
    if out.isEmpty { return [component] }
    out.append(String(component[start..<end]))
    return out
  }

  mutating func newNode(_ kind: Tree.Kind, _ name: String, parent: Int32) -> Int32 {
    let id = Int32(nodes.count)
    nodes.append(Tree.Node(kind: kind, name: name, parent: parent))
    nodes[Int(parent)].children.append(id)
    return id
  }

  /// The group `name` under `parent`, made if missing; a value leaf of that name becomes a
  /// group that keeps its text as a note (an object whose attributes hold tensors).
  mutating func ensureGroup(_ parent: Int32, _ name: String) -> Int32 {
    let key = ChildKey(parent: parent, name: name)
    if let g = groups[key] { return g }
    if let v = values.removeValue(forKey: key) {
      nodes[Int(v)].kind = .group
      groups[key] = v
      return v
    }
    let g = newNode(.group, name, parent: parent)
    groups[key] = g
    return g
  }

  mutating func ensurePath(_ parent: Int32, _ segments: ArraySlice<String>) -> Int32 {
    var at = parent
    for s in segments { at = ensureGroup(at, s) }
    return at
  }

  mutating func addValue(
    _ parent: Int32, _ segments: [String], text: String = "", source: ValueID? = nil
  ) {
    let at = ensurePath(parent, segments.dropLast())
    let name = segments.last ?? ""
    let id = newNode(.value, name, parent: at)
    nodes[Int(id)].value = text
    nodes[Int(id)].source = source.map(\.index) ?? -1
    values[ChildKey(parent: at, name: name)] = id
  }

  /// Walks dicts, lists and tuples from the root, making groups, tensor slots and value leaves.
  mutating func walkValues(
    graph: ValueGraph, tensors: TensorTable, root: ValueID, budget: Int
  ) {
    let text = ValueText(graph: graph, tensors: tensors)
    var made = 0
    var opened: Set<ValueID> = [root]
    // Each container's items are read once, when it is found, and carried on the stack.
    var work: [(Int32, [(ValueID, ValueID?)])] = []
    if tensors[root] != nil { return }
    if let pairs = graph.dictItems(root) {
      work.append((0, pairs.map { ($0.value, $0.key) }))
    } else if let seq = graph.sequence(root) {
      work.append((0, seq.map { ($0, nil) }))
    } else {
      // A whole pickled module or an object at the root: say what it is.
      nodes[0].source = root.index
      return
    }
    while let (at, raw) = work.popLast() {
      // A container of tensors only (a state_dict, an optimizer slot) needs nothing from
      // this walk: the entries put its tensors in the same order. Slots are made only where
      // tensors and other values share a container, to keep them interleaved as in the file.
      if raw.allSatisfy({ tensors[$0.0] != nil }) { continue }
      for (index, (value, keyNode)) in raw.enumerated() {
        let key = keyNode.map { graph.keyText($0) } ?? String(index)
        if made >= budget {
          if made == budget { addValue(at, ["…"], text: "(more values not shown)") }
          made += 1
          break
        }
        made += 1
        let segments = TreeBuilder.segments(key)
        if tensors[value] != nil {
          let parent = ensurePath(at, segments.dropLast())
          let name = segments.last ?? ""
          let slot = newNode(.tensor, name, parent: parent)
          slots[ChildKey(parent: parent, name: name), default: []].append(slot)
          continue
        }
        // A plain dict of tensors only (an optimizer slot): a group, with nothing to walk.
        if case .dict(let c) = graph[value] {
          let raw = graph.container(c)
          if raw.count >= 2,
            stride(from: 1, to: raw.count, by: 2).allSatisfy({ tensors[raw[$0]] != nil })
          {
            let group = ensurePath(at, segments[...])
            nodes[Int(group)].source = value.index
            continue
          }
        }
        let isModule = ModuleTree(graph: graph, node: value) != nil
        let pairs = isModule ? nil : graph.dictItems(value)
        let seq = graph.sequence(value)
        let openable =
          (pairs.map { !$0.isEmpty } ?? false)
          || (seq.map { !$0.isEmpty && !$0.allSatisfy(text.isScalar) } ?? false)
        if openable {
          let group = ensurePath(at, segments[...])
          nodes[Int(group)].source = value.index
          if opened.insert(value).inserted {
            work.append(
              (group, pairs.map { $0.map { ($0.value, $0.key) } } ?? (seq ?? []).map { ($0, nil) }))
          }
        } else if isModule {
          let group = ensurePath(at, segments[...])
          nodes[Int(group)].suffix = text.inline(value)
          nodes[Int(group)].module = value.index
        } else {
          addValue(at, segments, source: value)
        }
      }
      // Depth-first keeps children of one parent together; order among parents is irrelevant.
    }
  }

  /// Puts every tensor entry at its path, into the slot the graph walk made when there is one.
  ///
  /// Entries come in walk order, so neighbours share most of their path: the groups of the
  /// previous entry's path are reused for the common prefix instead of being looked up again.
  mutating func insertEntries() {
    var segments: [String] = []
    var previous: [String] = []
    var groups: [Int32] = []
    for (i, entry) in entries.enumerated() {
      segments.removeAll(keepingCapacity: true)
      for component in entry.path { segments += TreeBuilder.segments(component) }
      if segments.isEmpty { segments = ["tensor"] }
      let folders = segments.count - 1
      var common = 0
      while common < folders && common < previous.count && common < groups.count
        && previous[common] == segments[common]
      {
        common += 1
      }
      groups.removeLast(groups.count - common)
      var parent: Int32 = common == 0 ? 0 : groups[common - 1]
      for s in segments[common..<folders] {
        parent = ensureGroup(parent, s)
        groups.append(parent)
      }
      let name = segments[folders]
      let id: Int32
      if !slots.isEmpty, var waiting = slots[ChildKey(parent: parent, name: name)], !waiting.isEmpty
      {
        id = waiting.removeFirst()
        slots[ChildKey(parent: parent, name: name)] = waiting
      } else {
        id = newNode(.tensor, name, parent: parent)
      }
      nodes[Int(id)].entry = Int32(i)
      swap(&previous, &segments)
    }
    // Slots no entry claimed (a walker budget ran out): drop them rather than show blanks.
    for waiting in slots.values { for id in waiting { removed.insert(id) } }
  }

  /// Folds numbered runs, then computes keys, labels, depths, order and totals.
  mutating func finish() -> Tree {
    if !removed.isEmpty {
      for i in nodes.indices { nodes[i].children.removeAll { removed.contains($0) } }
    }
    fold()
    let (preorder, preIndex, size) = layoutNodes()
    var devices: [String] = []
    var deviceCodes: [String: Int32] = [:]
    var dtypes: [String] = []
    var dtypeCodes: [String: Int32] = [:]
    var entryNode = Array(repeating: Int32(-1), count: entries.count)
    var storageUsers: [String: [Int32]] = [:]
    storageUsers.reserveCapacity(entries.count)
    for i in entries.indices {
      if let record = entries[i].tensor.storage?.record, entries[i].tensor.components.isEmpty {
        storageUsers[record, default: []].append(Int32(i))
      } else {
        for storage in entries[i].tensor.allStorages {
          storageUsers[storage.record, default: []].append(Int32(i))
        }
      }
    }
    // Codes for devices and dtypes; consecutive tensors usually repeat both, so the last
    // one is checked before hashing.
    var lastDevice = ("", Int32(-1))
    var lastDType = ("", Int32(-1))
    for id in nodes.indices where nodes[id].kind == .tensor {
      let e = Int(nodes[id].entry)
      guard e >= 0, e < entries.count else { continue }
      entryNode[e] = Int32(id)
      nodes[id].tensors = 1
      nodes[id].bytes = entries[e].tensor.nbytes
      nodes[id].elements = entries[e].tensor.numel
      let device = entries[e].tensor.device
      if lastDevice.1 < 0 || device != lastDevice.0 {
        if let code = deviceCodes[device] {
          lastDevice = (device, code)
        } else {
          lastDevice = (device, Int32(devices.count))
          devices.append(device)
          deviceCodes[device] = lastDevice.1
        }
      }
      nodes[id].device = lastDevice.1
      let dtype = entries[e].tensor.dtype.shortName
      if lastDType.1 < 0 || dtype != lastDType.0 {
        if let code = dtypeCodes[dtype] {
          lastDType = (dtype, code)
        } else {
          lastDType = (dtype, Int32(dtypes.count))
          dtypes.append(dtype)
          dtypeCodes[dtype] = lastDType.1
        }
      }
      nodes[id].dtype = lastDType.1
    }
    // Children follow their parent in preorder, so a reverse sweep adds each subtree up once.
    for id in preorder.reversed() {
      let node = nodes[Int(id)]
      let parent = Int(node.parent)
      guard parent >= 0 else { continue }
      nodes[parent].tensors += node.tensors
      nodes[parent].bytes = TreeBuilder.add(nodes[parent].bytes, node.bytes)
      nodes[parent].elements = TreeBuilder.add(nodes[parent].elements, node.elements)
      nodes[parent].device = TreeBuilder.merge(nodes[parent].device, node.device)
      nodes[parent].dtype = TreeBuilder.merge(nodes[parent].dtype, node.dtype)
    }
    return Tree(
      nodes: nodes, entries: entries, entryNode: entryNode, devices: devices, dtypes: dtypes,
      preorder: preorder, preIndex: preIndex, subtreeSize: size, storageUsers: storageUsers,
      graph: graph, tensorsByNode: tensorsByNode)
  }

  /// A sum that saturates instead of trapping on absurd sizes from a hostile file.
  static func add(_ a: Int64, _ b: Int64) -> Int64 {
    let (sum, overflow) = a.addingReportingOverflow(b)
    return overflow ? Int64.max : sum
  }

  /// The code a container shows for its children's codes: the shared one, or mixed.
  static func merge(_ a: Int32, _ b: Int32) -> Int32 {
    if b == Tree.none { return a }
    if a == Tree.none { return b }
    return a == b ? a : Tree.mixed
  }

  /// The number at the end of a name and what comes before it (`layer12` -> (`layer`, 12)).
  static func numbered(_ name: String) -> (prefix: Substring, number: Int)? {
    let digits = name.utf8.reversed().prefix { $0 >= 48 && $0 <= 57 }.count
    guard digits > 0, digits <= 9 else { return nil }
    let cut = name.utf8.index(name.utf8.endIndex, offsetBy: -digits)
    guard let number = Int(name[cut...]) else { return nil }
    return (name[..<cut], number)
  }

  /// Marks all-numbered groups as indexed and wraps other runs of numbered siblings in run
  /// nodes: ModuleLists and optimizer states (3 or more) and `layer0 … layerN` (8 or more).
  mutating func fold() {
    let count = nodes.count
    for id in 0..<count {
      let node = nodes[id]
      guard node.kind == .group || node.kind == .root, node.children.count >= 3 else { continue }
      let parsed = node.children.map { TreeBuilder.numbered(nodes[Int($0)].name) }
      if node.kind == .group, parsed.allSatisfy({ $0 != nil && $0?.prefix.isEmpty == true }) {
        nodes[id].indexed = true
        continue
      }
      var children: [Int32] = []
      var i = 0
      while i < parsed.count {
        guard let head = parsed[i] else {
          children.append(node.children[i])
          i += 1
          continue
        }
        var j = i + 1
        while j < parsed.count, let next = parsed[j], next.prefix == head.prefix { j += 1 }
        let length = j - i
        let minimum = head.prefix.isEmpty ? 3 : 8
        if length >= minimum && length < parsed.count {
          let run = Int32(nodes.count)
          var runNode = Tree.Node(kind: .run, name: "", parent: Int32(id))
          runNode.children = Array(node.children[i..<j])
          let first = nodes[Int(node.children[i])].name
          let last = nodes[Int(node.children[j - 1])].name
          runNode.label = first + " … " + last
          runNode.suffix = "(\(length)×)"
          nodes.append(runNode)
          for child in node.children[i..<j] { nodes[Int(child)].parent = run }
          children.append(run)
        } else if length >= minimum && node.kind == .root {
          // Every top-level key is numbered: fold under a run so the first screen stays short.
          let run = Int32(nodes.count)
          var runNode = Tree.Node(kind: .run, name: "", parent: Int32(id))
          runNode.children = node.children
          runNode.label =
            nodes[Int(node.children[0])].name + " … " + nodes[Int(node.children[j - 1])].name
          runNode.suffix = "(\(length)×)"
          nodes.append(runNode)
          for child in node.children { nodes[Int(child)].parent = run }
          children.append(run)
        } else {
          children.append(contentsOf: node.children[i..<j])
        }
        i = j
      }
      nodes[id].children = children
    }
  }

  /// Depth-first pass: preorder, depth, keys and row labels.
  mutating func layoutNodes() -> (preorder: [Int32], preIndex: [Int32], size: [Int32]) {
    var preorder: [Int32] = []
    preorder.reserveCapacity(nodes.count)
    var preIndex = Array(repeating: Int32(0), count: nodes.count)
    var size = Array(repeating: Int32(1), count: nodes.count)
    nodes[0].depth = -1
    var work: [Int32] = [0]
    while let id = work.popLast() {
      preIndex[Int(id)] = Int32(preorder.count)
      preorder.append(id)
      let children = nodes[Int(id)].children
      for child in children.reversed() { work.append(child) }
      let depth = nodes[Int(id)].depth
      let key = nodes[Int(id)].key
      let parentName = nodes[Int(id)].name
      let indexed = nodes[Int(id)].indexed
      for child in children {
        let c = Int(child)
        nodes[c].depth = depth + 1
        let name = nodes[c].name
        let shown = name.isEmpty ? "''" : name
        let kind = nodes[c].kind
        nodes[c].key = kind == .run ? key : key.isEmpty ? name : key + "." + name
        let label = indexed ? (parentName.isEmpty ? "" : parentName + ".") + shown : shown
        switch kind {
        case .value, .tensor:
          nodes[c].label = label
        case .group:
          if nodes[c].indexed, let first = nodes[c].children.first,
            let last = nodes[c].children.last
          {
            nodes[c].label =
              label + "." + nodes[Int(first)].name + " … " + label + "." + nodes[Int(last)].name
            nodes[c].suffix = "(\(nodes[c].children.count)×)"
          } else {
            nodes[c].label = label
          }
        case .run, .root:
          break
        }
      }
    }
    // Subtree sizes: children come after their parent in preorder, so a reverse sweep works.
    for id in preorder.reversed() {
      let parent = nodes[Int(id)].parent
      if parent >= 0 { size[Int(parent)] += size[Int(id)] }
    }
    return (preorder, preIndex, size)
  }
}
