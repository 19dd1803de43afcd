import PTViewCore

/// Shell-style patterns over UTF-8 bytes: `*` matches any run (dots included), `?` one byte
/// (the core's `Glob`, iterative with one backtrack point, so it cannot blow up).
enum Wildcard {
  static func matchesBytes(_ pattern: [UInt8], _ text: [UInt8]) -> Bool {
    Glob.matches(pattern, text, star: UInt8(ascii: "*"), any: UInt8(ascii: "?"))
  }

  static func matches(_ pattern: String, _ text: String) -> Bool {
    matchesBytes(Array(pattern.utf8), Array(text.utf8))
  }

  /// Whether `pattern` uses wildcards at all.
  static func isPattern(_ s: String) -> Bool { s.contains("*") || s.contains("?") }
}

/// A key query compiled once: smart case (case-insensitive unless the query has a capital
/// letter, as in jless and vim), a plain word matching anywhere, a pattern with `*` or `?`
/// matching from the start of any key segment to the end.
///
/// Matching runs over the key's UTF-8 bytes without allocating, because a search or filter
/// tests every key of the checkpoint (120,000 of them in the benchmark file).
struct KeyMatcher: Hashable, Sendable {
  let needle: [UInt8]
  let foldCase: Bool
  let isPattern: Bool

  init(_ query: String) {
    foldCase = !query.contains(where: \.isUppercase)
    isPattern = Wildcard.isPattern(query)
    needle = foldCase ? query.utf8.map(KeyMatcher.fold) : Array(query.utf8)
  }

  static func fold(_ byte: UInt8) -> UInt8 {
    byte >= 65 && byte <= 90 ? byte + 32 : byte
  }

  func matches(_ key: String) -> Bool {
    if let result = key.utf8.withContiguousStorageIfAvailable({ matches(bytes: $0) }) {
      return result
    }
    return Array(key.utf8).withUnsafeBufferPointer { matches(bytes: $0) }
  }

  private func matches(bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    if isPattern {
      let text = foldCase ? bytes.map(KeyMatcher.fold) : Array(bytes)
      if Wildcard.matchesBytes(needle, text) { return true }
      for (i, b) in text.enumerated() where b == UInt8(ascii: ".") {
        if Wildcard.matchesBytes(needle, Array(text[(i + 1)...])) { return true }
      }
      return false
    }
    let n = needle.count
    if n == 0 { return true }
    guard bytes.count >= n else { return false }
    let first = needle[0]
    var i = 0
    let last = bytes.count - n
    while i <= last {
      let b = foldCase ? KeyMatcher.fold(bytes[i]) : bytes[i]
      if b == first {
        var j = 1
        while j < n {
          let c = foldCase ? KeyMatcher.fold(bytes[i + j]) : bytes[i + j]
          if c != needle[j] { break }
          j += 1
        }
        if j == n { return true }
      }
      i += 1
    }
    return false
  }
}
