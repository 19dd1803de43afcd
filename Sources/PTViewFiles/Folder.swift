#if canImport(Glibc)
  import Glibc
#endif

/// Folder listing, for telling checkpoint folders (distributed checkpoints) apart.
public enum Folder {
  /// The entry names of the folder at `path`, or nil when it is not a folder.
  public static func list(_ path: String) -> [String]? {
    guard let dir = opendir(path) else { return nil }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return names
  }
}
