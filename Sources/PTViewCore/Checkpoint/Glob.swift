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
