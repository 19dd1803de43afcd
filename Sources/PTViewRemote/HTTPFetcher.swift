public import PTViewCore

/// Range requests to an `http://` or `https://` URL, with an optional bearer token.
public struct HTTPFetcher: RangeFetcher {
  public let name: String
  let url: String
  let token: String?
  let transport: HTTPTransport

  /// A fetcher for `text` (already known to be an HTTP URL).
  /// - Parameter token: sent as `Authorization: Bearer` (never across a redirect to another
  ///   host).
  public init(_ text: String, token: String?, transport: HTTPTransport) throws(SourceError) {
    // libcurl sends the URL as given: one with blanks or control characters is refused here,
    // as a URL parser would.
    guard URLParts(text) != nil, !text.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else {
      throw SourceError("not a valid URL")
    }
    self.name = text
    self.url = text
    self.token = token
    self.transport = transport
  }

  func request(range: String) -> HTTPRequest {
    // Byte offsets must be those of the stored file, not of a compressed transfer.
    var request = HTTPRequest(url: url, headers: ["Range": range, "Accept-Encoding": "identity"])
    if let token { request.headers["Authorization"] = "Bearer \(token)" }
    return request
  }

  public func fetchTail(_ count: Int) throws(SourceError) -> (bytes: [UInt8], size: Int64) {
    let response = try transport.send(
      request(range: "bytes=-\(count)"), requireRange: true, maxBytes: max(count, 1 << 16))
    return try RangeAnswer.accept(response, wanted: nil)
  }

  public func fetchHead(_ count: Int) throws(SourceError) -> (bytes: [UInt8], size: Int64) {
    let response = try transport.send(
      request(range: "bytes=0-\(count - 1)"), requireRange: true, maxBytes: max(count, 1 << 16))
    return try RangeAnswer.accept(response, wanted: 0..<Int64(count))
  }

  public func fetch(_ range: Range<Int64>) throws(SourceError) -> [UInt8] {
    let response = try transport.send(
      request(range: "bytes=\(range.lowerBound)-\(range.upperBound - 1)"), requireRange: true,
      maxBytes: max(range.count, 1 << 16))
    return try RangeAnswer.accept(response, wanted: range).bytes
  }

  /// The token to send to `location`: `PTVIEW_HTTP_TOKEN` for any host, else `HF_TOKEN` for
  /// huggingface.co and its subdomains (the Hugging Face convention).
  public static func token(for location: RemoteLocation, environment: [String: String])
    -> String?
  {
    if let token = environment["PTVIEW_HTTP_TOKEN"], !token.isEmpty { return token }
    guard let host = location.host else { return nil }
    if host == "huggingface.co" || host.hasSuffix(".huggingface.co") || host == "hf.co" {
      if let token = environment["HF_TOKEN"], !token.isEmpty { return token }
    }
    return nil
  }
}
