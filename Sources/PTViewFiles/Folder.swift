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

extension Folder {
  /// The regular files under `path` (at any depth), sorted by path. Symbolic links are not
  /// followed and not listed; unreadable subfolders are skipped. Nil when `path` is not a
  /// folder.
  public static func regularFiles(under path: String) -> [String]? {
    guard isDirectory(path, followingLinks: true) else { return nil }
    var found: [String] = []
    var pending = [path]
    while let folder = pending.popLast() {
      for name in list(folder) ?? [] {
        let full = folder.hasSuffix("/") ? folder + name : folder + "/" + name
        var info = stat()
        guard lstat(full, &info) == 0 else { continue }
        switch info.st_mode & S_IFMT {
        case S_IFREG: found.append(full)
        case S_IFDIR: pending.append(full)
        default: break
        }
      }
    }
    return found.sorted()
  }

  /// Whether `path` names a regular file, following symbolic links (Hugging Face's cache
  /// links every file of a snapshot to a blob). Asked before opening, so a FIFO in a folder
  /// is never opened (opening one blocks).
  public static func isRegularFile(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
  }

  /// Whether `path` names a folder.
  public static func isDirectory(_ path: String, followingLinks: Bool) -> Bool {
    var info = stat()
    let status = followingLinks ? stat(path, &info) : lstat(path, &info)
    return status == 0 && info.st_mode & S_IFMT == S_IFDIR
  }
}
