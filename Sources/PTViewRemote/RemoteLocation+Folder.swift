public import PTViewCore

/// Remote folders: a sharded checkpoint's index and the shards beside it.
///
/// A remote store has no folder to open: the index file is the folder's name (or, on S3, a
/// prefix a listing searches), and every shard is the index's location with the last name
/// replaced. The shard names come from the index, which may be hostile: only plain file
/// names are accepted (`sibling`), so an index can never send ptview to another folder, host
/// or scheme.
extension RemoteLocation {
  /// The location as the user would type it: the URL, or `s3://BUCKET/KEY`.
  public var text: String {
    switch self {
    case .http(let text): text
    case .s3(let bucket, let key): "s3://\(bucket)/\(key)"
    }
  }

  /// The URL or key without its query and fragment (an S3 key has none: `?` and `#` are
  /// characters of the key).
  private var pathText: String {
    switch self {
    case .http(let text):
      let scheme = text.firstRange(of: "://")!.upperBound
      let end = text[scheme...].firstIndex { $0 == "?" || $0 == "#" } ?? text.endIndex
      return String(text[..<end])
    case .s3: return text
    }
  }

  /// Whether an `http(s)` URL carries a query: what `sibling` drops.
  public var hasQuery: Bool {
    guard case .http(let text) = self else { return false }
    let scheme = text.firstRange(of: "://")!.upperBound
    return text[scheme...].prefix { $0 != "#" }.contains("?")
  }

  /// Whether the location ends with `/`: a folder, not a file.
  public var isFolder: Bool { pathText.hasSuffix("/") }

  /// The last name of the path (percent-decoded for a URL); empty for a folder.
  public var lastName: String {
    let path = pathText
    guard let slash = path.lastIndex(of: "/") else { return "" }
    let name = path[path.index(after: slash)...]
    if case .http = self { return SignatureV4.percentDecoded(name) }
    return String(name)
  }

  /// The folder the location is in, as text without the trailing `/`: what messages put
  /// before a member's name (`FOLDER/NAME`).
  public var folderText: String {
    let path = pathText
    guard let slash = path.lastIndex(of: "/") else { return path }
    return String(path[..<slash])
  }

  /// The file `name` beside this location (in the same folder; a URL's query is not kept).
  /// - Throws: `SourceError` when `name` is not one plain file name: empty, `.` or `..`, a
  ///   `/` or `\`, a control character (what a hostile index names to leave the folder).
  public func sibling(_ name: String) throws(SourceError) -> RemoteLocation {
    guard Self.isPlainName(name) else {
      throw SourceError("\(JSONWriter.quoted(name)) is not a file name beside \(text)")
    }
    let path = pathText
    let folder = path[...path.lastIndex(of: "/")!]
    switch self {
    case .http: return .http(folder + SignatureV4.uriEncode(name, keepSlash: false))
    case .s3(let bucket, _):
      let key = folder.dropFirst("s3://\(bucket)/".count)
      return .s3(bucket: bucket, key: key + name)
    }
  }

  /// Whether `name` can stand for a file beside another in a URL or key: one name, nothing
  /// that a URL reader (or a Windows-minded server) would take as a separator.
  public static func isPlainName(_ name: String) -> Bool {
    !name.isEmpty && name != "." && name != ".."
      && !name.utf8.contains {
        $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "\\") || $0 < 0x20 || $0 == 0x7F
      }
  }
}
