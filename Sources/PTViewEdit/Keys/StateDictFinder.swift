import PTViewCore
import PTViewPickle

/// Finds the weights a model loads, for `--state-dict`: a whole pickled `nn.Module`'s
/// `state_dict()`, a TorchScript module's tensors, or the one entry of a training checkpoint
/// that is a state_dict.
struct StateDictFinder {
  let checkpoint: Checkpoint
  let graph: ValueGraph

  /// What was found and how to say it.
  struct Found {
    var items: StateDictItems
    var description: String
  }

  /// Entry names training scripts use for the model's weights, to say so in messages.
  static let usualNames = ["state_dict", "model", "model_state_dict", "net", "module", "weights"]

  func find(_ root: ValueID) throws(EditRefusal) -> Found {
    if let found = fromObject(root, label: nil) { return found }
    if let items = stateDictItems(root) {
      return Found(items: items, description: "the root state_dict")
    }
    guard let entries = graph.dictItems(root) else {
      throw EditRefusal(
        "--state-dict: the root is \(graph.kindName(root)), not a module, a TorchScript module or a dict of them"
      )
    }
    let candidates = candidates(entries)
    if candidates.count == 1 { return candidates[0].1 }
    if candidates.isEmpty {
      let keys = entries.map { graph.keyText($0.key) }
      throw EditRefusal(
        "--state-dict: no entry of the root is a state_dict or a module (keys: "
          + keys.prefix(12).joined(separator: ", ") + (keys.count > 12 ? ", …" : "")
          + "); name the entry with --extract")
    }
    throw EditRefusal(
      "--state-dict: several entries hold weights ("
        + candidates.map { "'\($0.0)'" }.joined(separator: ", ")
        + "); choose one with --extract, e.g. --extract \(candidates[0].0) --state-dict")
  }

  /// The keys of the root's entries that hold weights, when the root itself is a dict of
  /// entries rather than a module or a state_dict (`--state-dict` takes the one there is and
  /// refuses several); empty otherwise.
  func candidateKeys(_ root: ValueID) -> [String] {
    guard fromObject(root, label: nil) == nil, stateDictItems(root) == nil,
      let entries = graph.dictItems(root)
    else { return [] }
    return candidates(entries).map(\.0)
  }

  /// The entries that are a module, a TorchScript module or a state_dict, in order.
  private func candidates(_ entries: [(key: ValueID, value: ValueID)]) -> [(String, Found)] {
    var candidates: [(String, Found)] = []
    for entry in entries {
      let key = graph.keyText(entry.key)
      if let found = fromObject(entry.value, label: key) {
        candidates.append((key, found))
      } else if let items = stateDictItems(entry.value) {
        candidates.append((key, Found(items: items, description: "the state_dict under '\(key)'")))
      }
    }
    return candidates
  }

  /// A whole module or a TorchScript module's weights.
  private func fromObject(_ node: ValueID, label: String?) -> Found? {
    let place = label.map { " under '\($0)'" } ?? ""
    if let module = ModuleTree(graph: graph, node: node) {
      let items = moduleStateDict(module.node)
      let name = module.className ?? "module"
      return Found(
        items: StateDictItems(items: items),
        description: "state_dict() of the pickled \(name)\(place) (\(items.count) tensors)")
    }
    let script = TorchScriptWalker(graph: graph, tensors: checkpoint.tensors)
    if script.isScriptObject(node) {
      let items = scriptStateDict(node, walker: script)
      guard !items.isEmpty else { return nil }
      return Found(
        items: StateDictItems(items: items),
        description:
          "the TorchScript module's parameters and buffers\(place) (\(items.count) tensors)")
    }
    return nil
  }

  /// A dict-like whose values are all tensors (string keys): a state_dict as it is.
  private func stateDictItems(_ node: ValueID) -> StateDictItems? {
    guard let items = graph.dictItems(node), !items.isEmpty else { return nil }
    var out: [StateDictItems.Item] = []
    for item in items {
      guard graph.string(item.key) != nil, checkpoint.tensors[item.value] != nil else {
        return nil
      }
      out.append(.init(key: graph.keyText(item.key), value: plainTensor(item.value)))
    }
    let metadata = graph.buildState(node).flatMap { graph.lookup($0, "_metadata") }
    return StateDictItems(items: out, metadata: metadata)
  }

  /// `module.state_dict()`: own parameters (not None), own persistent buffers (not None),
  /// then each child's under `name.`, recursively, as `nn.Module._save_to_state_dict` does.
  /// Shared children appear under every name, as they do in torch.
  private func moduleStateDict(_ node: ValueID) -> [StateDictItems.Item] {
    var out: [StateDictItems.Item] = []
    var work: [(ValueID, String, Int)] = [(node, "", 0)]
    while let (id, prefix, depth) = work.popLast() {
      guard depth < 256, out.count < 10_000_000, let state = graph.buildState(id) else {
        continue
      }
      if let params = graph.lookup(state, "_parameters"), let items = graph.dictItems(params) {
        for (k, v) in items where checkpoint.tensors[v] != nil {
          out.append(.init(key: prefix + graph.keyText(k), value: plainTensor(v)))
        }
      }
      let nonPersistent = Set(
        (graph.lookup(state, "_non_persistent_buffers_set").flatMap { graph.setElements($0) }
          ?? []).compactMap { graph.string($0) })
      if let buffers = graph.lookup(state, "_buffers"), let items = graph.dictItems(buffers) {
        for (k, v) in items where checkpoint.tensors[v] != nil {
          let name = graph.keyText(k)
          if !nonPersistent.contains(name) {
            out.append(.init(key: prefix + name, value: plainTensor(v)))
          }
        }
      }
      var children: [(ValueID, String, Int)] = []
      if let modules = graph.lookup(state, "_modules"), let items = graph.dictItems(modules) {
        for (k, v) in items where ModuleTree(graph: graph, node: v) != nil {
          children.append((v, prefix + graph.keyText(k) + ".", depth + 1))
        }
      }
      work.append(contentsOf: children.reversed())
    }
    return out
  }

  /// `torch.jit.load(f).state_dict()`: per module, the attributes its class declares in
  /// `__parameters__` (in attribute order, None left out), then those in `__buffers__`
  /// (TorchScript keeps no persistence flag: every buffer is listed), then each submodule's
  /// under `name.`. Plain tensor attributes are not in it. For a class the code does not
  /// declare (or when it could not be read), every tensor attribute is taken instead.
  private func scriptStateDict(_ node: ValueID, walker: TorchScriptWalker)
    -> [StateDictItems.Item]
  {
    let classes = checkpoint.scriptClasses
    var out: [StateDictItems.Item] = []
    var work: [(ValueID, String, Int)] = [(node, "", 0)]
    while let (id, prefix, depth) = work.popLast() {
      guard depth < 256, let state = graph.buildState(id), let items = graph.dictItems(state)
      else { continue }
      let declared = graph.calleeName(id).flatMap { classes[$0] }
      var parameters: [StateDictItems.Item] = []
      var buffers: [StateDictItems.Item] = []
      var children: [(ValueID, String, Int)] = []
      for (k, v) in items {
        let name = graph.keyText(k)
        if let tensor = checkpoint.tensors[v] {
          let item = StateDictItems.Item(key: prefix + name, value: v, detach: tensor.requiresGrad)
          if let declared {
            if declared.parameters.contains(name) {
              parameters.append(item)
            } else if declared.buffers.contains(name) {
              buffers.append(item)
            }
          } else {
            parameters.append(item)
          }
        } else if walker.isScriptObject(v) {
          // Declared script classes that are not modules (`@torch.jit.script class`) are
          // values, not children; an undeclared class is walked rather than lost.
          if graph.calleeName(v).flatMap({ classes[$0] })?.isModule != false {
            children.append((v, prefix + name + ".", depth + 1))
          }
        }
      }
      out += parameters + buffers
      work.append(contentsOf: children.reversed())
    }
    return out
  }

  /// The tensor a Parameter wraps (`state_dict()` holds detached tensors, not Parameters).
  private func plainTensor(_ node: ValueID) -> ValueID {
    guard
      graph.calleeName(node) == "torch._utils._rebuild_parameter"
        || graph.calleeName(node) == "torch._utils._rebuild_parameter_with_state",
      let inner = graph.callArguments(node)?.first, checkpoint.tensors[inner] != nil
    else { return node }
    return inner
  }
}
