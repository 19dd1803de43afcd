/// A key rewrite, as ptview's CLI flags express it.
///
/// A rule rewrites the keys that start with its old prefix and leaves the others alone.
/// Prefixes are whole dotted segments: they end with "." or are empty, so `module.` never
/// touches `modules.x`.
public enum KeyRule: Sendable, Equatable {
  /// `--strip-prefix P`: drops P (ending with ".") from the keys that start with it.
  case stripPrefix(String)
  /// `--rename OLD=NEW`: replaces OLD by NEW; an empty OLD adds NEW to every key.
  case replacePrefix(old: String, new: String)

  /// The prefix a key must start with for the rule to touch it.
  public var oldPrefix: String {
    switch self {
    case .stripPrefix(let prefix): prefix
    case .replacePrefix(let old, _): old
    }
  }

  /// What replaces `oldPrefix`.
  public var newPrefix: String {
    switch self {
    case .stripPrefix: ""
    case .replacePrefix(_, let new): new
    }
  }

  /// The command-line flag that asks for this rule: "--strip-prefix module.",
  /// "--rename backbone.=encoder.", "--rename =module.".
  public var flag: String {
    switch self {
    case .stripPrefix(let prefix): "--strip-prefix \(prefix)"
    case .replacePrefix(let old, let new): "--rename \(old)=\(new)"
    }
  }

  /// The key with the rule applied; unchanged when it does not start with `oldPrefix`.
  /// Compares bytes, as Python's `str.startswith` compares code points (Swift's `hasPrefix`
  /// would equate differently normalized keys that torch keeps apart).
  public func apply(to key: String) -> String {
    let old = oldPrefix
    guard key.utf8.starts(with: old.utf8) else { return key }
    // `old` is a whole string, so the byte after it starts a scalar in `key` too.
    let rest = key.utf8.index(key.startIndex, offsetBy: old.utf8.count)
    return newPrefix + key[rest...]
  }

  /// The key after every rule, in order, each applied to the result of the previous one.
  public static func apply(_ rules: [KeyRule], to key: String) -> String {
    rules.reduce(key) { $1.apply(to: $0) }
  }
}

/// The rules that make a checkpoint's keys match a model, and what they leave unexplained.
public struct KeyDerivation: Sendable, Equatable {
  /// To apply in order (`KeyRule.apply(_:to:)`).
  public var rules: [KeyRule]
  /// Keys torch listed as missing that no rule supplies (tolerated ones excluded), in torch's
  /// order.
  public var unmatchedMissing: [String]
  /// Keys torch listed as unexpected that no rule turns into a model key, as the file has
  /// them, in torch's order. Includes any listed key the file does not have: the message was
  /// then about another file.
  public var unmatchedUnexpected: [String]
  /// Missing `*.num_batches_tracked` keys no rule supplies. BatchNorm fills these in for
  /// checkpoints older than the buffer, so they say nothing about the key names. But torch
  /// lists one only when it did not fill it in (the file's `_metadata` gives that module
  /// version 2 or later), so a strict load still reports it after renaming; the writer must
  /// add it (a zero int64 scalar, what BatchNorm would fill in) or drop the `_metadata`.
  public var tolerated: [String]

  public var explainsEverything: Bool { unmatchedMissing.isEmpty && unmatchedUnexpected.isEmpty }

  public init(
    rules: [KeyRule], unmatchedMissing: [String], unmatchedUnexpected: [String],
    tolerated: [String]
  ) {
    self.rules = rules
    self.unmatchedMissing = unmatchedMissing
    self.unmatchedUnexpected = unmatchedUnexpected
    self.tolerated = tolerated
  }
}

/// Derives prefix rules from what `load_state_dict` said and the file's own keys.
///
/// torch lists missing keys (the model's, absent from the file) and unexpected keys (the
/// file's, absent from the model). The model's keys are then the missing ones plus the file
/// keys torch did not call unexpected, plus any `num_batches_tracked` BatchNorm filled in
/// silently (torch lists neither it missing nor the file's prefixed copy as matching), which is
/// recognised by the module's `running_mean` or `running_var`.
///
/// The search is greedy, one rule per round, at most `maxRules` rounds:
/// 1. Each unexpected key is paired with the missing keys sharing its longest dotted suffix
///    (`module.fc.weight` with `fc.weight`); the differing heads give a rule
///    (`module.` -> ``), and the same rule narrowed by one segment (`module.fc.` -> `fc.`),
///    for when the wide one would touch keys that match already. Each pairing is a vote.
/// 2. The most voted candidates are tried on every file key. A candidate is refused when
///    two keys would get one name, when a key that matched would stop matching, when a model
///    key would lose the file key it had (so a rule may move a matching key only onto
///    another model key while some other key takes its place), or when it explains nothing.
///    A rename (both prefixes non-empty) must also move a subtree whole: every key it touches
///    lands on the model, every missing key under the new prefix is covered, and some pair
///    shares more than the parameter name (a Linear's weight and bias match any other
///    Linear's; an extra layer in the file and a new layer in the model are not a rename).
/// 3. Strips and added prefixes (what wrappers do) go before renames; then the most keys
///    explained, the fewest touched, the shortest prefixes.
///
/// Each round costs one pass over the keys per candidate, at most `maxCandidates`.
/// `Scripts/make_load_errors.py` holds the same search in Python; its fixtures, checked by
/// real torch, are the tests' expected values.
public enum KeyRuleDeriver {
  static let maxRules = 8
  static let maxCandidates = 16
  /// Missing keys remembered per suffix: a bare "weight" suffix would otherwise list them all.
  static let maxPrefixesPerSuffix = 4

  /// `fileKeys`: every key of the checkpoint's state_dict as the user's file has them.
  public static func derive(_ message: LoadErrorMessage, fileKeys: [String]) -> KeyDerivation {
    var search = Search(
      missing: message.missing, unexpected: message.unexpected, fileKeys: fileKeys)
    while search.rules.count < maxRules, let step = search.bestStep() {
      search.take(step)
    }
    return search.result()
  }
}

private let batchesTracked = "num_batches_tracked"

private func isBatchesTracked(_ key: String) -> Bool {
  key == batchesTracked || key.hasSuffix("." + batchesTracked)
}

/// Code-point order, as Python sorts: the reference and this search must break ties alike.
private func precedes(_ left: String, _ right: String) -> Bool {
  left.utf8.lexicographicallyPrecedes(right.utf8)
}

/// A candidate rule's two prefixes.
private struct Pair: Hashable {
  var old: String
  var new: String
}

/// Pairings for a candidate; `deep` counts those sharing more than the last segment.
private struct Votes {
  var count = 0
  var deep = 0
}

/// One key a rule renames: its position among the file keys, its name before and after.
private struct Change {
  var file: Int
  var before: String
  var after: String
}

/// An accepted candidate and what it changes.
private struct Step {
  var pair: Pair
  var changes: [Change]
  var gain: Int

  var isRename: Bool { !pair.old.isEmpty && !pair.new.isEmpty }

  /// Strips and additions first, then the most explained, the fewest touched, the shortest.
  func ranksBefore(_ other: Step) -> Bool {
    if isRename != other.isRename { return !isRename }
    if gain != other.gain { return gain > other.gain }
    if changes.count != other.changes.count { return changes.count < other.changes.count }
    let length = pair.old.unicodeScalars.count + pair.new.unicodeScalars.count
    let otherLength = other.pair.old.unicodeScalars.count + other.pair.new.unicodeScalars.count
    if length != otherLength { return length < otherLength }
    if pair.old != other.pair.old { return precedes(pair.old, other.pair.old) }
    return precedes(pair.new, other.pair.new)
  }
}

/// The search's state: the file keys' names after the rules so far.
private struct Search {
  let missing: [String]
  let unexpected: [String]
  /// The file keys, first occurrence of each.
  let files: [String]
  let fileIndex: [String: Int]
  /// The model's keys as far as the message tells: missing plus matched.
  let model: Set<String>
  /// `images[i]`: `files[i]` after the rules so far.
  var images: [String]
  /// The images, for collisions.
  var current: Set<String>
  /// Model keys some image supplies.
  var hit: Set<String>
  var rules: [KeyRule] = []

  init(missing: [String], unexpected: [String], fileKeys: [String]) {
    self.missing = missing
    self.unexpected = unexpected
    var index: [String: Int] = [:]
    var files: [String] = []
    for key in fileKeys where index[key] == nil {
      index[key] = files.count
      files.append(key)
    }
    self.files = files
    fileIndex = index
    let unexpectedSet = Set(unexpected)
    var model = Set(missing)
    for key in files where !unexpectedSet.contains(key) { model.insert(key) }
    self.model = model
    images = files
    current = Set(files)
    hit = Set(files.filter { model.contains($0) })
  }

  /// A `num_batches_tracked` BatchNorm filled in: not listed, but the module has running
  /// statistics, so the model has the buffer.
  func fillable(_ name: String) -> Bool {
    guard isBatchesTracked(name), !model.contains(name) else { return false }
    let end = name.utf8.index(name.endIndex, offsetBy: -batchesTracked.utf8.count)
    let base = String(name[..<end])
    return model.contains(base + "running_mean") || model.contains(base + "running_var")
  }

  /// The name is one the model has.
  func good(_ name: String) -> Bool { model.contains(name) || fillable(name) }

  /// The best acceptable rule for what is still unexplained, or nil.
  func bestStep() -> Step? {
    let bad = images.filter { !good($0) }
    let unhit = missing.filter { !hit.contains($0) }
    if bad.isEmpty || unhit.isEmpty { return nil }

    var index: [Substring: [Substring]] = [:]
    for key in unhit {
      for (prefix, suffix) in dotSplits(key) {
        if index[suffix, default: []].count < KeyRuleDeriver.maxPrefixesPerSuffix {
          index[suffix, default: []].append(prefix)
        }
      }
    }

    var votes: [Pair: Votes] = [:]
    func vote(_ pair: Pair, deep: Bool) {
      votes[pair, default: Votes()].count += 1
      if deep { votes[pair, default: Votes()].deep += 1 }
    }
    for name in bad where !isBatchesTracked(name) {  // follows its module's other keys
      for (old, suffix) in dotSplits(name) {
        guard let news = index[suffix] else { continue }
        // Deep: the keys share more than the parameter's own name.
        let dot = suffix.utf8.firstIndex(of: UInt8(ascii: "."))
        for new in news {
          vote(Pair(old: String(old), new: String(new)), deep: dot != nil)
          if let dot {  // the same rule limited to the first segment below it
            let segment = suffix[...dot]
            vote(Pair(old: String(old + segment), new: String(new + segment)), deep: true)
          }
        }
        break
      }
    }

    let ranked = votes.sorted { left, right in
      if left.value.count != right.value.count { return left.value.count > right.value.count }
      if left.key.old != right.key.old { return precedes(left.key.old, right.key.old) }
      return precedes(left.key.new, right.key.new)
    }.prefix(KeyRuleDeriver.maxCandidates)

    var best: Step?
    for (pair, tally) in ranked {
      guard let step = evaluate(pair, deep: tally.deep, unhit: unhit) else { continue }
      if let chosen = best, !step.ranksBefore(chosen) { continue }
      best = step
    }
    return best
  }

  /// The candidate as a step, or nil when it is refused (see `KeyRuleDeriver`).
  func evaluate(_ pair: Pair, deep: Int, unhit: [String]) -> Step? {
    let rule = KeyRule.replacePrefix(old: pair.old, new: pair.new)
    let isRename = !pair.old.isEmpty && !pair.new.isEmpty
    // Only parameter names in common: a different layer as likely as a renamed one.
    if isRename && deep == 0 { return nil }
    var changes: [Change] = []
    for (file, name) in images.enumerated() where name.utf8.starts(with: pair.old.utf8) {
      changes.append(Change(file: file, before: name, after: rule.apply(to: name)))
    }
    let removed = Set(changes.map(\.before))
    let added = Set(changes.map(\.after))
    if added.count < changes.count { return nil }  // two keys, one name
    if added.contains(where: { current.contains($0) && !removed.contains($0) }) { return nil }
    if changes.contains(where: { good($0.before) && !good($0.after) }) { return nil }
    if removed.contains(where: { !added.contains($0) && model.contains($0) }) { return nil }
    let newHits = added.filter { !removed.contains($0) && model.contains($0) }
    let gain = changes.count(where: { good($0.after) && !good($0.before) }) + newHits.count
    if gain == 0 { return nil }
    if isRename {
      // A rename moves a subtree whole: onto the model, covering the new prefix's keys.
      if changes.contains(where: { !good($0.after) }) { return nil }
      let uncovered = unhit.contains {
        $0.utf8.starts(with: pair.new.utf8) && !isBatchesTracked($0) && !newHits.contains($0)
      }
      if uncovered { return nil }
    }
    return Step(pair: pair, changes: changes, gain: gain)
  }

  mutating func take(_ step: Step) {
    rules.append(
      step.pair.new.isEmpty
        ? .stripPrefix(step.pair.old) : .replacePrefix(old: step.pair.old, new: step.pair.new))
    for change in step.changes {
      images[change.file] = change.after
      current.remove(change.before)
    }
    for change in step.changes {
      current.insert(change.after)
      if model.contains(change.after) { hit.insert(change.after) }
    }
  }

  func result() -> KeyDerivation {
    let unsupplied = missing.filter { !hit.contains($0) }
    return KeyDerivation(
      rules: rules,
      unmatchedMissing: unsupplied.filter { !isBatchesTracked($0) },
      unmatchedUnexpected: unexpected.filter { key in
        guard let file = fileIndex[key] else { return true }
        return !good(images[file])
      },
      tolerated: unsupplied.filter(isBatchesTracked))
  }
}

/// (head, tail) cuts of a key at its dots, longest tail first: the head is empty or ends with
/// ".", the tail is never empty.
private func dotSplits(_ key: String) -> [(Substring, Substring)] {
  var splits: [(Substring, Substring)] = [(key[..<key.startIndex], key[...])]
  var from = key.utf8.startIndex
  while let dot = key.utf8[from...].firstIndex(of: UInt8(ascii: ".")) {
    let after = key.utf8.index(after: dot)
    if after < key.endIndex { splits.append((key[..<after], key[after...])) }
    from = after
  }
  return splits
}
