public import PTViewPickle

/// Applies edits to a copy of a checkpoint's graph. Storage moves replace the location
/// *inside each pid* with a fresh string, never the string node itself: that node may be
/// shared with user values such as `{'device': 'cpu'}` (torch-format.md §10.1).
public enum GraphEditor {
  /// The edited graph.
  public static func apply(_ edits: [Edit], to checkpoint: Checkpoint) -> ValueGraph {
    var graph = checkpoint.graph
    var moves: [String: String] = [:]
    var arguments: [ValueID: String] = [:]
    for edit in edits {
      switch edit {
      case .moveStorage(let record, let to): moves[record] = to
      case .setDeviceArgument(let node, let to): arguments[node] = to
      }
    }
    if !moves.isEmpty {
      for ref in checkpoint.storageReferences {
        guard let target = moves[ref.record], case .persistentID(let tuple) = graph[ref.pidNode],
          var fields = graph.sequence(tuple), fields.count > 3
        else { continue }
        fields[3] = graph.addString(target, at: graph.offset(of: fields[3]))
        let replacement = graph.addTuple(fields, at: graph.offset(of: tuple))
        graph.replace(ref.pidNode, with: .persistentID(replacement))
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
    return graph
  }
}
