/// The parts of an absolute `scheme://[user@]host[:port]/path?query#fragment` URL that the
/// transport needs: where a redirect leads (credentials stay with their origin), the `Host`
/// header S3 signs, and the path it signs. Parsed by hand, the standard library has no URL type.
struct URLParts: Equatable {
  /// `http` or `https` (lowercased; other schemes are kept for the caller to refuse).
  var scheme: String
  /// Lowercased, without user info or port; an IPv6 literal without its brackets.
  var host: String
  /// The port as written, nil when none is.
  var port: Int?
  /// From the first `/` after the authority up to `?` or `#`; empty when there is none.
  var path: String

  /// Parses `text`; nil when it has no `://`, no host, or a port that is not a number.
  init?(_ text: String) {
    guard let colon = text.firstIndex(of: ":"),
      text[colon...].hasPrefix("://")
    else { return nil }
    scheme = text[..<colon].lowercased()
    let rest = text[text.index(colon, offsetBy: 3)...]
    var authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
    let tail = rest[authority.endIndex...]
    path = String(tail.prefix { $0 != "?" && $0 != "#" })
    if let at = authority.lastIndex(of: "@") {
      authority = authority[authority.index(after: at)...]
    }
    var portText: Substring = ""
    if authority.hasPrefix("[") {
      guard let close = authority.firstIndex(of: "]") else { return nil }
      host = authority[authority.index(after: authority.startIndex)..<close].lowercased()
      portText = authority[authority.index(after: close)...]
    } else if let portColon = authority.firstIndex(of: ":") {
      host = authority[..<portColon].lowercased()
      portText = authority[portColon...]
    } else {
      host = authority.lowercased()
    }
    guard !host.isEmpty else { return nil }
    if portText.isEmpty {
      port = nil
    } else {
      guard portText.first == ":", let number = Int(portText.dropFirst()), number >= 0,
        number <= 65535
      else { return nil }
      port = number
    }
  }

  /// The port a connection goes to: the written one, else the scheme's.
  var effectivePort: Int { port ?? (scheme == "https" ? 443 : 80) }

  /// `host[:port]` as libcurl sends it in `Host:`: the port only when it is not the scheme's
  /// default (S3 signs this header, so it must be byte for byte what goes on the wire).
  var hostHeader: String {
    let name = host.contains(":") ? "[\(host)]" : host
    guard let port, port != (scheme == "https" ? 443 : 80) else { return name }
    return "\(name):\(port)"
  }

  /// Whether `other` is the same origin (scheme, host and port): credentials given for one
  /// origin are never sent to another.
  func sameOrigin(as other: URLParts) -> Bool {
    scheme == other.scheme && host == other.host && effectivePort == other.effectivePort
  }
}
