public import PTViewPickle

/// Lists the tensors of a TorchScript archive's module objects under `state_dict()`-style keys.
///
/// TorchScript pickles each module as `__torch__.<path>.<Class>` with a dict of all its
/// attributes. Tensor attributes are listed under their dotted names; submodules recurse.
public struct TorchScriptWalker: Sendable {
  /// The graph.
  public let graph: ValueGraph
  /// Tensors by node.
  public let tensors: TensorTable

  /// Creates a walker.
  public init(graph: ValueGraph, tensors: TensorTable) {
    self.graph = graph
    self.tensors = tensors
  }

  /// Whether `id` is a scripted module or class object with a dict state.
  public func isScriptObject(_ id: ValueID) -> Bool {
    guard let name = graph.calleeName(id), name.hasPrefix("__torch__.") else { return false }
    return graph.buildState(id).flatMap { graph.dictItems($0) } != nil
  }

  /// Entries below `root`, one path component per tensor (`layer1.weight`).
  public func entries(from root: ValueID) -> [TensorEntry] {
    guard isScriptObject(root) else {
      return TensorWalker(graph: graph, tensors: tensors).walk(from: root).entries
    }
    var out: [TensorEntry] = []
    var work: [(ValueID, String)] = [(root, "")]
    var seen: Set<ValueID> = []
    while let (node, prefix) = work.popLast() {
      guard seen.insert(node).inserted, let state = graph.buildState(node),
        let items = graph.dictItems(state)
      else { continue }
      var subs: [(ValueID, String)] = []
      for (k, v) in items {
        let name = prefix + graph.keyText(k)
        if let tensor = tensors[v] {
          out.append(TensorEntry(path: [name], tensor: tensor))
        } else if isScriptObject(v) {
          subs.append((v, name + "."))
        } else {
          let nested = TensorWalker(graph: graph, tensors: tensors).walk(from: v, prefix: [name])
          out += nested.entries.map {
            var e = $0; e.inStateDict = false; return e
          }
        }
      }
      work.append(contentsOf: subs.reversed())
    }
    return out
  }
}
