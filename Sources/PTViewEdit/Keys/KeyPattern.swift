import PTViewCore

/// Dotted-key prefix patterns for `--rename OLD=NEW` and `--strip-prefix P`.
///
/// `OLD` names a prefix of a key at a dot boundary: `conv1` renames `conv1.weight` and
/// `conv1` but not `conv10.weight`. An `OLD` ending in `.` is a plain string prefix (the dot
/// is the boundary), and an empty `OLD` matches the start of every key (`=module.` adds a
/// prefix). `*` in `OLD` matches any run of characters, dots included, and each `*` in `NEW`
/// is replaced by what the corresponding `*` matched.
public struct KeyPattern: Hashable, Sendable {
  /// The prefix pattern.
  public var old: String
  /// Its replacement.
  public var new: String

  /// Creates a pattern.
  public init(old: String, new: String) {
    self.old = old
    self.new = new
  }

  /// Parses `OLD=NEW`.
  public static func parse(_ text: String) throws(RuleError) -> KeyPattern {
    guard let equals = text.firstIndex(of: "=") else {
      throw RuleError("'\(text)' is not OLD=NEW (e.g. backbone=encoder or module.=)")
    }
    let pattern = KeyPattern(
      old: String(text[..<equals]), new: String(text[text.index(after: equals)...]))
    let oldStars = pattern.old.filter { $0 == "*" }.count
    let newStars = pattern.new.filter { $0 == "*" }.count
    guard newStars <= oldStars else {
      throw RuleError("'\(text)': NEW has more * than OLD, so some * would have nothing to copy")
    }
    return pattern
  }

  /// The key after the rename, with the length of the prefix it replaced, or nil when the
  /// pattern does not match. The shortest matching prefix at a dot boundary wins.
  public func apply(to key: String) -> (key: String, replaced: Int)? {
    let chars = Array(key)
    let pattern = Array(old)
    if pattern.isEmpty { return (new + key, 0) }
    guard !chars.isEmpty else { return nil }
    let plainPrefix = old.hasSuffix(".")
    // Candidate ends: dot boundaries (and the whole key); a plain prefix can end anywhere
    // its final dot lands.
    var ends: [Int] = []
    for end in 1...chars.count {
      if plainPrefix {
        if chars[end - 1] == "." { ends.append(end) }
      } else if end == chars.count || chars[end] == "." {
        ends.append(end)
      }
    }
    for end in ends {
      if let captures = KeyPattern.match(pattern, chars[0..<end]) {
        var replacement = ""
        var next = 0
        for c in new {
          if c == "*", next < captures.count {
            replacement += captures[next]
            next += 1
          } else {
            replacement.append(c)
          }
        }
        return (replacement + String(chars[end...]), end)
      }
    }
    return nil
  }

  /// Matches `pattern` against all of `text`; returns what each `*` matched.
  static func match(_ pattern: [Character], _ text: ArraySlice<Character>) -> [String]? {
    // Backtracking over stars; patterns are short and keys are short.
    func go(_ p: Int, _ t: Int, _ caps: [String]) -> [String]? {
      if p == pattern.count { return t == text.endIndex ? caps : nil }
      if pattern[p] == "*" {
        var end = text.endIndex
        while end >= t {
          if let found = go(p + 1, end, caps + [String(text[t..<end])]) { return found }
          end -= 1
        }
        return nil
      }
      guard t < text.endIndex, pattern[p] == "?" || pattern[p] == text[t] else { return nil }
      return go(p + 1, t + 1, caps)
    }
    // Star count bounds the recursion depth (a few per pattern); refuse absurd ones.
    guard pattern.filter({ $0 == "*" }).count <= 16 else { return nil }
    return go(0, text.startIndex, [])
  }
}
