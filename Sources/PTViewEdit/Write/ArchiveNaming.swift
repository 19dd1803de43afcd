import PTViewCore

/// How torch names the root folder of the archive it writes to a path.
public enum ArchiveNaming {
  /// The root torch's writer uses for `path`: its base name without the last extension
  /// (`my.model.v2.pth` -> `my.model.v2`, `.hidden.pt` -> `.hidden`). Non-ASCII names are
  /// written through a Python file object, which gives `archive`; so does a name with nothing
  /// left (torch refuses `.pt` itself).
  public static func root(forPath path: String) -> String {
    let base =
      path.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? path
    guard base.allSatisfy(\.isASCII) else { return "archive" }
    var stem = base
    if let dot = base.lastIndex(of: ".") { stem = String(base[..<dot]) }
    return stem.isEmpty ? "archive" : stem
  }
}
