import PTViewCore

/// A filter typed after `f`: space-separated terms that must all hold, each optionally
/// negated with a leading `-` or `!`.
///
/// `device:cuda` (device prefix), `dtype:bf16` (short or torch name, prefix), `shape:*,768`
/// (pattern over the shape without brackets), `storage:data/3`, `pending`, and anything else
/// as a key pattern (`*` crosses dots; plain words match anywhere in the key, smart case).
public struct Filter: Hashable, Sendable {
  enum Field: Hashable, Sendable {
    case device(String)
    case dtype(String)
    case shape(String)
    case storage(String)
    case pending
    case key(KeyMatcher)
  }

  struct Term: Hashable, Sendable {
    var field: Field
    var negated: Bool
  }

  /// The text as typed.
  public let text: String
  let terms: [Term]

  /// Parses `text`.
  /// - Throws: a message naming the term it cannot read.
  public init(_ text: String) throws(FilterError) {
    self.text = text
    var terms: [Term] = []
    for word in text.split(separator: " ") {
      var w = String(word)
      var negated = false
      if w.count > 1, w.hasPrefix("-") || w.hasPrefix("!") {
        negated = true
        w.removeFirst()
      }
      let field: Field
      if let colon = w.firstIndex(of: ":"), colon != w.startIndex {
        let name = w[..<colon].lowercased()
        let value = String(w[w.index(after: colon)...])
        switch name {
        case "device", "dev", "d": field = .device(value)
        case "dtype", "t": field = .dtype(value)
        case "shape", "s":
          field = .shape(value.filter { $0 != "[" && $0 != "]" && $0 != " " })
        case "storage": field = .storage(value)
        case "is" where value == "pending": field = .pending
        default:
          // `cuda:0` typed alone, or a key with a colon in it: treat as a key pattern.
          field = .key(KeyMatcher(w))
        }
        if case .key = field {
        } else if value.isEmpty {
          throw FilterError(message: "\(name): needs a value (e.g. \(name):cuda)")
        }
      } else if w == "pending" {
        field = .pending
      } else {
        field = .key(KeyMatcher(w))
      }
      terms.append(Term(field: field, negated: negated))
    }
    self.terms = terms
  }

  /// Whether only key terms are used (values, which have no device or dtype, can match then).
  var keysOnly: Bool {
    terms.allSatisfy { if case .key = $0.field { true } else { false } }
  }

  /// Whether the tensor at `key` matches; `target` is where staged edits send it.
  func matches(_ tensor: TensorInfo, key: String, target: String?) -> Bool {
    for term in terms {
      let hit: Bool
      switch term.field {
      case .device(let d):
        hit = tensor.device.hasPrefix(d) || (target?.hasPrefix(d) ?? false)
      case .dtype(let d):
        let lower = d.lowercased()
        hit = tensor.dtype.shortName.hasPrefix(lower) || tensor.dtype.name.hasPrefix(lower)
      case .shape(let pattern):
        let shape = tensor.shape.map(String.init).joined(separator: ",")
        hit = Wildcard.isPattern(pattern) ? Wildcard.matches(pattern, shape) : shape == pattern
      case .storage(let pattern):
        let records = tensor.allStorages.map(\.record)
        hit = records.contains {
          Wildcard.isPattern(pattern) ? Wildcard.matches(pattern, $0) : $0 == pattern
        }
      case .pending:
        hit = target != nil
      case .key(let matcher):
        hit = matcher.matches(key)
      }
      if hit == term.negated { return false }
    }
    return true
  }

  /// Whether a value leaf at `key` matches (only key terms can).
  func matchesValue(key: String) -> Bool {
    guard keysOnly else { return false }
    for term in terms {
      guard case .key(let matcher) = term.field else { return false }
      if matcher.matches(key) == term.negated { return false }
    }
    return true
  }

  /// A plain word matches anywhere in the key; a pattern with `*` or `?` matches from the
  /// start of any key segment to the end (`layers.*.attn` finds `model.layers.3.attn`,
  /// `*.bias` every bias).
  static func keyMatches(_ pattern: String, _ key: String) -> Bool {
    KeyMatcher(pattern).matches(key)
  }
}

/// Why a filter could not be read.
public struct FilterError: Error, Hashable, Sendable {
  /// The reason, for the status line.
  public var message: String
}

/// A filter in force and what it keeps.
public struct ActiveFilter: Sendable {
  /// The filter.
  public var filter: Filter
  /// Per node: shown (it matches, or something below it does).
  public var shown: [Bool]
  /// Matching tensors.
  public var tensors: Int
  /// Their bytes.
  public var bytes: Int64
  /// Matching tensor entries, in file order.
  public var entries: [Int32]

  /// Evaluates `filter` over `tree`, in one pass; `moves` says where staged moves send each
  /// tensor (for `pending` and `device:`).
  public init(_ filter: Filter, tree: Tree, moves: PlannedMoves) {
    self.filter = filter
    var shown = Array(repeating: false, count: tree.count)
    var tensors = 0
    var bytes: Int64 = 0
    var entries: [Int32] = []
    for id in tree.preorder.reversed() {
      let node = tree[id]
      switch node.kind {
      case .tensor:
        if let entry = tree.entry(of: id),
          filter.matches(entry.tensor, key: node.key, target: moves.target(of: entry.tensor))
        {
          shown[Int(id)] = true
          tensors += 1
          bytes = bytes.addingSaturated(entry.tensor.nbytes)
          entries.append(node.entry)
        }
      case .value:
        if filter.matchesValue(key: node.key) { shown[Int(id)] = true }
      case .group:
        if !shown[Int(id)] && node.children.isEmpty && filter.matchesValue(key: node.key) {
          shown[Int(id)] = true
        }
      case .run, .root:
        break
      }
      if shown[Int(id)], node.parent >= 0 { shown[Int(node.parent)] = true }
    }
    shown[0] = true
    self.shown = shown
    self.tensors = tensors
    self.bytes = bytes
    self.entries = entries.reversed()
  }
}
