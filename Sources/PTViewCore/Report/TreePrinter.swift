public import PTViewPickle

/// `ptview tree`: the object graph as indented text. An object referenced more than once is
/// printed once with an anchor (`&3`) and referenced afterwards (`*3`), so shared structures
/// and cycles never expand twice.
public struct TreePrinter: Sendable {
  /// The graph.
  public let graph: ValueGraph
  /// Tensors by node, shown as one line each unless `raw`.
  public let tensors: TensorTable
  /// Show rebuild calls as calls instead of tensor summaries.
  public var raw = false
  /// Stop descending below this depth (nil: no limit).
  public var maxDepth: Int? = nil
  /// Longest string shown before eliding.
  public var maxStringLength = 80

  /// Creates a printer.
  public init(graph: ValueGraph, tensors: TensorTable) {
    self.graph = graph
    self.tensors = tensors
  }

  private enum Item {
    case node(ValueID, label: String, depth: Int)
    case text(String, depth: Int)
  }

  /// The tree under `root`, one line per node.
  public func render(_ root: ValueID) -> String {
    let counts = graph.referenceCounts(from: [root])
    var anchors: [ValueID: Int] = [:]
    var out = ""
    var work: [Item] = [.node(root, label: "", depth: 0)]
    while let item = work.popLast() {
      switch item {
      case .text(let text, let depth):
        out += String(repeating: "  ", count: depth) + text + "\n"
      case .node(let id, let label, let depth):
        let indent = String(repeating: "  ", count: depth)
        if let anchor = anchors[id] {
          out += indent + label + "*\(anchor) (shown above)\n"
          continue
        }
        let shared = counts[Int(id.index)] > 1 && isAnchorable(id)
        var anchorText = ""
        if shared {
          anchors[id] = anchors.count + 1
          anchorText = "&\(anchors.count) "
        }
        let (summary, kids) = describe(id)
        out += indent + label + anchorText + summary + "\n"
        if let maxDepth, depth >= maxDepth, !kids.isEmpty {
          out += indent + "  …\n"
          continue
        }
        for (childLabel, child) in kids.reversed() {
          if let child {
            work.append(.node(child, label: childLabel, depth: depth + 1))
          } else {
            work.append(.text(childLabel, depth: depth + 1))
          }
        }
      }
    }
    return out
  }

  private func isAnchorable(_ id: ValueID) -> Bool {
    switch graph[id] {
    case .list, .dict, .set, .object, .bytearray, .persistentID: true
    case .tuple(let s), .frozenset(let s): s.count > 0
    default: false
    }
  }

  /// A one-line summary and the labelled children to print below it.
  private func describe(_ id: ValueID) -> (String, [(String, ValueID?)]) {
    if !raw, let t = tensors[id] {
      var text = "tensor \(t.dtype.name) \(Format.shape(t.shape)) \(t.device)"
      if let s = t.storage { text += " \(s.record)" + (t.offset != 0 ? "+\(t.offset)" : "") }
      if let layout = t.layout { text += " (\(layout))" }
      if t.isParameter { text += " parameter" }
      if t.requiresGrad { text += " requires_grad" }
      return (text, [])
    }
    switch graph[id] {
    case .none: return ("None", [])
    case .bool(let b): return (b ? "True" : "False", [])
    case .int(let v): return (String(v), [])
    case .bigInt(let s): return (PythonRepr.int(bytes: graph.bytes(s)), [])
    case .float(let v): return (PythonRepr.float(v), [])
    case .string(let s):
      return (elide(PythonRepr.string(utf8: graph.bytes(s)) ?? "'?'"), [])
    case .legacyString(let s):
      return (
        elide(PythonRepr.string(codePoints: graph.bytes(s).map(UInt32.init), asciiOnly: true)), []
      )
    case .bytes(let s): return (elide(PythonRepr.bytes(graph.bytes(s))) + " (\(s.count) bytes)", [])
    case .bytearray(let s):
      return ("bytearray(" + elide(PythonRepr.bytes(graph.bytes(s))) + ")", [])
    case .tuple(let s):
      let items = graph.ids(s)
      if items.isEmpty { return ("()", []) }
      if items.allSatisfy(isScalar) {
        return (
          elide("(" + items.map(inline).joined(separator: ", ") + (items.count == 1 ? ",)" : ")")),
          []
        )
      }
      return (
        "tuple (\(items.count) items)", items.enumerated().map { ("[\($0.offset)] ", $0.element) }
      )
    case .list(let c):
      let items = graph.container(c)
      if items.isEmpty { return ("[]", []) }
      if items.count <= 16 && items.allSatisfy(isScalar) {
        return (elide("[" + items.map(inline).joined(separator: ", ") + "]"), [])
      }
      return (
        "list (\(items.count) items)", items.enumerated().map { ("[\($0.offset)] ", $0.element) }
      )
    case .dict:
      let items = graph.dictItems(id) ?? []
      if items.isEmpty { return ("{}", []) }
      return ("dict (\(items.count) items)", items.map { (graph.keyText($0.key) + ": ", $0.value) })
    case .set(let c):
      let items = graph.container(c)
      return ("set (\(items.count) items)", items.map { ("- ", $0) })
    case .frozenset(let s):
      let items = graph.ids(s)
      return ("frozenset (\(items.count) items)", items.map { ("- ", $0) })
    case .global:
      return ("global " + (graph.globalName(id) ?? "?"), [])
    case .ext(let code):
      return ("extension object \(code) (copyreg registry)", [])
    case .persistentID(let pid):
      return ("persistent id", [("pid: ", pid)])
    case .object(let index):
      return describeObject(id, graph.construction(index))
    }
  }

  private func describeObject(_ id: ValueID, _ construction: Construction) -> (
    String, [(String, ValueID?)]
  ) {
    let callee = graph.globalName(construction.callee)
    var kids: [(String, ValueID?)] = []
    var title: String
    if let items = graph.dictItems(id), let callee {
      title = "\(callee) (\(items.count) items)"
      kids = items.map { (graph.keyText($0.key) + ": ", $0.value) }
      for case .build(let state) in graph.mutations(of: id) { kids.append(("state: ", state)) }
      return (title, kids)
    }
    if let callee, callee == "torch.Size" || callee == "torch.device" || callee == "_codecs.encode",
      let args = graph.sequence(construction.args), args.allSatisfy(isScalar)
    {
      return ("\(callee)(" + args.map(inline).joined(separator: ", ") + ")", [])
    }
    switch construction {
    case .reduce(_, let args):
      title = "\(callee ?? "<call>")(…)"
      if let list = graph.sequence(args), list.allSatisfy(isScalar) {
        title = "\(callee ?? "<call>")(" + elide(list.map(inline).joined(separator: ", ")) + ")"
      } else {
        kids.append(("args: ", args))
      }
      if callee == nil { kids.insert(("callable: ", construction.callee), at: 0) }
    case .newobj(_, let args):
      title = "\(callee ?? "<class>") object"
      if let list = graph.sequence(args), !list.isEmpty { kids.append(("args: ", args)) }
      if callee == nil { kids.insert(("class: ", construction.callee), at: 0) }
    case .newobjEx(_, let args, let kwargs):
      title = "\(callee ?? "<class>") object"
      kids += [("args: ", args), ("kwargs: ", kwargs)]
    }
    if ModuleTree(graph: graph, node: id) != nil { title += " (nn.Module)" }
    for mutation in graph.mutations(of: id) {
      switch mutation {
      case .build(let state):
        if let items = graph.dictItems(state) {
          kids += items.map { (graph.keyText($0.key) + " = ", $0.value) }
        } else {
          kids.append(("state: ", state))
        }
      case .setItem(let k, let v): kids.append((graph.keyText(k) + ": ", v))
      case .append(let v): kids.append(("+ ", v))
      case .add(let v): kids.append(("+ ", v))
      }
    }
    return (title, kids)
  }

  private func isScalar(_ id: ValueID) -> Bool {
    switch graph[id] {
    case .none, .bool, .int, .bigInt, .float, .string, .legacyString, .global: true
    case .tuple(let s): s.count == 0
    default: false
    }
  }

  private func inline(_ id: ValueID) -> String {
    if case .global = graph[id] { return graph.globalName(id) ?? "?" }
    return describe(id).0
  }

  private func elide(_ text: String) -> String {
    text.count <= maxStringLength ? text : String(text.prefix(maxStringLength - 1)) + "…"
  }
}
