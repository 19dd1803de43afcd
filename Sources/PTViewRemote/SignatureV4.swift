import Crypto
public import Foundation

/// AWS Signature Version 4 for S3 requests with an unsigned-payload-free GET (empty body).
///
/// The hashing and HMAC come from swift-crypto; this file only builds the canonical request
/// and the string to sign as AWS documents them.
public struct SignatureV4: Sendable {
  /// The credentials to sign with.
  public var credentials: AWSCredentials
  /// The region in the credential scope (`us-east-1`, ...).
  public var region: String
  /// The service in the credential scope.
  public var service = "s3"

  /// Creates a signer.
  public init(credentials: AWSCredentials, region: String) {
    self.credentials = credentials
    self.region = region
  }

  /// The SHA-256 of nothing: the payload hash of a GET.
  public static let emptyPayloadHash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

  /// Signs a request: returns the headers to add (`Authorization`, `x-amz-date`,
  /// `x-amz-content-sha256`, and `x-amz-security-token` for temporary credentials).
  /// - Parameters:
  ///   - path: the request path, already URI-encoded as it goes on the wire.
  ///   - query: the raw query string (without `?`), or empty.
  ///   - headers: headers to sign besides those added here (`host` is required).
  ///   - date: the signing time (`yyyyMMdd'T'HHmmss'Z'` is derived from it).
  public func sign(
    method: String, path: String, query: String = "", headers: [String: String],
    payloadHash: String = emptyPayloadHash, date: Date
  ) -> [String: String] {
    let stamp = Self.timestamp(date)
    let day = String(stamp.prefix(8))
    var all: [String: String] = [:]
    for (name, value) in headers { all[name.lowercased()] = value }
    all["x-amz-date"] = stamp
    all["x-amz-content-sha256"] = payloadHash
    if let token = credentials.sessionToken { all["x-amz-security-token"] = token }
    let names = all.keys.sorted()
    let canonicalHeaders = names.map { "\($0):\(Self.trimmed(all[$0]!))\n" }.joined()
    let signedHeaders = names.joined(separator: ";")
    let canonical = [
      method, path.isEmpty ? "/" : path, Self.canonicalQuery(query), canonicalHeaders,
      signedHeaders, payloadHash,
    ].joined(separator: "\n")
    let scope = "\(day)/\(region)/\(service)/aws4_request"
    let stringToSign = [
      "AWS4-HMAC-SHA256", stamp, scope, Self.hex(SHA256.hash(data: Data(canonical.utf8))),
    ].joined(separator: "\n")
    let signature = Self.hex(
      Self.hmac(signingKey(day: day), Data(stringToSign.utf8)))
    var out: [String: String] = [
      "Authorization":
        "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)",
      "x-amz-date": stamp,
      "x-amz-content-sha256": payloadHash,
    ]
    if let token = credentials.sessionToken { out["x-amz-security-token"] = token }
    return out
  }

  /// The key derived for one day, region and service.
  func signingKey(day: String) -> SymmetricKey {
    var key = SymmetricKey(data: Data("AWS4\(credentials.secretAccessKey)".utf8))
    for part in [day, region, service, "aws4_request"] {
      key = SymmetricKey(data: Self.hmac(key, Data(part.utf8)))
    }
    return key
  }

  static func hmac(_ key: SymmetricKey, _ data: Data) -> Data {
    Data(HMAC<SHA256>.authenticationCode(for: data, using: key))
  }

  static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
    digest.map { byte in
      let text = String(byte, radix: 16)
      return byte < 16 ? "0" + text : text
    }.joined()
  }

  static func hex(_ digest: SHA256.Digest) -> String { hex(Array(digest)) }

  /// `20130524T000000Z` for `date` in UTC.
  static func timestamp(_ date: Date) -> String {
    let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
    let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
    let rest = seconds - days * 86400
    let (y, m, d) = civil(fromDays: days)
    func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
    return "\(y)\(two(m))\(two(d))T\(two(rest / 3600))\(two(rest / 60 % 60))\(two(rest % 60))Z"
  }

  /// Year, month and day of a count of days since 1970-01-01 (proleptic Gregorian).
  static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
  }

  static func trimmed(_ value: String) -> String {
    value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
  }

  /// Query parameters sorted by name, each name and value URI-encoded.
  static func canonicalQuery(_ query: String) -> String {
    guard !query.isEmpty else { return "" }
    return query.split(separator: "&").map { pair -> (String, String) in
      let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      let name = String(parts[0]).removingPercentEncoding ?? String(parts[0])
      let value =
        parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : ""
      return (uriEncode(name, keepSlash: false), uriEncode(value, keepSlash: false))
    }.sorted { $0 < $1 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
  }

  /// AWS's URI encoding: unreserved characters kept, every other byte as `%XX` (upper case).
  public static func uriEncode(_ text: String, keepSlash: Bool) -> String {
    var out = ""
    for byte in text.utf8 {
      let c = Character(UnicodeScalar(byte))
      if (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
        || (byte >= 0x30 && byte <= 0x39) || c == "-" || c == "." || c == "_" || c == "~"
        || (keepSlash && c == "/")
      {
        out.append(c)
      } else {
        let hex = String(byte, radix: 16, uppercase: true)
        out += "%" + (byte < 16 ? "0" + hex : hex)
      }
    }
    return out
  }
}
