public import PTViewCore

#if canImport(Glibc)
  import Glibc
#endif

/// AWS Signature Version 4 for S3 requests with an unsigned-payload-free GET (empty body).
///
/// The hashing and HMAC come from OpenSSL's libcrypto (`Hashing`, opened at the first signed
/// request); this file only builds the canonical request and the string to sign as AWS
/// documents them.
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
  ///   - time: the signing time in seconds since 1970 (`yyyyMMdd'T'HHmmss'Z'` is derived from
  ///     it); the clock's by default.
  /// - Throws: `SourceError` when libcrypto cannot be opened.
  public func sign(
    method: String, path: String, query: String = "", headers: [String: String],
    payloadHash: String = emptyPayloadHash, time: Int64 = SignatureV4.now()
  ) throws(SourceError) -> [String: String] {
    try Hashing.load()
    let stamp = Self.timestamp(time)
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
      "AWS4-HMAC-SHA256", stamp, scope, Hashing.hex(Hashing.sha256(Array(canonical.utf8))),
    ].joined(separator: "\n")
    let signature = Hashing.hex(
      Hashing.hmacSHA256(key: signingKey(day: day), Array(stringToSign.utf8)))
    var out: [String: String] = [
      "Authorization":
        "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)",
      "x-amz-date": stamp,
      "x-amz-content-sha256": payloadHash,
    ]
    if let token = credentials.sessionToken { out["x-amz-security-token"] = token }
    return out
  }

  /// The key derived for one day, region and service. `Hashing.load()` must have succeeded.
  func signingKey(day: String) -> [UInt8] {
    var key = Array("AWS4\(credentials.secretAccessKey)".utf8)
    for part in [day, region, service, "aws4_request"] {
      key = Hashing.hmacSHA256(key: key, Array(part.utf8))
    }
    return key
  }

  /// The clock's time in whole seconds since 1970.
  public static func now() -> Int64 { Int64(Glibc.time(nil)) }

  /// `20130524T000000Z` for `seconds` since 1970, in UTC.
  static func timestamp(_ seconds: Int64) -> String {
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
      let name = percentDecoded(parts[0])
      let value = parts.count > 1 ? percentDecoded(parts[1]) : ""
      return (uriEncode(name, keepSlash: false), uriEncode(value, keepSlash: false))
    }.sorted { $0 < $1 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
  }

  /// `text` with `%XX` escapes decoded; the text as it is when an escape is malformed or the
  /// result is not UTF-8.
  static func percentDecoded(_ text: Substring) -> String {
    var out: [UInt8] = []
    var bytes = text.utf8[...]
    while let byte = bytes.popFirst() {
      guard byte == UInt8(ascii: "%") else {
        out.append(byte)
        continue
      }
      guard let high = bytes.popFirst().flatMap(hexDigit),
        let low = bytes.popFirst().flatMap(hexDigit)
      else { return String(text) }
      out.append(high << 4 | low)
    }
    return String(validating: out, as: UTF8.self) ?? String(text)
  }

  private static func hexDigit(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
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
