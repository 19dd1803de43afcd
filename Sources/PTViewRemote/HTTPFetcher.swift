import Foundation
public import PTViewCore

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// Range requests to an `http://` or `https://` URL, with an optional bearer token.
public struct HTTPFetcher: RangeFetcher {
  public let name: String
  let url: URL
  let token: String?
  let transport: HTTPTransport

  /// A fetcher for `text` (already known to be an HTTP URL).
  /// - Parameter token: sent as `Authorization: Bearer` (never across a redirect to another
  ///   host).
  public init(_ text: String, token: String?, transport: HTTPTransport) throws(SourceError) {
    guard let url = URL(string: text), url.host != nil else {
      throw SourceError("not a valid URL")
    }
    self.name = text
    self.url = url
    self.token = token
    self.transport = transport
  }

  func request(range: String) -> URLRequest {
    var request = URLRequest(url: url)
    request.httpMethod = "GET"
    request.setValue(range, forHTTPHeaderField: "Range")
    // Byte offsets must be those of the stored file, not of a compressed transfer.
    request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
    if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
    return request
  }

  public func fetchTail(_ count: Int) throws(SourceError) -> (bytes: [UInt8], size: Int64) {
    let response = try transport.send(
      request(range: "bytes=-\(count)"), requireRange: true, maxBytes: max(count, 1 << 16))
    return try RangeAnswer.accept(response, wanted: nil)
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
