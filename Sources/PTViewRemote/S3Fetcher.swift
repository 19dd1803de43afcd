public import PTViewCore

/// Range requests to one S3 object, signed with Signature V4 unless anonymous.
///
/// On AWS the object is addressed virtual-host style (`https://BUCKET.s3.REGION.amazonaws.com/
/// KEY`), path style when the bucket name has dots (its certificate would not match); a custom
/// endpoint (MinIO, Ceph, R2, a local test server) is always addressed path style.
public struct S3Fetcher: RangeFetcher {
  public let name: String
  let url: String
  let host: String
  let path: String
  let signer: SignatureV4?
  let transport: HTTPTransport

  /// A fetcher for `s3://bucket/key` with the resolved configuration.
  public init(bucket: String, key: String, config: AWSConfig, transport: HTTPTransport)
    throws(SourceError)
  {
    name = "s3://\(bucket)/\(key)"
    let encodedKey = SignatureV4.uriEncode(key, keepSlash: true)
    let (base, prefix) = Self.address(bucket: bucket, config: config)
    let url = base + prefix + "/" + encodedKey
    guard let parts = URLParts(url), parts.scheme == "http" || parts.scheme == "https",
      !url.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F })
    else {
      throw SourceError("cannot build a URL for \(name) from endpoint \(base)")
    }
    self.url = url
    self.host = parts.hostHeader
    // The endpoint's own path (a path prefix) belongs to the signed path too.
    self.path = parts.path
    self.signer = config.credentials.map { SignatureV4(credentials: $0, region: config.region) }
    self.transport = transport
  }

  /// Where `bucket` is: the scheme and host (`base`), and the path of the bucket on it
  /// (`/BUCKET` path style, empty virtual-host style). An object's URL is
  /// `base + bucketPath + "/" + KEY`.
  static func address(bucket: String, config: AWSConfig) -> (base: String, bucketPath: String) {
    if var endpoint = config.endpoint {
      while endpoint.hasSuffix("/") { endpoint.removeLast() }
      if !endpoint.contains("://") { endpoint = "https://" + endpoint }
      return (endpoint, "/" + SignatureV4.uriEncode(bucket, keepSlash: false))
    }
    if bucket.contains(".") {
      return (
        "https://s3.\(config.region).amazonaws.com",
        "/" + SignatureV4.uriEncode(bucket, keepSlash: false)
      )
    }
    return ("https://\(bucket).s3.\(config.region).amazonaws.com", "")
  }

  func request(range: String) throws(SourceError) -> HTTPRequest {
    var request = HTTPRequest(url: url, headers: ["Range": range, "Accept-Encoding": "identity"])
    if let signer {
      let added = try signer.sign(
        method: "GET", path: path, headers: ["host": host, "range": range])
      for (name, value) in added { request.headers[name] = value }
    }
    return request
  }

  public func fetchTail(_ count: Int) throws(SourceError) -> (bytes: [UInt8], size: Int64) {
    let response = try transport.send(
      try request(range: "bytes=-\(count)"), requireRange: true, maxBytes: max(count, 1 << 16))
    return try RangeAnswer.accept(response, wanted: nil)
  }

  public func fetchHead(_ count: Int) throws(SourceError) -> (bytes: [UInt8], size: Int64) {
    let response = try transport.send(
      try request(range: "bytes=0-\(count - 1)"), requireRange: true, maxBytes: max(count, 1 << 16))
    return try RangeAnswer.accept(response, wanted: 0..<Int64(count))
  }

  public func fetch(_ range: Range<Int64>) throws(SourceError) -> [UInt8] {
    let response = try transport.send(
      try request(range: "bytes=\(range.lowerBound)-\(range.upperBound - 1)"), requireRange: true,
      maxBytes: max(range.count, 1 << 16))
    return try RangeAnswer.accept(response, wanted: range).bytes
  }
}
