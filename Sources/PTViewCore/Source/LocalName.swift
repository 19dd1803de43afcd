/// The local file name that stands for an input when a verb suggests where to write.
///
/// A remote input (`https://host/dir/model.pt?download=1`, `s3://bucket/dir/model.pt`) has no
/// folder here, so a suggested output goes into the current folder, named after the URL's last
/// path segment; a local path is returned as it is.
public enum LocalName {
  /// `path` itself, or for a URL its last path segment (query and fragment dropped).
  public static func of(_ path: String) -> String {
    let chars = Array(path)
    guard let colon = chars.firstIndex(of: ":"), colon > 0, colon + 2 < chars.count,
      chars[colon + 1] == "/", chars[colon + 2] == "/",
      chars[..<colon].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "+" })
    else { return path }
    var rest = chars[(colon + 3)...]
    if let cut = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) { rest = rest[..<cut] }
    let segments = rest.split(separator: "/", omittingEmptySubsequences: true).dropFirst()
    guard let last = segments.last, !last.isEmpty else { return "download" }
    return String(last)
  }
}
