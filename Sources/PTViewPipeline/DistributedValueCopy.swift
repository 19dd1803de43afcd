import PTViewCore
import PTViewPickle

/// Copies a pickled value DCP saved (a tuple, list or dict that may hold tensors) from its own
/// torch.save archive into the archive `distributedArchive` lays out, so the tensors inside
/// it are read (stats, cat, diff) and written (export) like every other tensor.
///
/// What is copied is what torch.save writes for plain containers and tensors: None, bools,
/// numbers, str, bytes, tuples, lists, dicts, and objects made by calling one of a few torch
/// rebuild functions or `collections.OrderedDict` (the tensors' hooks), with storages as
/// persistent ids. Anything else (a set, a class of the user's) makes the copy give up
/// (nil): ptview never re-creates what it cannot name. Each storage the value reads gets a
/// new record number, handed out in the order the copy meets them; `records` lists the
/// input records in that order, for the caller to lay out.
struct DistributedValueCopy {
  /// The value's graph.
  let source: ValueGraph
  /// The input record each persistent id node names (`Checkpoint.storageReferences`).
  let recordOfPID: [ValueID: String]
  /// The first record number the copy may use.
  let firstRecord: Int
  /// Input records in the order they got their numbers (`firstRecord`, `firstRecord + 1`...).
  private(set) var records: [String] = []
  private var numbers: [String: Int] = [:]
  /// Nodes already copied: shared values stay shared (a view and its base tensor).
  private var copied: [ValueID: ValueID] = [:]

  init(_ saved: Checkpoint, firstRecord: Int) {
    source = saved.graph
    var map: [ValueID: String] = [:]
    for ref in saved.storageReferences { map[ref.pidNode] = ref.record }
    recordOfPID = map
    self.firstRecord = firstRecord
  }

  /// Globals a copied object may be made from, and the classes a storage may be.
  static func allowed(_ name: String) -> Bool {
    switch name {
    case "collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
      "torch._utils._rebuild_tensor_v3", "torch._utils._rebuild_parameter",
      "torch.storage.UntypedStorage", "torch.Size":
      return true
    default:
      guard name.hasPrefix("torch."), !name.dropFirst(6).contains(".") else { return false }
      let short = String(name.dropFirst(6))
      return short.hasSuffix("Storage") || DType.named(short) != nil
    }
  }

  /// Copies `id` into `graph`; nil when the value holds something outside the list above.
  mutating func copy(_ id: ValueID, into graph: inout ValueGraph, depth: Int = 0) -> ValueID? {
    if let known = copied[id] { return known }
    guard depth < 100 else { return nil }
    func all(_ ids: some Collection<ValueID>, _ me: inout Self) -> [ValueID]? {
      var out: [ValueID] = []
      for child in ids {
        guard let c = me.copy(child, into: &graph, depth: depth + 1) else { return nil }
        out.append(c)
      }
      return out
    }
    let made: ValueID
    switch source[id] {
    case .global(let module, let nameCount):
      let (m, n) = source.globalName(module: module, nameCount: nameCount)
      guard Self.allowed(m + "." + n) else { return nil }
      made = graph.addGlobal(module: m, name: n, at: 0)
    case .persistentID(let pid):
      guard let record = recordOfPID[id], let fields = source.elements(pid), fields.count == 5
      else { return nil }
      let number: Int
      if let known = numbers[record] {
        number = known
      } else {
        number = firstRecord + records.count
        numbers[record] = number
        records.append(record)
      }
      // ('storage', class, key, location, numel) with the new key.
      var items: [ValueID] = []
      for (i, field) in fields.enumerated() {
        if i == 2 {
          items.append(graph.addString(String(number), at: 0))
        } else {
          guard let c = copy(field, into: &graph, depth: depth + 1) else { return nil }
          items.append(c)
        }
      }
      made = graph.add(.persistentID(graph.addTuple(items, at: 0)), at: 0)
    case .object(let index):
      guard case .reduce(let callable, let args) = source.construction(index) else { return nil }
      if source.qualifiedName(callable) == "_codecs.encode" {
        // Protocol 2 bytes: the plain copy knows the spelling.
        guard source.mutations(of: id).isEmpty,
          let bytes = PlainValueCopy.copy(id, from: source, into: &graph)
        else { return nil }
        made = bytes
      } else {
        guard let f = copy(callable, into: &graph, depth: depth + 1),
          let a = copy(args, into: &graph, depth: depth + 1)
        else { return nil }
        made = graph.addObject(.reduce(callable: f, args: a), at: 0)
      }
    case .tuple(let s):
      guard let items = all(source.ids(s), &self) else { return nil }
      made = graph.addTuple(items, at: 0)
    case .list(let c):
      guard let items = all(source.container(c), &self) else { return nil }
      made = graph.add(.list(graph.newContainer(items)), at: 0)
    case .dict(let c):
      guard let items = all(source.container(c), &self) else { return nil }
      made = graph.add(.dict(graph.newContainer(items)), at: 0)
    case .none, .bool, .int, .float, .bigInt, .string, .bytes:
      guard source.mutations(of: id).isEmpty,
        let plain = PlainValueCopy.copy(id, from: source, into: &graph)
      else { return nil }
      made = plain
    default:
      return nil
    }
    // BUILD and SETITEMS on objects (an OrderedDict of hooks with items) come along.
    for mutation in source.mutations(of: id) {
      guard case .object = source[id] else { return nil }
      switch mutation {
      case .build(let state):
        guard let s = copy(state, into: &graph, depth: depth + 1) else { return nil }
        graph.mutate(made, .build(s))
      case .setItem(let key, let value):
        guard let k = copy(key, into: &graph, depth: depth + 1),
          let v = copy(value, into: &graph, depth: depth + 1)
        else { return nil }
        graph.mutate(made, .setItem(key: k, value: v))
      case .append, .add:
        return nil
      }
    }
    copied[id] = made
    return made
  }
}
