public import PTViewCore
public import PTViewPickle

/// Applies edits to a copy of a checkpoint's graph and says which node is the new root.
///
/// Storage moves replace the location *inside each pid* with a fresh string, never the string
/// node itself: that node may be shared with user values such as `{'device': 'cpu'}`
/// (torch-format.md §10.1). Renamed keys get fresh strings for the same reason. Containers
/// are rebuilt in place (the node keeps its id), so every reference to an edited dict sees the
/// edit, as it would in Python.
public enum GraphEditor {
  /// The edited graph and the object `torch.load` will return from it.
  public struct Result: Sendable {
    /// The graph with the edits applied.
    public var graph: ValueGraph
    /// The root to encode (the input's root unless an edit chose another).
    public var root: ValueID?
  }

  /// The edited graph (the root is the checkpoint's, unless an edit chose another).
  public static func apply(_ edits: [Edit], to checkpoint: Checkpoint) -> ValueGraph {
    edit(edits, checkpoint).graph
  }

  /// Applies `edits` to `checkpoint`'s graph.
  public static func edit(_ edits: [Edit], _ checkpoint: Checkpoint) -> Result {
    edit(edits, checkpoint, graph: checkpoint.graph)
  }

  /// Applies `edits` to `graph` (the checkpoint's, or a copy the planner already edited).
  /// Node ids are deterministic: the same edits on the same graph add the same nodes, which
  /// is what lets the planner name containers of a state_dict it has only planned.
  static func edit(_ edits: [Edit], _ checkpoint: Checkpoint, graph base: ValueGraph) -> Result {
    var graph = base
    var root = checkpoint.root
    var moves: [String: String] = [:]
    var casts: [String: DType] = [:]
    var castFrom: [String: DType] = [:]
    var arguments: [ValueID: String] = [:]
    var containerEdits: [ValueID: (renames: [Int: String], drops: Set<Int>)] = [:]
    var containerOrder: [ValueID] = []
    func touch(_ container: ValueID) {
      if containerEdits[container] == nil {
        containerEdits[container] = ([:], [])
        containerOrder.append(container)
      }
    }
    for edit in edits {
      switch edit {
      case .moveStorage(let record, let to): moves[record] = to
      case .setDeviceArgument(let node, let to): arguments[node] = to
      case .castStorage(let record, let from, let to):
        casts[record] = to
        castFrom[record] = from
      case .newRoot(let node): root = node
      case .newStateDict(let items):
        root = makeOrderedDict(items, in: &graph, at: root.map { graph.offset(of: $0) } ?? 0)
      case .renameKey(let container, let item, let to):
        touch(container)
        containerEdits[container]!.renames[item] = to
      case .dropItem(let container, let item):
        touch(container)
        containerEdits[container]!.drops.insert(item)
      case .rewriteCode: break
      }
    }
    for container in containerOrder {
      let change = containerEdits[container]!
      rebuild(container, renames: change.renames, drops: change.drops, in: &graph)
    }
    if !moves.isEmpty || !casts.isEmpty {
      for ref in checkpoint.storageReferences {
        let target = moves[ref.record]
        let cast = casts[ref.record]
        guard target != nil || cast != nil, case .persistentID(let tuple) = graph[ref.pidNode],
          var fields = graph.sequence(tuple), fields.count > 3
        else { continue }
        if let target {
          fields[3] = graph.addString(target, at: graph.offset(of: fields[3]))
        }
        if let cast, let storageClass = cast.storageClass {
          // A typed storage of the new dtype: torch byte-swaps typed storages of big-endian
          // files on load, which it cannot do for the UntypedStorage float8 tensors are
          // pickled with. Its count is in elements; `_rebuild_tensor_v3` calls also name the
          // dtype, changed below.
          fields[1] = graph.addGlobal(
            module: "torch", name: storageClass, at: graph.offset(of: fields[1]))
          if ref.storageDType == .untyped, fields.count > 4, let from = castFrom[ref.record],
            let bytes = graph.int(fields[4])
          {
            fields[4] = graph.add(
              .int(bytes / Int64(from.elementSize)), at: graph.offset(of: fields[4]))
          }
        }
        let replacement = graph.addTuple(fields, at: graph.offset(of: tuple))
        graph.replace(ref.pidNode, with: .persistentID(replacement))
      }
    }
    if !casts.isEmpty {
      for tensor in checkpoint.tensors.values {
        guard let record = tensor.storage?.record, let cast = casts[record],
          tensor.rebuild == "_rebuild_tensor_v3", let call = tensor.node,
          case .object(let index) = graph[call]
        else { continue }
        let argsNode = graph.construction(index).args
        guard var args = graph.sequence(argsNode), args.count > 6 else { continue }
        args[6] = graph.addGlobal(module: "torch", name: cast.name, at: graph.offset(of: args[6]))
        graph.replace(argsNode, with: .tuple(graph.store(ids: args)))
      }
    }
    if !arguments.isEmpty {
      for tensor in checkpoint.tensors.values {
        guard let node = tensor.deviceNode, let target = arguments[node], let call = tensor.node,
          case .object(let index) = graph[call]
        else { continue }
        let argsNode = graph.construction(index).args
        guard var args = graph.sequence(argsNode), let position = args.firstIndex(of: node) else {
          continue
        }
        args[position] = graph.addString(target, at: graph.offset(of: node))
        graph.replace(argsNode, with: .tuple(graph.store(ids: args)))
      }
    }
    return Result(graph: graph, root: root)
  }

  /// A `collections.OrderedDict()` filled with `items` (and `_metadata`, as torch's
  /// state_dicts carry it), as `torch.save` pickles one.
  static func makeOrderedDict(_ items: StateDictItems, in graph: inout ValueGraph, at offset: Int)
    -> ValueID
  {
    let callee = graph.addGlobal(module: "collections", name: "OrderedDict", at: offset)
    let args = graph.addTuple([], at: offset)
    let node = graph.addObject(.reduce(callable: callee, args: args), at: offset)
    var detached: [ValueID: ValueID] = [:]
    for item in items.items {
      var value = item.value
      if item.detach {
        if let done = detached[value] {
          value = done
        } else {
          value = detachedCopy(of: item.value, in: &graph)
          detached[item.value] = value
        }
      }
      graph.mutate(node, .setItem(key: graph.addString(item.key, at: offset), value: value))
    }
    if let metadata = items.metadata {
      let container = graph.newContainer([graph.addString("_metadata", at: offset), metadata])
      graph.mutate(node, .build(graph.add(.dict(container), at: offset)))
    }
    return node
  }

  /// The same `_rebuild_tensor_v2/v3` call with `requires_grad` false (a new call node, so
  /// the module's own tensor is untouched).
  static func detachedCopy(of call: ValueID, in graph: inout ValueGraph) -> ValueID {
    guard case .object(let index) = graph[call] else { return call }
    let construction = graph.construction(index)
    guard case .reduce(let callee, let argsNode) = construction,
      var args = graph.sequence(argsNode), args.count > 4, graph[args[4]] == .bool(true)
    else { return call }
    let offset = graph.offset(of: call)
    args[4] = graph.add(.bool(false), at: graph.offset(of: args[4]))
    let newArgs = graph.addTuple(args, at: graph.offset(of: argsNode))
    return graph.addObject(.reduce(callable: callee, args: newArgs), at: offset)
  }

  /// Replaces `container`'s contents with its items renamed and dropped as asked.
  private static func rebuild(
    _ container: ValueID, renames: [Int: String], drops: Set<Int>, in graph: inout ValueGraph
  ) {
    let offset = graph.offset(of: container)
    if let items = graph.dictItems(container) {
      var kept: [(ValueID, ValueID)] = []
      for (i, item) in items.enumerated() where !drops.contains(i) {
        let key = renames[i].map { graph.addString($0, at: graph.offset(of: item.key)) } ?? item.key
        kept.append((key, item.value))
      }
      switch graph[container] {
      case .dict:
        let index = graph.newContainer(kept.flatMap { [$0.0, $0.1] })
        graph.replace(container, with: .dict(index))
      case .object(let index):
        // A dict-like object: the same class, its items as SETITEMs (a defaultdict keeps its
        // factory argument), its other mutations (BUILD of `_metadata`) after them.
        let construction = graph.construction(index)
        var args: [ValueID] = []
        if graph.globalName(construction.callee) == "collections.defaultdict",
          let first = graph.sequence(construction.args)?.first
        {
          args = [first]
        }
        let argsNode = graph.addTuple(args, at: offset)
        let fresh = graph.addObject(
          .reduce(callable: construction.callee, args: argsNode), at: offset)
        guard case .object(let freshIndex) = graph[fresh] else { return }
        var mutations: [Mutation] = kept.map { .setItem(key: $0.0, value: $0.1) }
        for mutation in graph.mutations(of: container) {
          if case .setItem = mutation { continue }
          mutations.append(mutation)
        }
        graph.replace(container, with: .object(freshIndex))
        graph.setMutations(of: container, mutations)
      default:
        return
      }
      return
    }
    guard let elements = graph.sequence(container) else { return }
    let kept = elements.enumerated().filter { !drops.contains($0.offset) }.map(\.element)
    switch graph[container] {
    case .list: graph.replace(container, with: .list(graph.newContainer(kept)))
    case .tuple: graph.replace(container, with: .tuple(graph.store(ids: kept)))
    default: return
    }
  }
}
