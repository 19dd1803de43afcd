import PTViewCore

/// Key edits (`--strip-prefix`, `--rename`, `--drop`, `--keep`) planned over the state_dict
/// a whole checkpoint folder holds, not file by file.
///
/// A folder's model is spread over shards: `--drop lm_head.weight` names a key of the model,
/// and the shards that lack it are not wrong. Planned per file, every such shard would be
/// refused (no key matches). So the rules are checked once against the merged keys (the
/// same refusals a single file gets: a prefix no key has, a glob that matches nothing, two
/// keys that become one), and each file then gets only the edits that touch its own keys:
/// a safetensors shard is rewritten from `outputKey`, a torch shard through the ordinary
/// planner with `operations(forFile:)`.
public struct FolderKeyPlan: Sendable {
  /// The output key of every input key that stays (dropped keys are absent).
  public var outputKey: [String: String]
  /// Input keys dropped, in model order.
  public var dropped: [String]
  /// Keys renamed: (input key, output key), in model order, dropped ones left out.
  public var renamed: [(from: String, to: String)]
  /// The prefixes `--strip-prefix auto` found (joined into one, as for a single file).
  public var detectedPrefixes: [String]

  /// `operations` in the order they apply (the root, keys, drops, casts, device moves;
  /// within each, as given), as the single-file planner orders them.
  public static func ordered(_ operations: [EditOperation]) -> [EditOperation] {
    operations.enumerated().sorted {
      ($0.element.phase, $0.offset) < ($1.element.phase, $1.offset)
    }.map(\.element)
  }

  /// Whether `operations` change keys (`--strip-prefix`, `--rename`, `--drop`, `--keep`...).
  public static func changesKeys(_ operations: [EditOperation]) -> Bool {
    operations.contains { $0.phase == 2 || $0.phase == 3 }
  }

  /// The key edits of `operations` (the others are ignored), applied to `keys` (the merged
  /// state_dict's keys, in model order).
  /// - Throws: `EditRefusal`, with the words a single file's refusal has.
  public static func plan(keys: [String], _ operations: [EditOperation]) throws(EditRefusal)
    -> FolderKeyPlan
  {
    var current = keys
    var detected: [String] = []
    for operation in operations {
      switch operation {
      case .stripPrefix(let prefix):
        let prefixes: [String]
        if prefix == EditOperation.autoPrefix {
          prefixes = [try detectPrefix(current)]
          detected = prefixes
        } else {
          prefixes = [prefix.hasSuffix(".") ? prefix : prefix + "."]
        }
        for p in prefixes {
          try renameAll(&current, KeyPattern(old: p, new: ""), what: "--strip-prefix \(p)")
        }
      case .rename(let pattern):
        try renameAll(&current, pattern, what: "--rename \(pattern.old)=\(pattern.new)")
      default: break
      }
    }
    var seen: [String: String] = [:]
    for (old, new) in zip(keys, current) {
      if let other = seen.updateValue(old, forKey: new) {
        throw EditRefusal("'\(other)' and '\(old)' would both become '\(new)'")
      }
    }
    var drop: [String] = []
    var keep: [String] = []
    for case .drop(let glob) in operations { drop.append(glob) }
    for case .keep(let glob) in operations { keep.append(glob) }
    var gone = Array(repeating: false, count: keys.count)
    for glob in drop {
      let hits = current.indices.filter { Glob.matches(glob, current[$0]) }
      if hits.isEmpty {
        throw EditRefusal(
          "--drop \(glob): no key matches; keys start with \(EditPlanner.commonPrefixes(current))")
      }
      for i in hits { gone[i] = true }
    }
    if !keep.isEmpty {
      let kept = current.map { key in keep.contains { Glob.matches($0, key) } }
      if !kept.contains(true) {
        throw EditRefusal(
          "--keep \(keep.joined(separator: ", ")): no key matches; keys start with \(EditPlanner.commonPrefixes(current))"
        )
      }
      for i in kept.indices where !kept[i] { gone[i] = true }
    }
    var plan = FolderKeyPlan(outputKey: [:], dropped: [], renamed: [], detectedPrefixes: detected)
    for i in keys.indices {
      if gone[i] {
        plan.dropped.append(keys[i])
      } else {
        plan.outputKey[keys[i]] = current[i]
        if current[i] != keys[i] { plan.renamed.append((keys[i], current[i])) }
      }
    }
    return plan
  }

  /// The operations for one torch file of the folder holding `keys` (its state_dict keys;
  /// `weights` false for files outside the model: optimizer, scheduler, RNG state): the key
  /// edits that change one of its keys (an `auto` prefix made explicit), drops whose glob
  /// matches one of them, and every cast and device move. A file none of whose keys a
  /// `--keep` glob matches loses every entry.
  public func operations(forFile keys: [String], weights: Bool, _ operations: [EditOperation])
    -> [EditOperation]
  {
    var out: [EditOperation] = []
    var current = keys
    var keepMatched = false
    var keeps: [EditOperation] = []
    for operation in operations {
      switch operation {
      case .stripPrefix(let prefix):
        guard weights else { continue }
        let p =
          prefix == EditOperation.autoPrefix
          ? detectedPrefixes.first ?? prefix : (prefix.hasSuffix(".") ? prefix : prefix + ".")
        if Self.renameSome(&current, KeyPattern(old: p, new: "")) { out.append(.stripPrefix(p)) }
      case .rename(let pattern):
        guard weights else { continue }
        if Self.renameSome(&current, pattern) { out.append(operation) }
      case .drop(let glob):
        guard weights else { continue }
        if current.contains(where: { Glob.matches(glob, $0) }) { out.append(operation) }
      case .keep(let glob):
        guard weights else { continue }
        keeps.append(operation)
        if current.contains(where: { Glob.matches(glob, $0) }) { keepMatched = true }
      case .cast, .moveDevices:
        out.append(operation)
      case .extract, .stateDict, .fromError:
        out.append(operation)
      }
    }
    if !keeps.isEmpty {
      // `*` crosses dots: every entry of the file.
      out += keepMatched ? keeps : [.drop("*")]
    }
    return out
  }

  /// Renames every key `pattern` matches; refuses when none does.
  static func renameAll(_ keys: inout [String], _ pattern: KeyPattern, what: String)
    throws(EditRefusal)
  {
    if !renameSome(&keys, pattern) {
      throw EditRefusal(
        "\(what): no key starts with it; keys start with \(EditPlanner.commonPrefixes(keys))")
    }
  }

  /// Renames the keys `pattern` matches (as a flat dict's keys are renamed); whether any
  /// changed.
  @discardableResult
  static func renameSome(_ keys: inout [String], _ pattern: KeyPattern) -> Bool {
    var changed = false
    for i in keys.indices {
      guard let result = pattern.apply(to: keys[i]), result.replaced > 0 || pattern.old.isEmpty,
        result.key != keys[i], !result.key.isEmpty
      else { continue }
      keys[i] = result.key
      changed = true
    }
    return changed
  }

  /// The prefix `--strip-prefix auto` removes from every key (`module.`, `_orig_mod.`, and
  /// their repetitions, joined).
  static func detectPrefix(_ keys: [String]) throws(EditRefusal) -> String {
    guard !keys.isEmpty else {
      throw EditRefusal("--strip-prefix auto: the folder holds no tensors")
    }
    var found = ""
    var current = keys
    for _ in 0..<8 {
      let everyKey = { (p: String) in current.allSatisfy { $0.hasPrefix(p) } }
      guard let p = ["module.", "_orig_mod."].first(where: everyKey) else { break }
      found += p
      current = current.map { String($0.dropFirst(p.count)) }
    }
    guard !found.isEmpty else {
      throw EditRefusal(
        "--strip-prefix auto: no module. or _orig_mod. prefix on every key; keys start with "
          + EditPlanner.commonPrefixes(keys))
    }
    return found
  }
}
