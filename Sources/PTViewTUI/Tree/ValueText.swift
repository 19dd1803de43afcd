import PTViewCore
import PTViewPickle

/// One-line Python-like text for a value that is not a tensor: `17`, `'adamw'`,
/// `[0, 1, 2, …] (400 items)`, `argparse.Namespace(lr=0.001, epochs=10, …)`.
///
/// The text is built against a budget, so a list of a million ints costs as much as a short
/// one, and nesting is bounded.
struct ValueText {
  let graph: ValueGraph
  let tensors: TensorTable

  /// The text of `id`, at most about `limit` characters.
  func inline(_ id: ValueID, limit: Int = 160) -> String {
    var out = Budgeted(limit: limit)
    append(id, to: &out, depth: 0)
    return out.text
  }

  /// Whether `id` is shown inline inside a container without opening it.
  func isScalar(_ id: ValueID) -> Bool {
    if tensors[id] != nil { return false }
    switch graph[id] {
    case .none, .bool, .int, .bigInt, .float, .string, .legacyString, .bytes, .global: return true
    case .tuple(let s): return graph.ids(s).allSatisfy { isPlain($0) }
    case .object: return graph.dictItems(id) == nil && ModuleTree(graph: graph, node: id) == nil
    default: return false
    }
  }

  private func isPlain(_ id: ValueID) -> Bool {
    switch graph[id] {
    case .none, .bool, .int, .bigInt, .float, .string, .legacyString, .global: true
    default: false
    }
  }

  private struct Budgeted {
    var text = ""
    let limit: Int
    var full: Bool { text.utf8.count >= limit }
    mutating func add(_ s: String) {
      guard !full else { return }
      text += s
      if text.utf8.count > limit {
        text = String(text.prefix(limit - 1)) + "…"
      }
    }
  }

  private func append(_ id: ValueID, to out: inout Budgeted, depth: Int) {
    if out.full { return }
    if let t = tensors[id] {
      out.add("tensor \(t.dtype.shortName) \(Format.compactShape(t.shape)) \(t.device)")
      return
    }
    switch graph[id] {
    case .none: out.add("None")
    case .bool(let b): out.add(b ? "True" : "False")
    case .int(let v): out.add(String(v))
    case .bigInt(let s): out.add(PythonRepr.int(bytes: graph.bytes(s)))
    case .float(let v): out.add(PythonRepr.float(v))
    case .string(let s): out.add(elide(PythonRepr.string(utf8: graph.bytes(s)) ?? "'?'"))
    case .legacyString(let s):
      out.add(
        elide(PythonRepr.string(codePoints: graph.bytes(s).map(UInt32.init), asciiOnly: true)))
    case .bytes(let s):
      out.add(elide(PythonRepr.bytes(graph.bytes(s).prefix(48))) + " (\(s.count) bytes)")
    case .bytearray(let s): out.add("bytearray (\(s.count) bytes)")
    case .tuple(let s): sequence(Array(graph.ids(s)), open: "(", close: ")", to: &out, depth: depth)
    case .list(let c): sequence(graph.container(c), open: "[", close: "]", to: &out, depth: depth)
    case .dict: dict(id, to: &out, depth: depth)
    case .set(let c): sequence(graph.container(c), open: "{", close: "}", to: &out, depth: depth)
    case .frozenset(let s):
      out.add("frozenset")
      sequence(Array(graph.ids(s)), open: "({", close: "})", to: &out, depth: depth)
    case .global: out.add(graph.globalName(id) ?? "<global>")
    case .ext(let code): out.add("<extension \(code)>")
    case .persistentID: out.add("<persistent id>")
    case .object: object(id, to: &out, depth: depth)
    }
  }

  private func elide(_ s: String) -> String {
    s.count <= 60 ? s : String(s.prefix(59)) + "…"
  }

  private func sequence(
    _ items: [ValueID], open: String, close: String, to out: inout Budgeted, depth: Int
  ) {
    if depth >= 3 {
      out.add(open + "…" + close)
      return
    }
    out.add(open)
    for (i, item) in items.enumerated() {
      if i > 0 { out.add(", ") }
      if out.full || i >= 32 {
        out.add("…")
        break
      }
      append(item, to: &out, depth: depth + 1)
    }
    if items.count == 1 && open == "(" { out.add(",") }
    out.add(close)
    if items.count > 8 { out.add(" (\(items.count) items)") }
  }

  private func dict(_ id: ValueID, to out: inout Budgeted, depth: Int) {
    let items = graph.dictItems(id) ?? []
    if depth >= 3 {
      out.add("{…}")
      return
    }
    out.add("{")
    for (i, item) in items.enumerated() {
      if i > 0 { out.add(", ") }
      if out.full || i >= 32 {
        out.add("…")
        break
      }
      out.add(graph.keyText(item.key) + ": ")
      append(item.value, to: &out, depth: depth + 1)
    }
    out.add("}")
    if items.count > 8 { out.add(" (\(items.count) items)") }
  }

  private func object(_ id: ValueID, to out: inout Budgeted, depth: Int) {
    if let module = ModuleTree(graph: graph, node: id) {
      out.add("nn.Module " + (module.className ?? "?"))
      return
    }
    if graph.dictItems(id) != nil {
      dict(id, to: &out, depth: depth)
      return
    }
    guard case .object(let index) = graph[id] else { return }
    let construction = graph.construction(index)
    let callee = graph.globalName(construction.callee) ?? "<object>"
    out.add(callee)
    if depth >= 3 {
      out.add("(…)")
      return
    }
    // Attributes from BUILD (argparse.Namespace, dataclasses) read best as keyword arguments.
    if let state = graph.buildState(id), let items = graph.dictItems(state) {
      out.add("(")
      for (i, item) in items.enumerated() {
        if i > 0 { out.add(", ") }
        if out.full || i >= 32 {
          out.add("…")
          break
        }
        out.add(graph.keyText(item.key) + "=")
        append(item.value, to: &out, depth: depth + 1)
      }
      out.add(")")
      return
    }
    if let args = graph.sequence(construction.args) {
      out.add("(")
      for (i, arg) in args.enumerated() {
        if i > 0 { out.add(", ") }
        if out.full || i >= 8 {
          out.add("…")
          break
        }
        append(arg, to: &out, depth: depth + 1)
      }
      out.add(")")
    }
  }
}
