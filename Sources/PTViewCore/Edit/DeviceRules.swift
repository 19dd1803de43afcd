/// `--map FROM=TO` rules and `--to DEVICE`: which device each storage location goes to.
///
/// Rules are tried in order and the first whose pattern matches wins; `*` in a pattern
/// matches any run of characters (`cuda:*`). The default target applies to every location no
/// rule matched.
public struct DeviceRules: Sendable, Equatable {
  /// One `FROM=TO` rule.
  public struct Rule: Sendable, Equatable {
    /// A location pattern (`cuda:1`, `cuda:*`, `*`).
    public var from: String
    /// The device to move to.
    public var to: String
    /// Creates a rule.
    public init(from: String, to: String) {
      self.from = from
      self.to = to
    }
  }

  /// The rules, first match wins.
  public var rules: [Rule]
  /// Where everything else goes (`--to`), if anywhere.
  public var defaultTarget: String?

  /// Creates a rule set.
  public init(rules: [Rule] = [], defaultTarget: String? = nil) {
    self.rules = rules
    self.defaultTarget = defaultTarget
  }

  /// Parses `FROM=TO`.
  /// - Throws: a message when the text is not a rule or names an impossible device.
  public static func parse(_ text: String) throws(RuleError) -> Rule {
    let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
    guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
      throw RuleError("'\(text)' is not FROM=TO (e.g. cuda:1=cuda:0 or 'cuda:*=cpu')")
    }
    let to = String(parts[1])
    try validate(device: to)
    return Rule(from: String(parts[0]), to: to)
  }

  /// Checks that `device` looks like a torch location: `cpu`, `cuda`, `cuda:0`, `mps`, `xpu:1`...
  public static func validate(device: String) throws(RuleError) {
    let pieces = device.split(separator: ":", omittingEmptySubsequences: false)
    let nameOK =
      pieces.first.map { name in
        !name.isEmpty
          && name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }
          && !(name.first?.isNumber ?? true)
      } ?? false
    let indexOK =
      pieces.count == 1
      || (pieces.count == 2 && !pieces[1].isEmpty
        && pieces[1].allSatisfy { $0.isASCII && $0.isNumber })
    guard nameOK, indexOK else {
      throw RuleError("'\(device)' is not a device (expected e.g. cpu, cuda:0, mps, xpu:1)")
    }
  }

  /// The device `location` goes to, or nil when it stays.
  public func target(for location: String) -> String? {
    if let rule = rules.first(where: { Glob.matches($0.from, location) }) {
      return rule.to == location ? nil : rule.to
    }
    if let defaultTarget, defaultTarget != location { return defaultTarget }
    return nil
  }
}

/// A rule or device that cannot be used.
public struct RuleError: Error, Equatable, Sendable, CustomStringConvertible {
  /// Why.
  public var message: String
  /// Creates an error.
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

/// Shell-style patterns where `*` matches any run of characters (dots included) and `?` one.
public enum Glob {
  /// Whether `text` matches `pattern` in full.
  public static func matches(_ pattern: String, _ text: String) -> Bool {
    matches(Array(pattern.unicodeScalars), Array(text.unicodeScalars), star: "*", any: "?")
  }

  /// The same over any elements (the explorer matches UTF-8 bytes it has case-folded).
  /// Greedy with backtracking to the last star: linear in practice, no recursion.
  @inlinable
  public static func matches<E: Equatable>(_ p: [E], _ t: [E], star: E, any: E) -> Bool {
    var pi = 0
    var ti = 0
    var lastStar = -1
    var mark = 0
    while ti < t.count {
      if pi < p.count && (p[pi] == any || p[pi] == t[ti]) {
        pi += 1
        ti += 1
      } else if pi < p.count && p[pi] == star {
        lastStar = pi
        mark = ti
        pi += 1
      } else if lastStar >= 0 {
        pi = lastStar + 1
        mark += 1
        ti = mark
      } else {
        return false
      }
    }
    while pi < p.count && p[pi] == star { pi += 1 }
    return pi == p.count
  }
}
