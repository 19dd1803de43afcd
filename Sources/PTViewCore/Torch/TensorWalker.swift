public import PTViewPickle

/// Finds every path from the root to each tensor: dict keys and sequence indices, and for
/// pickled `nn.Module`s the keys `state_dict()` would give.
///
/// The walk is iterative (depth comes from the input) and cycle-safe. A tensor reachable
/// under two keys appears once per path, but shared containers are expanded again only
/// within a budget, so an exponentially shared structure stays linear to list.
public struct TensorWalker: Sendable {
  /// The graph.
  public let graph: ValueGraph
  /// Tensors by node, from `TorchInterpreter` (empty when walking by `isTensor` alone).
  public let tensors: TensorTable
  /// Which nodes are tensors: the table's nodes, or a structural guess (see `rows`).
  private let isTensor: @Sendable (ValueID) -> Bool
  /// Rows the walk may produce before it stops expanding shared containers.
  private let maxRows: Int
  /// Rows a file without shared tensors produces (one per tensor).
  private let expectedRows: Int
  /// How many node visits the walk may make beyond one per node.
  public var extraVisitBudget = 500_000

  /// Creates a walker over the tensors of `tensors`.
  public init(graph: ValueGraph, tensors: TensorTable) {
    self.graph = graph
    self.tensors = tensors
    self.isTensor = { [tensors] in tensors.contains($0) }
    // Shared tensors are listed once per path, but a hostile graph can reach one tensor through
    // astronomically many paths: past this many rows the walk stops sharing.
    maxRows = 10 * tensors.count + 100_000
    expectedRows = tensors.count
  }

  /// Creates a walker that takes the nodes `isTensor` accepts for tensors, before any tensor
  /// is interpreted: its `rows` can be computed while the interpreter runs, and joined with
  /// the table afterwards. `candidates` is how many nodes `isTensor` accepts. The rows stop
  /// (`truncatedSharing`) well before a table walk's bound: a file that shares tensors that
  /// much is walked again over the table, under the table walk's own bounds, so guessing
  /// never costs more memory than the plain walk would.
  public init(
    graph: ValueGraph, candidates: Int, isTensor: @escaping @Sendable (ValueID) -> Bool
  ) {
    self.graph = graph
    self.tensors = [:]
    self.isTensor = isTensor
    maxRows = 2 * candidates + 100_000
    expectedRows = candidates
  }

  /// A tensor's path, before its `TensorInfo` is attached.
  public struct Row: Sendable {
    /// Dict keys and sequence indices from the root.
    public var path: [String]
    /// The tensor's node.
    public var node: ValueID
    /// False for non-persistent buffers.
    public var inStateDict: Bool
  }

  /// The rows of a walk, and whether the row budget ran out.
  public struct Rows: Sendable {
    /// Tensor paths in walk order.
    public var rows: [Row]
    /// True when shared containers were listed only at their first path.
    public var truncatedSharing: Bool

    /// The entries these rows make with `table`, or nil when some row's node is not a tensor
    /// of the table (the structural guess was wrong, so the walk must be redone with the
    /// table to descend where a real walk would).
    public func entries(with table: TensorTable) -> [TensorEntry]? {
      var out: [TensorEntry] = []
      out.reserveCapacity(rows.count)
      for row in rows {
        guard let tensor = table[row.node] else { return nil }
        out.append(TensorEntry(path: row.path, tensor: tensor, inStateDict: row.inStateDict))
      }
      return out
    }
  }

  /// The result of a walk.
  public struct Result: Sendable {
    /// Tensor rows in walk order.
    public var entries: [TensorEntry]
    /// True when the budget ran out and shared containers were listed only at their first path.
    public var truncatedSharing: Bool
  }

  private enum Step {
    case enter(ValueID, path: Int32)
    case leave(ValueID)
  }

  /// One step of a path: how to name it is decided only when a tensor below needs the name,
  /// so walking past thousands of containers builds no strings and no arrays.
  private enum Key {
    case same
    case node(ValueID)
    case index(Int)
    case text(String)
  }

  /// Paths as a tree of steps: `(parent, key)`, node 0 being `prefix` itself.
  private struct Paths {
    var parent: [Int32] = [-1]
    var key: [Key] = [.same]
    let prefix: [String]
    /// The strings of the last container asked for: the tensors of one container are listed
    /// one after another, so they share one materialized parent path.
    var last: (node: Int32, strings: [String]) = (0, [])

    init(prefix: [String]) {
      self.prefix = prefix
      last = (0, prefix)
    }

    mutating func child(of parent: Int32, _ key: Key) -> Int32 {
      if case .same = key { return parent }
      self.parent.append(parent)
      self.key.append(key)
      return Int32(self.parent.count - 1)
    }

    func text(_ key: Key, graph: ValueGraph) -> String? {
      switch key {
      case .same: nil
      case .node(let id): graph.keyText(id)
      case .index(let n): String(n)
      case .text(let t): t
      }
    }

    /// The path of a node, plus `extra` when given.
    mutating func strings(_ node: Int32, graph: ValueGraph, extra: String? = nil) -> [String] {
      var out = containerStrings(node == 0 ? 0 : parent[Int(node)], graph: graph)
      if node != 0, let t = text(key[Int(node)], graph: graph) { out.append(t) }
      if let extra { out.append(extra) }
      return out
    }

    private mutating func containerStrings(_ node: Int32, graph: ValueGraph) -> [String] {
      if node == last.node { return last.strings }
      var reversed: [String] = []
      var i = node
      while i > 0 {
        if let t = text(key[Int(i)], graph: graph) { reversed.append(t) }
        i = parent[Int(i)]
      }
      last = (node, prefix + reversed.reversed())
      return last.strings
    }
  }

  /// Walks from `root`, prefixing every path with `prefix`.
  public func walk(from root: ValueID, prefix: [String] = []) -> Result {
    let found = rows(from: root, prefix: prefix)
    var entries: [TensorEntry] = []
    entries.reserveCapacity(found.rows.count)
    for row in found.rows {
      guard let tensor = tensors[row.node] else { continue }
      entries.append(TensorEntry(path: row.path, tensor: tensor, inStateDict: row.inStateDict))
    }
    return Result(entries: entries, truncatedSharing: found.truncatedSharing)
  }

  /// The path of every tensor below `root` (as `isTensor` decides), prefixed with `prefix`.
  public func rows(from root: ValueID, prefix: [String] = []) -> Rows {
    var entries: [Row] = []
    entries.reserveCapacity(min(expectedRows, 1 << 20))
    // Per-node flags in plain arrays (bit 0: on the current path; bit 1: expanded before):
    // cheaper than hashing node ids into sets on every step.
    var flags = [UInt8](repeating: 0, count: graph.count)
    var visits = 0
    var budgetSpent = false
    var paths = Paths(prefix: prefix)
    var work: [Step] = [.enter(root, path: 0)]
    var children: [(ValueID, Key)] = []
    let limit = graph.count + extraVisitBudget
    while let step = work.popLast() {
      if entries.count >= maxRows {
        budgetSpent = true
        break
      }
      switch step {
      case .leave(let id):
        flags[Int(id.index)] &= ~1
      case .enter(let id, let path):
        let i = Int(id.index)
        guard i >= 0, i < flags.count else { continue }
        if isTensor(id) {
          entries.append(Row(path: paths.strings(path, graph: graph), node: id, inStateDict: true))
          continue
        }
        guard flags[i] & 1 == 0 else { continue }
        visits += 1
        if flags[i] & 2 != 0 && visits > limit {
          budgetSpent = true
          continue
        }
        children.removeAll(keepingCapacity: true)
        self.children(of: id, path: path, paths: &paths, into: &children, entries: &entries)
        // Expanded, even when nothing below is worth a step: a shared container of scalars
        // counts against the budget like any other.
        flags[i] |= 2
        if children.isEmpty { continue }
        flags[i] |= 1
        work.append(.leave(id))
        for (child, key) in children.reversed() {
          work.append(.enter(child, path: paths.child(of: path, key)))
        }
      }
    }
    return Rows(rows: entries, truncatedSharing: budgetSpent)
  }

  /// Whether a node can be or hold a tensor (scalars and strings are not worth a step).
  private func worthVisiting(_ id: ValueID) -> Bool {
    isTensor(id) || isContainerish(id)
  }

  /// The children worth descending into, with their keys. Module state-dict tensors are
  /// emitted directly into `entries`.
  private func children(
    of id: ValueID, path: Int32, paths: inout Paths, into out: inout [(ValueID, Key)],
    entries: inout [Row]
  ) {
    func sequence<C: Collection<ValueID>>(_ items: C) {
      for (i, item) in items.enumerated() where worthVisiting(item) {
        out.append((item, .index(i)))
      }
    }
    switch graph[id] {
    case .dict:
      for item in graph.dictItems(id) ?? [] where worthVisiting(item.value) {
        out.append((item.value, .node(item.key)))
      }
    case .list(let c), .set(let c):
      sequence(graph.container(c))
    case .tuple(let s), .frozenset(let s):
      sequence(graph.ids(s))
    case .object:
      if let items = graph.dictItems(id) {
        for item in items where worthVisiting(item.value) {
          out.append((item.value, .node(item.key)))
        }
        return
      }
      if let module = ModuleTree(graph: graph, node: id) {
        for (key, tensorNode, persistent) in module.stateDict() where isTensor(tensorNode) {
          entries.append(
            Row(
              path: paths.strings(path, graph: graph, extra: key), node: tensorNode,
              inStateDict: persistent))
        }
        for attribute in module.otherAttributes() {
          out.append((attribute.value, .text(attribute.key)))
        }
        return
      }
      genericChildren(of: id, into: &out)
    default:
      return
    }
  }

  /// Children of an object we know nothing about: its BUILD state, SETITEMs and APPENDs.
  private func genericChildren(of id: ValueID, into out: inout [(ValueID, Key)]) {
    var appended = 0
    for mutation in graph.mutations(of: id) {
      switch mutation {
      case .build(let state):
        if let items = graph.dictItems(state) {
          for item in items where worthVisiting(item.value) {
            out.append((item.value, .node(item.key)))
          }
        } else if let parts = graph.sequence(state), parts.count == 2 {
          // (state dict, slot state dict)
          for part in parts {
            for item in graph.dictItems(part) ?? [] where worthVisiting(item.value) {
              out.append((item.value, .node(item.key)))
            }
          }
        } else {
          out.append((state, .same))
        }
      case .setItem(let k, let v):
        if worthVisiting(v) { out.append((v, .node(k))) }
      case .append(let v), .add(let v):
        if worthVisiting(v) { out.append((v, .index(appended))) }
        appended += 1
      }
    }
    // Arguments of unknown calls can hold tensors too (namedtuples, custom reducers).
    if case .object(let index) = graph[id],
      let args = graph.sequence(graph.construction(index).args)
    {
      for (i, arg) in args.enumerated() where isContainerish(arg) {
        out.append((arg, .index(i)))
      }
    }
  }

  private func isContainerish(_ id: ValueID) -> Bool {
    switch graph[id] {
    case .dict, .list, .tuple, .object, .set, .frozenset: true
    default: false
    }
  }
}

/// A pickled `torch.nn.Module`: an object whose BUILD state has `_parameters` and `_modules`.
public struct ModuleTree: Sendable {
  let graph: ValueGraph
  /// The module object node.
  public let node: ValueID
  let state: ValueID

  /// Recognises a module object; nil for anything else.
  public init?(graph: ValueGraph, node: ValueID) {
    guard case .object = graph[node], let state = graph.buildState(node),
      graph.lookup(state, "_parameters") != nil, graph.lookup(state, "_modules") != nil
    else { return nil }
    self.graph = graph
    self.node = node
    self.state = state
  }

  /// The module's class (`__main__.Net`).
  public var className: String? {
    guard case .object(let index) = graph[node] else { return nil }
    let construction = graph.construction(index)
    if let name = graph.globalName(construction.callee), name != "copyreg._reconstructor" {
      return name
    }
    // Protocol 0/1: copyreg._reconstructor(cls, object, None).
    if let args = graph.sequence(construction.args), let first = args.first {
      return graph.globalName(first)
    }
    return nil
  }

  /// `(key, tensor node, persistent)` in `state_dict()` order: own parameters, own buffers,
  /// then each submodule's, recursively. Non-persistent buffers come with `persistent` false.
  public func stateDict() -> [(String, ValueID, Bool)] {
    var out: [(String, ValueID, Bool)] = []
    var work: [(ModuleTree, String)] = [(self, "")]
    var seen: Set<ValueID> = []
    while let (module, prefix) = work.popLast() {
      guard seen.insert(module.node).inserted, seen.count < 1_000_000 else { continue }
      if let params = graph.lookup(module.state, "_parameters"), let items = graph.dictItems(params)
      {
        for (k, v) in items where graph[v] != .none {
          out.append((prefix + graph.keyText(k), v, true))
        }
      }
      let nonPersistent = Set(
        (graph.lookup(module.state, "_non_persistent_buffers_set").flatMap { graph.setElements($0) }
          ?? [])
          .compactMap { graph.string($0) })
      if let buffers = graph.lookup(module.state, "_buffers"), let items = graph.dictItems(buffers)
      {
        for (k, v) in items where graph[v] != .none {
          let name = graph.keyText(k)
          out.append((prefix + name, v, !nonPersistent.contains(name)))
        }
      }
      var subs: [(ModuleTree, String)] = []
      if let modules = graph.lookup(module.state, "_modules"), let items = graph.dictItems(modules)
      {
        for (k, v) in items {
          if let sub = ModuleTree(graph: graph, node: v) {
            subs.append((sub, prefix + graph.keyText(k) + "."))
          }
        }
      }
      work.append(contentsOf: subs.reversed())
    }
    return out
  }

  /// Attributes other than the module machinery (they may hold more tensors or containers).
  public func otherAttributes() -> [(key: String, value: ValueID)] {
    let machinery: Set<String> = [
      "_parameters", "_buffers", "_modules", "_non_persistent_buffers_set", "training",
      "_backward_hooks", "_backward_pre_hooks", "_forward_hooks", "_forward_hooks_with_kwargs",
      "_forward_hooks_always_called", "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs",
      "_state_dict_hooks", "_state_dict_pre_hooks", "_load_state_dict_pre_hooks",
      "_load_state_dict_post_hooks", "_is_full_backward_hook",
    ]
    return (graph.dictItems(state) ?? []).compactMap { item in
      let key = graph.keyText(item.key)
      guard !machinery.contains(key) else { return nil }
      switch graph[item.value] {
      case .dict, .list, .tuple, .object: return (key, item.value)
      default: return nil
      }
    }
  }
}
