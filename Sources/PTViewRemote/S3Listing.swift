public import PTViewCore

/// One page of `ListObjectsV2` under a prefix, one level deep (delimiter `/`): what finds the
/// shard index of `s3://BUCKET/PREFIX/` when the user names no index file.
///
/// Only the first page (1,000 keys) is read: a model folder holds a few dozen files, and a
/// prefix with more than that is no folder to guess in (the caller then asks for the index
/// file's name).
public struct S3Listing: Sendable, Equatable {
  /// The full keys of the objects directly under the prefix, in the store's (byte) order.
  public var keys: [String]
  /// True when the store has more keys than this page holds.
  public var truncated: Bool

  /// Keys per page: S3's own limit.
  static let pageSize = 1000
  /// The most bytes of listing accepted (1,000 entries take about 400 KB).
  static let maxBytes = 8 << 20

  /// Lists the objects directly under `prefix` in `bucket`.
  /// - Throws: `SourceError` with the HTTP status (and S3's error code) when the store refuses.
  public static func list(
    bucket: String, prefix: String, config: AWSConfig, transport: HTTPTransport
  ) throws(SourceError) -> S3Listing {
    let (base, bucketPath) = S3Fetcher.address(bucket: bucket, config: config)
    // Sorted by name and encoded as Signature V4 canonicalises it, so the signed query is the
    // one sent.
    let query = [
      "delimiter=%2F", "list-type=2", "max-keys=\(pageSize)",
      "prefix=" + SignatureV4.uriEncode(prefix, keepSlash: false),
    ].joined(separator: "&")
    let path = bucketPath.isEmpty ? "/" : bucketPath
    let url = base + path + "?" + query
    guard let parts = URLParts(url), parts.scheme == "http" || parts.scheme == "https",
      !url.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F })
    else {
      throw SourceError("cannot build a URL for s3://\(bucket)/\(prefix) from endpoint \(base)")
    }
    var request = HTTPRequest(url: url, headers: ["Accept-Encoding": "identity"])
    if let credentials = config.credentials {
      let signer = SignatureV4(credentials: credentials, region: config.region)
      let added = try signer.sign(
        method: "GET", path: parts.path, query: query, headers: ["host": parts.hostHeader])
      for (name, value) in added { request.headers[name] = value }
    }
    let response = try transport.send(request, maxBytes: maxBytes)
    guard response.status == 200 else { throw SourceError(RangeAnswer.describe(response)) }
    return parse(String(decoding: response.body, as: UTF8.self))
  }

  /// The keys (`<Contents><Key>`) and the truncation flag of a `ListBucketResult` document.
  /// Common prefixes (`<CommonPrefixes><Prefix>`) are sub-folders and are left out.
  static func parse(_ xml: String) -> S3Listing {
    var keys: [String] = []
    var rest = xml[...]
    while let open = rest.firstRange(of: "<Contents>"),
      let close = rest[open.upperBound...].firstRange(of: "</Contents>")
    {
      let entry = rest[open.upperBound..<close.lowerBound]
      if let keyOpen = entry.firstRange(of: "<Key>"),
        let keyClose = entry[keyOpen.upperBound...].firstRange(of: "</Key>")
      {
        keys.append(unescaped(entry[keyOpen.upperBound..<keyClose.lowerBound]))
      }
      rest = rest[close.upperBound...]
    }
    let truncated = RangeAnswer.xmlElement("IsTruncated", in: xml) == "true"
    return S3Listing(keys: keys, truncated: truncated)
  }

  /// XML text with its five named entities and numeric references decoded; a malformed
  /// reference is kept as written.
  static func unescaped(_ text: Substring) -> String {
    guard text.contains("&") else { return String(text) }
    var out = ""
    var rest = text
    while let amp = rest.firstIndex(of: "&") {
      out += rest[..<amp]
      let tail = rest[amp...]
      guard let semi = tail.prefix(12).firstIndex(of: ";") else {
        out += "&"
        rest = rest[rest.index(after: amp)...]
        continue
      }
      let name = tail[tail.index(after: amp)..<semi]
      let named: [Substring: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'",
      ]
      var decoded = named[name]
      if decoded == nil, name.hasPrefix("#") {
        let digits = name.dropFirst()
        let value =
          digits.hasPrefix("x") ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits)
        decoded = value.flatMap(Unicode.Scalar.init).map { String(Character($0)) }
      }
      if let decoded {
        out += decoded
        rest = rest[rest.index(after: semi)...]
      } else {
        out += "&"
        rest = rest[rest.index(after: amp)...]
      }
    }
    return out + rest
  }
}
