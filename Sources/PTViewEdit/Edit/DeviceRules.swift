import PTViewCore

/// `--map FROM=TO` rules and `--to DEVICE`: which device each storage location goes to.
///
/// Rules are tried in order and the first whose pattern matches wins; `*` in a pattern
/// matches any run of characters (`cuda:*`). The default target applies to every location no
/// rule matched.
public struct DeviceRules: Sendable, Hashable {
  /// One `FROM=TO` rule.
  public struct Rule: Sendable, Hashable {
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

  /// Device names `torch.load` knows how to restore (torch/serialization.py's registry):
  /// `cpu` and `meta` exactly, the others with an optional `:N`.
  public static let restorableBackends = ["cuda", "mps", "xpu", "hpu", "mtia", "privateuseone"]

  /// Checks that `torch.load` can restore a storage tagged `device` (on a machine that has
  /// the device). `cuda0` or `banana` would be written happily and then refused by every
  /// plain `torch.load` ("don't know how to restore data location"), so they are refused here,
  /// unless `custom` says the user means a backend registered by their own code.
  public static func validateTarget(_ device: String, custom: Bool) throws(RuleError) {
    try validate(device: device)
    if custom || device == "cpu" || device == "meta" { return }
    let pieces = device.split(separator: ":", omittingEmptySubsequences: false)
    if restorableBackends.contains(String(pieces[0])) { return }
    throw RuleError(
      "torch.load cannot restore a storage tagged '\(device)' (valid: cpu, meta, "
        + restorableBackends.map { "\($0)[:N]" }.joined(separator: ", ")
        + "; --custom-device if your code registers that backend)")
  }

  /// Parses `FROM=TO`.
  /// - Throws: a message when the text is not a rule or names an impossible device.
  public static func parse(_ text: String, custom: Bool = true) throws(RuleError) -> Rule {
    let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
    guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
      throw RuleError("'\(text)' is not FROM=TO (e.g. cuda:1=cuda:0 or 'cuda:*=cpu')")
    }
    let to = String(parts[1])
    try validateTarget(to, custom: custom)
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

  /// The rules that send every location where these rules and then `next` send it. Code
  /// literals are rewritten once, from the input's text, so several moves of every tensor
  /// reach them as one rule set.
  public func followed(by next: DeviceRules) -> DeviceRules {
    func after(_ device: String) -> String { next.target(for: device) ?? device }
    var composed = DeviceRules(rules: rules.map { Rule(from: $0.from, to: after($0.to)) })
    if let defaultTarget {
      // Nothing gets past these rules to `next`'s own.
      composed.defaultTarget = after(defaultTarget)
    } else {
      composed.rules += next.rules
      composed.defaultTarget = next.defaultTarget
    }
    return composed
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
