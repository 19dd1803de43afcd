import PTViewCore
import PTViewPickle

extension KeyTree {
  /// The node at a dotted key path. Keys may contain dots themselves (`module.conv1.weight`
  /// in a flat dict), so each step takes the longest item key that the rest of the path
  /// starts with at a dot boundary.
  func resolve(_ path: String) -> ValueID? {
    if path.isEmpty { return root }
    var parent = -1
    var rest = Substring(path)
    while true {
      var best: Int?
      for i in items.indices where items[i].parent == parent {
        let key = items[i].key
        guard rest.hasPrefix(key) else { continue }
        let after = rest.dropFirst(key.count)
        guard after.isEmpty || after.first == "." else { continue }
        if best == nil || key.count > items[best!].key.count { best = i }
      }
      guard let found = best else { return nil }
      rest = rest.dropFirst(items[found].key.count)
      if rest.isEmpty { return items[found].value }
      rest = rest.dropFirst()
      parent = found
    }
  }

  /// The root's keys, for messages.
  func topLevelSummary() -> String {
    let keys = items.filter { $0.parent < 0 }.map(\.key)
    if keys.isEmpty { return "(none: the root is not a dict)" }
    return keys.prefix(12).joined(separator: ", ") + (keys.count > 12 ? ", …" : "")
  }

  /// Applies a prefix rename to every key it matches; returns how many keys changed.
  ///
  /// A key changes in the container where the matched prefix ends: the item whose own key
  /// holds that end. The rename may not move a key out of its container (`a.b` to `c` when
  /// `a` is a nested dict): that would need a new dict, and is refused.
  mutating func rename(_ pattern: KeyPattern, requireMatch: Bool, what: String)
    throws(EditRefusal) -> Int
  {
    var changed = 0
    var parentFull: [String] = Array(repeating: "", count: items.count)
    for i in items.indices {
      let parent = items[i].parent
      let prefix = parent < 0 ? "" : parentFull[parent] + "."
      let full = prefix + items[i].key
      defer { parentFull[i] = parent < 0 ? items[i].key : parentFull[parent] + "." + items[i].key }
      guard items[i].isString, let result = pattern.apply(to: full) else { continue }
      // The match must end inside this item's own key (else an ancestor's rename covers it).
      guard result.replaced > prefix.count || (pattern.old.isEmpty && parent < 0) else { continue }
      guard result.key.hasPrefix(prefix), result.key.count > prefix.count else {
        throw EditRefusal(
          "\(what): '\(full)' would leave its container '\(parentFull[parent])'; rename inside it, or --extract it first"
        )
      }
      let local = String(result.key.dropFirst(prefix.count))
      if local != items[i].key {
        items[i].key = local
        changed += 1
      }
    }
    if requireMatch && changed == 0 {
      throw EditRefusal("\(what): no key starts with it; keys start with \(summaryOfKeys())")
    }
    return changed
  }

  /// The keys' first components with counts, for messages.
  func summaryOfKeys() -> String {
    let keys = tensorKeys.isEmpty ? items.indices.map(fullKey) : tensorKeys
    return EditPlanner.commonPrefixes(keys)
  }

  /// Refuses when two items of one container end up with the same key.
  func checkCollisions() throws(EditRefusal) {
    var byContainer: [ValueID: [String: Int]] = [:]
    for i in items.indices where items[i].isString {
      let container = items[i].container
      if let other = byContainer[container]?[items[i].key] {
        throw EditRefusal(
          "'\(originalFullKey(other))' and '\(originalFullKey(i))' would both become '\(fullKey(i))'; nothing written"
        )
      }
      byContainer[container, default: [:]][items[i].key] = i
    }
  }

  /// Items to leave out: those a drop glob matches (with everything below them), and, when
  /// keep globs are given, those neither matched nor above or below a match.
  func selectDropped(drop: [String], keep: [String]) throws(EditRefusal) -> Set<Int> {
    var dropped: Set<Int> = []
    guard !drop.isEmpty || !keep.isEmpty else { return dropped }
    let full = items.indices.map(fullKey)
    for glob in drop {
      let hits = items.indices.filter { Glob.matches(glob, full[$0]) }
      if hits.isEmpty {
        throw EditRefusal("--drop \(glob): no key matches; keys start with \(summaryOfKeys())")
      }
      dropped.formUnion(hits)
    }
    if !keep.isEmpty {
      var kept = Array(repeating: false, count: items.count)
      var any = false
      for i in items.indices where keep.contains(where: { Glob.matches($0, full[i]) }) {
        any = true
        // The match, everything below it (preorder: its subtree follows it), and its parents.
        kept[i] = true
        var j = i + 1
        while j < items.count, isBelow(j, i) {
          kept[j] = true
          j += 1
        }
        var p = items[i].parent
        while p >= 0 {
          kept[p] = true
          p = items[p].parent
        }
      }
      if !any {
        throw EditRefusal(
          "--keep \(keep.joined(separator: ", ")): no key matches; keys start with \(summaryOfKeys())"
        )
      }
      for i in items.indices where !kept[i] { dropped.insert(i) }
    }
    // Everything below a dropped item goes with it.
    for i in items.indices where !dropped.contains(i) && isDropped(i, dropped) {
      dropped.insert(i)
    }
    return dropped
  }

  /// Whether item `i` or one of its parents is in `dropped`.
  func isDropped(_ i: Int, _ dropped: Set<Int>) -> Bool {
    var at = i
    while at >= 0 {
      if dropped.contains(at) { return true }
      at = items[at].parent
    }
    return false
  }

  /// Whether item `j` is below item `i`.
  func isBelow(_ j: Int, _ i: Int) -> Bool {
    var at = items[j].parent
    while at >= 0 {
      if at == i { return true }
      at = items[at].parent
    }
    return false
  }
}
