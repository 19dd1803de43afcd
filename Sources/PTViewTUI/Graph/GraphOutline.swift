import PTViewCore
import PTViewPickle

/// How a child hangs under its parent in the graph view: the words before it on its row.
enum GraphSlot: Hashable, Sendable {
  /// A tuple, list or call-argument element: `[3] `.
  case index(Int32)
  /// A dict item (or a dict-like object's, or SETITEM's): `key: `, the key being this node.
  case key(ValueID)
  /// An attribute set by BUILD with a dict state: `name = `.
  case attribute(ValueID)
  /// A BUILD state that is not a dict: `state: `.
  case state
  /// NEWOBJ_EX keyword arguments: `kwargs: `.
  case kwargs
  /// A callee that is not a global (a call of a call): `callable: `.
  case callable
  /// A persistent id whose value is not a plain tuple: `pid: `.
  case pid
  /// APPEND or ADDITEMS on an object: `+ `.
  case appended
  /// A set element: `- `.
  case member
  /// A pickle of the file (`data.pkl: `) or a finding no pickle root reaches.
  case top(String)
}

/// One child of a node in the graph view.
struct GraphKid: Hashable, Sendable {
  var slot: GraphSlot
  var node: ValueID
}

/// What the graph view shows of each pickle node: its one-line title and its children, the
/// way `ptview tree --raw` prints them (calls as callee plus arguments, all-scalar tuples
/// inline), except that a call's argument tuple is opened in place: a rebuild call's
/// persistent id is one level below the call, not two.
///
/// Children are computed without formatting any text, so the walk that finds where each
/// shared object is shown first (`GraphIndex`) stays cheap on 80,000-tensor files.
struct GraphOutline: Sendable {
  let graph: ValueGraph
  let tensors: TensorTable
  /// Storage references by persistent-id node.
  let storages: [Int32: StorageRef]
  /// Storage records by name, for their sizes.
  let extents: StorageExtents
  /// `module.name` of every global node: a torch pickle calls one memoized global for each of
  /// its tensors, and the walk asks for the callee of every call.
  let names: [Int32: String]
  /// Longest text shown for a scalar before eliding.
  var maxText = 80

  init(checkpoint: Checkpoint) {
    graph = checkpoint.graph
    var names: [Int32: String] = [:]
    for i in 0..<graph.count {
      if case .global = graph.nodes[i], let name = graph.globalName(ValueID(Int32(i))) {
        names[Int32(i)] = name
      }
    }
    self.names = names
    tensors = checkpoint.tensors
    var byPid: [Int32: StorageRef] = [:]
    for s in checkpoint.storageReferences where byPid[s.pidNode.index] == nil {
      byPid[s.pidNode.index] = s
    }
    storages = byPid
    extents = checkpoint.storages
  }

  func valid(_ id: ValueID) -> Bool { id.index >= 0 && Int(id.index) < graph.count }

  // MARK: Children

  /// Whether a node prints inside its parent's title (a number, a string, a global).
  func isScalar(_ id: ValueID) -> Bool {
    guard valid(id) else { return true }
    switch graph[id] {
    case .none, .bool, .int, .bigInt, .float, .string, .legacyString, .global: return true
    case .tuple(let s): return s.count == 0
    default: return false
    }
  }

  /// Whether a node can be shared visibly (shown once, then referenced): containers, calls,
  /// persistent ids. Shared strings and numbers are simply printed again.
  func isAnchorable(_ id: ValueID) -> Bool {
    guard valid(id) else { return false }
    switch graph[id] {
    case .list, .dict, .set, .object, .bytearray, .persistentID: return true
    case .tuple(let s), .frozenset(let s): return s.count > 0
    default: return false
    }
  }

  /// Tuples and lists printed inline: every element a scalar (lists only when short).
  func isInline(_ id: ValueID) -> Bool {
    switch graph[id] {
    case .tuple(let s): return graph.ids(s).allSatisfy(isScalar)
    case .list(let c):
      let items = graph.container(c)
      return items.isEmpty || (items.count <= 16 && items.allSatisfy(isScalar))
    default: return false
    }
  }

  /// A call whose title already shows everything (`torch.Size(2, 3)`, `f('a', 1)`).
  func callIsInline(_ construction: Construction, callee: String?) -> Bool {
    guard callee != nil, let args = graph.sequence(construction.args) else { return false }
    switch construction {
    case .reduce: return args.allSatisfy(isScalar)
    case .newobj: return args.isEmpty
    case .newobjEx: return false
    }
  }

  /// The children of `id`, in the order they are shown.
  func kids(_ id: ValueID) -> [GraphKid] {
    guard valid(id) else { return [] }
    var out: [GraphKid] = []
    func indexed<C: Collection<ValueID>>(_ items: C) {
      var i: Int32 = 0
      for item in items {
        out.append(GraphKid(slot: .index(i), node: item))
        i += 1
      }
    }
    switch graph[id] {
    case .tuple(let s):
      if !isInline(id) { indexed(graph.ids(s)) }
    case .list(let c):
      if !isInline(id) { indexed(graph.container(c)) }
    case .dict:
      for item in graph.dictItems(id) ?? [] {
        out.append(GraphKid(slot: .key(item.key), node: item.value))
      }
    case .set(let c):
      for item in graph.container(c) { out.append(GraphKid(slot: .member, node: item)) }
    case .frozenset(let s):
      for item in graph.ids(s) { out.append(GraphKid(slot: .member, node: item)) }
    case .persistentID(let pid):
      if !(valid(pid) && isInline(pid)) { out.append(GraphKid(slot: .pid, node: pid)) }
    case .object(let index):
      let construction = graph.construction(index)
      let callee = names[construction.callee.index]
      if let callee, PythonNames.dictLike.contains(callee), let items = graph.dictItems(id) {
        for item in items { out.append(GraphKid(slot: .key(item.key), node: item.value)) }
        for case .build(let state) in graph.mutations(of: id) {
          out.append(GraphKid(slot: .state, node: state))
        }
        return out
      }
      if callee == nil { out.append(GraphKid(slot: .callable, node: construction.callee)) }
      if !callIsInline(construction, callee: callee) {
        if let args = graph.sequence(construction.args) {
          indexed(args)
        } else {
          out.append(GraphKid(slot: .state, node: construction.args))
        }
      }
      if case .newobjEx(_, _, let kwargs) = construction {
        out.append(GraphKid(slot: .kwargs, node: kwargs))
      }
      for mutation in graph.mutations(of: id) {
        switch mutation {
        case .build(let state):
          if let items = graph.dictItems(state) {
            for item in items { out.append(GraphKid(slot: .attribute(item.key), node: item.value)) }
          } else {
            out.append(GraphKid(slot: .state, node: state))
          }
        case .setItem(let k, let v): out.append(GraphKid(slot: .key(k), node: v))
        case .append(let v): out.append(GraphKid(slot: .appended, node: v))
        case .add(let v): out.append(GraphKid(slot: .appended, node: v))
        }
      }
    default:
      break
    }
    return out.filter { valid($0.node) }
  }

  // MARK: Text

  /// The words before a child's title.
  func label(_ slot: GraphSlot) -> String {
    switch slot {
    case .index(let i): "[\(i)] "
    case .key(let k): graph.keyText(k) + ": "
    case .attribute(let k): graph.keyText(k) + " = "
    case .state: "state: "
    case .kwargs: "kwargs: "
    case .callable: "callable: "
    case .pid: "pid: "
    case .appended: "+ "
    case .member: "- "
    case .top(let name): name + ": "
    }
  }

  /// The one-line title of a node.
  func title(_ id: ValueID) -> String {
    guard valid(id) else { return "<missing node \(id.index)>" }
    switch graph[id] {
    case .none: return "None"
    case .bool(let b): return b ? "True" : "False"
    case .int(let v): return String(v)
    case .bigInt(let s): return PythonRepr.int(bytes: graph.bytes(s))
    case .float(let v): return PythonRepr.float(v)
    case .string(let s): return elide(PythonRepr.string(utf8: graph.bytes(s)) ?? "'?'")
    case .legacyString(let s):
      return elide(PythonRepr.string(codePoints: graph.bytes(s).map(UInt32.init), asciiOnly: true))
    case .bytes(let s): return elide(PythonRepr.bytes(graph.bytes(s))) + " (\(s.count) bytes)"
    case .bytearray(let s): return "bytearray(" + elide(PythonRepr.bytes(graph.bytes(s))) + ")"
    case .tuple(let s):
      let items = graph.ids(s)
      if items.isEmpty { return "()" }
      if isInline(id) {
        return elide(
          "(" + items.map(inline).joined(separator: ", ") + (items.count == 1 ? ",)" : ")"))
      }
      return "tuple (\(count(items.count)))"
    case .list(let c):
      let items = graph.container(c)
      if isInline(id) { return elide("[" + items.map(inline).joined(separator: ", ") + "]") }
      return "list (\(count(items.count)))"
    case .dict:
      let n = graph.dictItems(id)?.count ?? 0
      return n == 0 ? "{}" : "dict (\(count(n)))"
    case .set(let c): return "set (\(count(graph.container(c).count)))"
    case .frozenset(let s): return "frozenset (\(count(s.count)))"
    case .global: return "global " + (graph.globalName(id) ?? "?")
    case .ext(let code): return "extension object \(code) (copyreg registry)"
    case .persistentID(let pid):
      var text = "persistent id"
      if valid(pid), isInline(pid) { text += " " + title(pid) }
      if let storage = storages[id.index] {
        let size = extents[storage.record]?.size
        text += " → \(storage.record) " + (size.map { Format.bytes($0) } ?? "(missing)")
      }
      return text
    case .object(let index):
      return objectTitle(id, graph.construction(index))
    }
  }

  private func objectTitle(_ id: ValueID, _ construction: Construction) -> String {
    let callee = graph.globalName(construction.callee)
    if let callee, let items = graph.dictItems(id) {
      return items.isEmpty ? callee + "()" : "\(callee) (\(count(items.count)))"
    }
    let name = callee ?? "<call>"
    if callIsInline(construction, callee: callee), let args = graph.sequence(construction.args) {
      return name + "(" + elide(args.map(inline).joined(separator: ", ")) + ")"
    }
    switch construction {
    case .reduce: return name + "(…)"
    case .newobj, .newobjEx: return name + ".__new__(…)"
    }
  }

  /// A scalar as it prints inside its parent's title.
  func inline(_ id: ValueID) -> String {
    guard valid(id) else { return "?" }
    if case .global = graph[id] { return graph.globalName(id) ?? "?" }
    return title(id)
  }

  /// The tensor a rebuild call makes, in the key view's words (`f32 [4, 3] cpu`).
  func tensorNote(_ id: ValueID) -> String? {
    guard let t = tensors[id] else { return nil }
    return "tensor \(t.dtype.shortName) \(Format.shape(t.shape)) \(t.device)"
  }

  /// The kind of a node, for the detail pane.
  func kind(_ id: ValueID) -> String {
    guard valid(id) else { return "missing" }
    if case .object(let index) = graph[id] {
      switch graph.construction(index) {
      case .reduce: return "call (REDUCE)"
      case .newobj: return "instance (NEWOBJ)"
      case .newobjEx: return "instance (NEWOBJ_EX)"
      }
    }
    return graph.kindName(id)
  }

  private func count(_ n: Int) -> String { n == 1 ? "1 item" : "\(n) items" }

  private func elide(_ text: String) -> String {
    text.count <= maxText ? text : String(text.prefix(maxText - 1)) + "…"
  }
}
