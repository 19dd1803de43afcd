public import PTViewCore

/// Where a remote checkpoint lives: an HTTP(S) URL or an S3 object.
///
/// Parsed by hand from the argument text, so that what the user typed is what every message
/// shows, and so that an S3 key keeps characters a URL parser would reinterpret (`?`, `#`, `%`).
public enum RemoteLocation: Sendable, Equatable {
  /// `http://` or `https://`: the text as given.
  case http(String)
  /// `s3://bucket/key`.
  case s3(bucket: String, key: String)

  /// Whether `text` names a remote location (so it is never opened as a local path).
  public static func isRemote(_ text: String) -> Bool {
    let lower = text.lowercased()
    return lower.hasPrefix("http://") || lower.hasPrefix("https://") || lower.hasPrefix("s3://")
  }

  /// The location `text` names, nil when it is a local path.
  /// - Throws: `SourceError` for a remote-looking text that names nothing readable.
  public static func parse(_ text: String) throws(SourceError) -> RemoteLocation? {
    guard isRemote(text) else { return nil }
    let lower = text.lowercased()
    if lower.hasPrefix("s3://") {
      let rest = text.dropFirst(5)
      guard let slash = rest.firstIndex(of: "/") else {
        throw SourceError("an S3 location needs a key: s3://BUCKET/KEY")
      }
      let bucket = String(rest[..<slash])
      let key = String(rest[rest.index(after: slash)...])
      guard !bucket.isEmpty, !key.isEmpty else {
        throw SourceError("an S3 location needs a bucket and a key: s3://BUCKET/KEY")
      }
      return .s3(bucket: bucket, key: key)
    }
    let afterScheme = text[text.index(text.firstIndex(of: ":")!, offsetBy: 3)...]
    let host = afterScheme.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
    guard !host.isEmpty else { throw SourceError("the URL has no host") }
    return .http(text)
  }

  /// The host of an HTTP location, lowercased, without user info or port.
  public var host: String? {
    guard case .http(let text) = self else { return nil }
    return URLParts(text)?.host
  }
}
