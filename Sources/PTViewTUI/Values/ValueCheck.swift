import PTViewCore

/// The full-file NaN/Inf check (`V`): statistics over every tensor in the background, then a
/// mark on each row holding NaN or Inf. Marks are kept per tree node, not per row, so they
/// survive filtering, folding and the rows the safety scan adds; a folded row shows the worst
/// mark below it.
public struct ValueCheck: Sendable {
  /// A row's mark.
  public enum Mark: UInt8, Sendable, Comparable {
    case none = 0
    /// Holds +Inf or -Inf, no NaN.
    case inf = 1
    /// Holds NaN.
    case nan = 2

    public static func < (a: Mark, b: Mark) -> Bool { a.rawValue < b.rawValue }
  }

  // `result` comes first: with `running` (a Bool) right before it, the debug build's copy of
  // `Model` read a flag byte as a reference and crashed in the test binary (Swift 6.3).
  /// The last finished check, if any.
  public internal(set) var result: ValueCheckResult?
  /// Per node: its own mark (tensors only).
  var own: [Mark] = []
  /// Per node: the worst mark in its subtree.
  var below: [Mark] = []
  /// Raised at every start and stop: progress and results of older runs are dropped.
  public internal(set) var generation = 0
  /// Whether a check is running.
  public internal(set) var running = false

  /// No check yet.
  public init() {}

  /// Whether any row is marked (the tree then gets a column for the marks).
  public var hasMarks: Bool { !(result?.nonFinite.isEmpty ?? true) }

  /// The mark of node `id` itself.
  public func mark(of id: Int32) -> Mark { Int(id) < own.count ? own[Int(id)] : .none }

  /// The worst mark in the subtree of `id`.
  public func markBelow(_ id: Int32) -> Mark { Int(id) < below.count ? below[Int(id)] : .none }

  /// Marks the tree's nodes from a finished check.
  mutating func apply(_ checked: ValueCheckResult, tree: Tree) {
    result = checked
    own = Array(repeating: .none, count: tree.count)
    below = own
    for (entry, hasNaN) in checked.nonFinite {
      guard entry >= 0, Int(entry) < tree.entryNode.count else { continue }
      let node = tree.entryNode[Int(entry)]
      guard node >= 0 else { continue }
      let mark: Mark = hasNaN ? .nan : .inf
      own[Int(node)] = max(own[Int(node)], mark)
      var at = node
      while at >= 0 {
        below[Int(at)] = max(below[Int(at)], mark)
        at = tree[at].parent
      }
    }
  }
}

extension Model {
  /// `V`: starts the full-file check, or stops the one running.
  mutating func toggleValueCheck() -> [Effect] {
    valueCheck.generation += 1
    if valueCheck.running {
      valueCheck.running = false
      status = Status("Value check stopped; the marks of the last finished check stay.")
      return [.values(.stopCheck)]
    }
    guard !tree.entries.isEmpty else {
      status = Status("No tensors to check.", .warning)
      return []
    }
    valueCheck.running = true
    status = Status("Checking the values of every tensor for NaN and Inf… V stops.")
    return [.values(.checkAll(generation: valueCheck.generation))]
  }

  /// Progress and the result of the full-file check.
  mutating func receiveCheck(_ reply: ValuesReply) {
    guard reply.generation == valueCheck.generation, valueCheck.running else { return }
    switch reply.content {
    case .checkProgress(let done, let total):
      let percent = total > 0 ? Int(Double(min(done, total)) / Double(total) * 100) : 0
      status = Status(
        "Checking values: \(percent)% (\(Format.bytes(min(done, total))) of \(Format.bytes(total))). V stops."
      )
    case .checked(let result):
      valueCheck.running = false
      valueCheck.apply(result, tree: tree)
      let nan = result.nonFinite.values.count { $0 }
      let inf = result.nonFinite.count - nan
      var text: String
      if result.nonFinite.isEmpty {
        text =
          "Values checked: no NaN or Inf in \(result.checked) tensor\(result.checked == 1 ? "" : "s")"
      } else {
        text =
          "Values checked: \(result.nonFinite.count) of \(result.checked) tensors hold NaN or Inf"
        var parts: [String] = []
        if nan > 0 { parts.append("N: NaN ×\(nan)") }
        if inf > 0 { parts.append("I: Inf only ×\(inf)") }
        text += " (" + parts.joined(separator: ", ") + ")"
      }
      if !result.unreadable.isEmpty { text += "; \(result.unreadable.count) without values" }
      status = Status(text + ".", result.nonFinite.isEmpty ? .success : .warning)
    case .failed(let why):
      valueCheck.running = false
      status = Status("Value check failed: \(why)", .error)
    default:
      break
    }
  }
}
