public import PTViewCore
import PTViewPickle

/// What an edit will do, before anything is written: the edits for the writer and the words
/// for the report.
public struct EditPlan: Sendable {
  /// The edits, in the order the writer applies them.
  public var edits: [Edit]
  /// Device moves (empty plan when none were asked for).
  public var remap: RemapPlan
  /// The new root, described (`the value at 'model'`, `state_dict of the pickled module`).
  public var root: String?
  /// Keys renamed: (from, to), as the output's keys.
  public var renamed: [(from: String, to: String)] = []
  /// Flags `--from-error` derived (`--strip-prefix module.`).
  public var derivedFlags: [String] = []
  /// Prefixes `--strip-prefix auto` found.
  public var detectedPrefixes: [String] = []
  /// Entries dropped (the top-most key of each dropped subtree).
  public var dropped: [String] = []
  /// Storages converted: (record, from, to, bytes before).
  public var casts: [(record: String, from: DType, to: DType, bytes: Int64)] = []
  /// Storage records the output no longer needs, with their bytes.
  public var unusedStorages: [(record: String, bytes: Int64)] = []
  /// Tensor keys of the output as they will read (after every rename), in order, for
  /// `--state-dict` and key edits; nil when keys do not change.
  public var outputKeys: [String]?

  init(edits: [Edit], remap: RemapPlan) {
    self.edits = edits
    self.remap = remap
  }

  /// Bytes of the storages left out.
  public var bytesDropped: Int64 { unusedStorages.reduce(0) { $0.addingSaturated($1.bytes) } }
}

/// The one planner behind `ptview edit`, `ptview remap` and the explorer's `w`.
public enum EditPlanner {
  /// Plans `operations` on `checkpoint`.
  /// - Throws: `EditRefusal` for requests that cannot be carried out (an unknown key path, a
  ///   prefix no key has, a rename that makes two keys one...).
  public static func plan(_ checkpoint: Checkpoint, _ operations: [EditOperation])
    throws(EditRefusal) -> EditPlan
  {
    let ordered = operations.enumerated().sorted {
      ($0.element.phase, $0.offset) < ($1.element.phase, $1.offset)
    }.map(\.element)
    guard var root = checkpoint.root else {
      throw EditRefusal("the file has no root object to edit")
    }
    var edits: [Edit] = []
    var plan = EditPlan(edits: [], remap: RemapPlan.empty)
    // 1. The root. Later key edits name containers of the graph these edits produce, so the
    // planner applies them to a working copy exactly as the writer will (same nodes, same ids).
    var graph = checkpoint.graph
    for operation in ordered {
      switch operation {
      case .extract(let path):
        let tree = KeyTree(root: root, graph: graph, tensors: checkpoint.tensors)
        guard let node = tree.resolve(path) else {
          throw EditRefusal(
            "no entry '\(path)' to extract; top-level keys: \(tree.topLevelSummary())")
        }
        root = node
        edits.append(.newRoot(node: node))
        plan.root = "the value at '\(path)'"
      case .stateDict:
        let found = try StateDictFinder(checkpoint: checkpoint, graph: graph).find(root)
        edits.append(.newStateDict(found.items))
        let result = GraphEditor.edit([.newStateDict(found.items)], checkpoint, graph: graph)
        graph = result.graph
        root = result.root ?? root
        plan.root = found.description
      default: break
      }
    }
    // 2-3. Keys.
    let keyOperations = ordered.filter { $0.phase == 2 || $0.phase == 3 }
    if !keyOperations.isEmpty {
      var tree = KeyTree(root: root, graph: graph, tensors: checkpoint.tensors)
      var metadataRenames: [KeyPattern] = []
      for operation in keyOperations {
        switch operation {
        case .stripPrefix(let prefix):
          let prefixes: [String]
          if prefix == EditOperation.autoPrefix {
            prefixes = try detectPrefixes(tree)
            plan.detectedPrefixes = prefixes
          } else {
            prefixes = [prefix.hasSuffix(".") ? prefix : prefix + "."]
          }
          for p in prefixes {
            let pattern = KeyPattern(old: p, new: "")
            let count = try tree.rename(pattern, requireMatch: true, what: "--strip-prefix \(p)")
            if count > 0 { metadataRenames.append(pattern) }
          }
        case .fromError(let message):
          let derivation = KeyRuleDeriver.derive(message, fileKeys: tree.tensorKeys)
          guard derivation.explainsEverything else {
            var parts: [String] = []
            if !derivation.unmatchedMissing.isEmpty {
              parts.append(
                "the model expects \(derivation.unmatchedMissing.count) key(s) no rule explains (\(derivation.unmatchedMissing.prefix(4).joined(separator: ", ")))"
              )
            }
            if !derivation.unmatchedUnexpected.isEmpty {
              parts.append(
                "\(derivation.unmatchedUnexpected.count) key(s) of the file match nothing (\(derivation.unmatchedUnexpected.prefix(4).joined(separator: ", ")))"
              )
            }
            let rules = derivation.rules.map(\.flag).joined(separator: " ")
            throw EditRefusal(
              "--from-error: no consistent key rule explains the message: "
                + parts.joined(separator: "; ")
                + (rules.isEmpty ? "" : " (best partial rule: \(rules))"))
          }
          plan.derivedFlags += derivation.rules.map(\.flag)
          for rule in derivation.rules {
            let pattern: KeyPattern
            switch rule {
            case .stripPrefix(let p): pattern = KeyPattern(old: p, new: "")
            case .replacePrefix(let old, let new): pattern = KeyPattern(old: old, new: new)
            }
            _ = try tree.rename(pattern, requireMatch: true, what: "--from-error (\(rule.flag))")
            metadataRenames.append(pattern)
          }
        case .rename(let pattern):
          _ = try tree.rename(
            pattern, requireMatch: true, what: "--rename \(pattern.old)=\(pattern.new)")
          metadataRenames.append(pattern)
        default: break
        }
      }
      try tree.checkCollisions()
      var dropGlobs: [String] = []
      var keepGlobs: [String] = []
      for case .drop(let glob) in keyOperations { dropGlobs.append(glob) }
      for case .keep(let glob) in keyOperations { keepGlobs.append(glob) }
      let dropped = try tree.selectDropped(drop: dropGlobs, keep: keepGlobs)
      for i in tree.items.indices where tree.items[i].key != tree.items[i].originalKey {
        let item = tree.items[i]
        edits.append(.renameKey(container: item.container, item: item.index, to: item.key))
        if !dropped.contains(i) {
          plan.renamed.append((tree.originalFullKey(i), tree.fullKey(i)))
        }
      }
      for i in dropped.sorted() where !dropped.contains(tree.items[i].parent) {
        let item = tree.items[i]
        edits.append(.dropItem(container: item.container, item: item.index))
        plan.dropped.append(tree.fullKey(i))
      }
      edits += metadataEdits(root: root, graph: graph, patterns: metadataRenames)
      plan.outputKeys = tree.items.indices.filter {
        tree.items[$0].isTensor && !tree.isDropped($0, dropped)
      }.map(tree.fullKey)
    } else if case .newStateDict(let items)? = edits.last {
      plan.outputKeys = items.items.map(\.key)
    }
    // What the output still reaches.
    let structural = edits.contains { $0.changesStructure }
    let reached = structural ? reachableRecords(edits, checkpoint) : nil
    if let reached {
      var seen: Set<String> = []
      for ref in checkpoint.storageReferences where !reached.contains(ref.record) {
        guard seen.insert(ref.record).inserted else { continue }
        plan.unusedStorages.append(
          (ref.record, checkpoint.storages[ref.record]?.size ?? ref.byteCount))
      }
    }
    // 4. Casts. A storage's dtype is its tensors' (float8 storages are pickled untyped).
    var tensorDTypes: [String: DType] = [:]
    for tensor in checkpoint.tensors.values {
      if let record = tensor.storage?.record, tensor.layout == nil {
        tensorDTypes[record] = tensor.dtype
      }
    }
    for case .cast(let target) in ordered {
      var seen: Set<String> = []
      for ref in checkpoint.storageReferences {
        guard reached?.contains(ref.record) ?? true, seen.insert(ref.record).inserted else {
          continue
        }
        let from = tensorDTypes[ref.record] ?? ref.storageDType
        guard EditOperation.isFloating(from), from != target else { continue }
        edits.append(.castStorage(record: ref.record, from: from, to: target))
        plan.casts.append(
          (ref.record, from, target, checkpoint.storages[ref.record]?.size ?? ref.byteCount))
      }
    }
    // 5. Device moves, one after the other: the plan holds where each storage ends up.
    var moves: [(rules: DeviceRules, only: TensorSelection)] = []
    for case .moveDevices(let rules, let only) in ordered { moves.append((rules, only)) }
    if !moves.isEmpty {
      var remap = RemapPlanner.plan(checkpoint, moves: moves)
      if let reached {
        remap.moves = remap.moves.filter { reached.contains($0.record) }
        remap.edits = remap.edits.filter {
          if case .moveStorage(let record, _) = $0 { return reached.contains(record) }
          return true
        }
      }
      edits += remap.edits
      // Moves of every tensor take TorchScript code's torch.device literals along.
      let everything = moves.filter { $0.only == .all }.map(\.rules)
      if let first = everything.first, checkpoint.format == .torchScript, !structural {
        edits.append(.rewriteCode(everything.dropFirst().reduce(first) { $0.followed(by: $1) }))
      }
      plan.remap = remap
    }
    try StorageSizeCheck.verify(checkpoint, reached: reached, plainOutput: structural)
    plan.edits = edits
    return plan
  }

  /// The entries of the root that `--state-dict` would choose from (a module, a TorchScript
  /// module or a state_dict each), by key, when the root is a dict of entries rather than
  /// weights itself: `--state-dict` succeeds with exactly one and refuses several, which
  /// `--extract KEY --state-dict` then picks from. Empty when the root is itself a module or
  /// a state_dict, or not a dict.
  public static func stateDictCandidates(_ checkpoint: Checkpoint) -> [String] {
    guard let root = checkpoint.root else { return [] }
    return StateDictFinder(checkpoint: checkpoint, graph: checkpoint.graph).candidateKeys(root)
  }

  /// The prefixes `--strip-prefix auto` removes: `module.`, `_orig_mod.` and their
  /// combinations, when every tensor key carries them (repeatedly: `module.module.`).
  static func detectPrefixes(_ tree: KeyTree) throws(EditRefusal) -> [String] {
    let keys = tree.tensorKeys
    guard !keys.isEmpty else { throw EditRefusal("--strip-prefix auto: the root holds no tensors") }
    var found: [String] = []
    var current = keys
    while found.count < 8 {
      guard
        let prefix = ["module.", "_orig_mod."].first(where: { p in
          current.allSatisfy { $0.hasPrefix(p) }
        })
      else { break }
      found.append(prefix)
      current = current.map { String($0.dropFirst(prefix.count)) }
    }
    guard !found.isEmpty else {
      throw EditRefusal(
        "--strip-prefix auto: no module. or _orig_mod. prefix on every key; keys start with "
          + commonPrefixes(keys))
    }
    // One combined prefix strips in one step and reads as what it is.
    return [found.joined()]
  }

  /// `model. (120), optimizer. (240)`: the keys' first components, most common first.
  static func commonPrefixes(_ keys: [String]) -> String {
    var counts: [String: Int] = [:]
    var order: [String] = []
    for key in keys {
      let first = key.split(separator: ".", maxSplits: 1).first.map(String.init) ?? key
      let label = first == key ? key : first + "."
      if counts[label] == nil { order.append(label) }
      counts[label, default: 0] += 1
    }
    let sorted = order.sorted { counts[$0]! > counts[$1]! }
    let shown = sorted.prefix(6).map { "\($0) (\(counts[$0]!))" }
    return shown.joined(separator: ", ") + (sorted.count > 6 ? ", …" : "")
  }

  /// torch's `consume_prefix_in_state_dict_if_present` also renames the `_metadata` keys
  /// (module paths) of the state_dict it edits; so does ptview, for the root's.
  static func metadataEdits(root: ValueID, graph: ValueGraph, patterns: [KeyPattern]) -> [Edit] {
    guard !patterns.isEmpty, let state = graph.buildState(root),
      let metadata = graph.lookup(state, "_metadata"), let items = graph.dictItems(metadata)
    else { return [] }
    var edits: [Edit] = []
    for (i, item) in items.enumerated() {
      guard var key = graph.string(item.key), !key.isEmpty else { continue }
      let original = key
      for pattern in patterns {
        // A module path is a key without its last component: `module` for `module.x`.
        if pattern.old.hasSuffix("."), key + "." == pattern.old {
          key = String(pattern.new.dropLast(pattern.new.hasSuffix(".") ? 1 : 0))
        } else if let renamed = pattern.apply(to: key) {
          key = renamed.key
        }
      }
      if key != original { edits.append(.renameKey(container: metadata, item: i, to: key)) }
    }
    return edits
  }

  /// Storage records reachable from the root once `edits` are applied.
  static func reachableRecords(_ edits: [Edit], _ checkpoint: Checkpoint) -> Set<String> {
    let result = GraphEditor.edit(edits, checkpoint)
    guard let root = result.root else { return [] }
    var byPid: [ValueID: String] = [:]
    for ref in checkpoint.storageReferences { byPid[ref.pidNode] = ref.record }
    var visited = Set<ValueID>()
    var work = [root]
    var records: Set<String> = []
    while let node = work.popLast() {
      guard visited.insert(node).inserted else { continue }
      if let record = byPid[node] { records.insert(record) }
      work.append(contentsOf: result.graph.children(of: node))
    }
    return records
  }
}

extension RemapPlan {
  /// A plan that moves nothing.
  static var empty: RemapPlan {
    RemapPlan(edits: [], moves: [], deviceArguments: [], leftAlone: [], sharedWithUnselected: [])
  }
}
