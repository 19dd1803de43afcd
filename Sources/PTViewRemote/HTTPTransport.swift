public import PTViewCore
public import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// One GET to send: the URL (already encoded as it goes on the wire) and its header fields.
public struct HTTPRequest: Sendable, Equatable {
  /// An absolute `http://` or `https://` URL.
  public var url: String
  /// Header fields by name (`Range`, `Authorization`, ...).
  public var headers: [String: String]

  /// Creates a request.
  public init(url: String, headers: [String: String] = [:]) {
    self.url = url
    self.headers = headers
  }
}

/// One HTTP exchange: status, headers (names lowercased) and the body.
public struct HTTPResponse: Sendable {
  /// The status code.
  public var status: Int
  /// Header fields, names lowercased.
  public var headers: [String: String]
  /// The body (empty when the exchange was cut short on purpose).
  public var body: [UInt8]
  /// The URL that answered, after redirects.
  public var finalURL: String
}

/// Certificates to trust besides the system's (a PEM file, or a folder of hashed PEM files),
/// and the variable that named them (for messages).
public struct CABundle: Sendable, Hashable {
  /// `AWS_CA_BUNDLE`, `ca_bundle` (the AWS profile's), `CURL_CA_BUNDLE`, `SSL_CERT_FILE` or
  /// `SSL_CERT_DIR`.
  public var variable: String
  /// A PEM file of certificates (`SSL_CERT_DIR`: a folder of them, named by hash).
  public var path: String

  /// Creates a bundle setting.
  public init(variable: String, path: String) {
    self.variable = variable
    self.path = path
  }

  /// The bundle file the environment names: `CURL_CA_BUNDLE` first, then `SSL_CERT_FILE` (the
  /// order of the curl command-line tool); empty values are unset. For `s3://` locations,
  /// AWS's own settings come first: `AWS_CA_BUNDLE`, then `awsProfileBundle` (the profile's
  /// `ca_bundle`), as the AWS CLI and SDKs read them.
  public static func from(
    environment: [String: String], s3: Bool = false, awsProfileBundle: String? = nil
  ) -> CABundle? {
    if s3 {
      if let path = environment["AWS_CA_BUNDLE"], !path.isEmpty {
        return CABundle(variable: "AWS_CA_BUNDLE", path: path)
      }
      if let path = awsProfileBundle, !path.isEmpty {
        return CABundle(variable: "ca_bundle", path: path)
      }
    }
    for variable in ["CURL_CA_BUNDLE", "SSL_CERT_FILE"] {
      if let path = environment[variable], !path.isEmpty {
        return CABundle(variable: variable, path: path)
      }
    }
    return nil
  }

  /// The certificate folder the environment names: `SSL_CERT_DIR` (OpenSSL's variable; libcurl
  /// gets it as `CURLOPT_CAPATH`), trusted besides the bundle file, whichever names that.
  public static func directory(environment: [String: String]) -> CABundle? {
    guard let path = environment["SSL_CERT_DIR"], !path.isEmpty else { return nil }
    return CABundle(variable: "SSL_CERT_DIR", path: path)
  }
}

/// Blocking HTTP GETs over libcurl, which is opened at the first request (never for a local
/// file): the `ByteSource` protocol is synchronous, and so is `curl_easy_perform`.
///
/// Idle easy handles are pooled, so connections stay alive between range requests while
/// concurrent readers each get their own. HTTPS is verified against the system's certificates
/// (and a `CABundle`, when set; nothing here turns verification off). Redirects are followed
/// here, not by libcurl, so that credentials (`Authorization`, `x-amz-security-token`) never
/// follow one to another origin.
public final class HTTPTransport: @unchecked Sendable {
  /// What the transport tells about long reads: bytes received of bytes expected.
  public typealias Progress = @Sendable (_ received: Int64, _ expected: Int64) -> Void

  /// What every request of this transport uses.
  public struct Settings: Sendable, Hashable {
    /// Seconds to connect, and seconds without progress before a request fails.
    public var timeout: Double
    /// A CA bundle file trusted besides the system's (`CURLOPT_CAINFO`).
    public var caBundle: CABundle?
    /// A folder of CA certificates trusted besides the system's (`CURLOPT_CAPATH`).
    public var caDirectory: CABundle?
    /// `PTVIEW_LIBCURL`: a libcurl file to open instead of `libcurl.so.4`.
    public var library: String?

    /// Creates settings.
    public init(
      timeout: Double = 30, caBundle: CABundle? = nil, caDirectory: CABundle? = nil,
      library: String? = nil
    ) {
      self.timeout = timeout
      self.caBundle = caBundle
      self.caDirectory = caDirectory
      self.library = library
    }

    /// The settings the environment gives for `location`: its CA bundle (`CABundle.from`),
    /// `SSL_CERT_DIR`, and `PTVIEW_LIBCURL`.
    /// - Parameter awsProfileBundle: the AWS profile's `ca_bundle`, for `s3://` locations.
    public static func from(
      environment: [String: String], s3: Bool = false, awsProfileBundle: String? = nil
    ) -> Settings {
      Settings(
        caBundle: CABundle.from(
          environment: environment, s3: s3, awsProfileBundle: awsProfileBundle),
        caDirectory: CABundle.directory(environment: environment),
        library: environment["PTVIEW_LIBCURL"].flatMap { $0.isEmpty ? nil : $0 })
    }
  }

  /// The settings.
  public let settings: Settings
  /// Seconds without progress before a request fails.
  public var timeout: Double { settings.timeout }
  /// Attempts per request on transient failures (5xx, 429, dropped connections, time-outs).
  public let attempts: Int
  /// Redirects followed per request.
  public static let maxRedirects = 10
  /// Total requests sent and body bytes received, for tests and `--verbose` counts.
  public let counters = Mutex<(requests: Int, bytes: Int64)>((0, 0))
  private let idle = Mutex<[CurlHandle]>([])

  /// Creates a transport; nothing is opened until the first request.
  public init(
    timeout: Double = 30, attempts: Int = 4, caBundle: CABundle? = nil,
    caDirectory: CABundle? = nil, library: String? = nil
  ) {
    self.settings = Settings(
      timeout: timeout, caBundle: caBundle, caDirectory: caDirectory, library: library)
    self.attempts = max(1, attempts)
  }

  /// A transport set up from the environment for HTTP(S) URLs: `CURL_CA_BUNDLE`/
  /// `SSL_CERT_FILE`, `SSL_CERT_DIR` and `PTVIEW_LIBCURL`.
  public convenience init(environment: [String: String]) {
    let settings = Settings.from(environment: environment)
    self.init(
      caBundle: settings.caBundle, caDirectory: settings.caDirectory, library: settings.library)
  }

  /// The process's transport for `settings`: every remote file a command opens with the same
  /// settings shares one pool of handles, so the shards of a remote folder reuse connections
  /// and never hold more handles than requests run at once.
  public static func shared(_ settings: Settings) -> HTTPTransport {
    sharedTransports.withLock { transports in
      if let transport = transports[settings] { return transport }
      let transport = HTTPTransport(
        timeout: settings.timeout, caBundle: settings.caBundle,
        caDirectory: settings.caDirectory, library: settings.library)
      transports[settings] = transport
      return transport
    }
  }

  private static let sharedTransports = Mutex<[Settings: HTTPTransport]>([:])

  /// Sends `request`, retrying transient failures with exponential backoff.
  /// - Parameters:
  ///   - requireRange: stop a 200 answer (the server ignored `Range` and is sending the whole
  ///     file) instead of reading it; the result then has status 200 and an empty body.
  ///   - maxBytes: the most body bytes to accept: a server sending more than it was asked for
  ///     is cut off (a hostile server cannot make ptview buffer without end).
  /// - Throws: `SourceError` when libcurl is missing or no answer came after the retries.
  public func send(
    _ request: HTTPRequest, requireRange: Bool = false, maxBytes: Int = Int.max,
    progress: Progress? = nil
  ) throws(SourceError) -> HTTPResponse {
    try Curl.load(library: settings.library)
    var delay = 0.25
    var lastProblem = ""
    for attempt in 1...attempts {
      let outcome = following(
        request, requireRange: requireRange, maxBytes: maxBytes, progress: progress)
      switch outcome {
      case .success(let response):
        if Self.isTransient(status: response.status) && attempt < attempts {
          lastProblem = "HTTP \(response.status)"
        } else {
          return response
        }
      case .failure(let error):
        lastProblem = error.message
        if !error.transient || attempt == attempts {
          throw SourceError(error.message)
        }
      }
      usleep(UInt32(delay * 1_000_000))
      delay *= 2
    }
    throw SourceError(lastProblem)
  }

  /// Whether a status is worth another try.
  static func isTransient(status: Int) -> Bool {
    status == 429 || status == 500 || status == 502 || status == 503 || status == 504
  }

  /// Whether a status is a redirect to follow.
  static func isRedirect(status: Int) -> Bool {
    status == 301 || status == 302 || status == 303 || status == 307 || status == 308
  }

  /// Header fields that are credentials: never sent to an origin other than the one given.
  static let credentialHeaders: Set<String> = ["authorization", "x-amz-security-token"]

  struct Failure: Error {
    var message: String
    var transient: Bool
  }

  /// One attempt: the request and the redirects it leads to, the same headers on every hop
  /// (the range above all) except credentials once the origin changes.
  private func following(
    _ request: HTTPRequest, requireRange: Bool, maxBytes: Int, progress: Progress?
  ) -> Result<HTTPResponse, Failure> {
    guard let origin = URLParts(request.url) else {
      return .failure(Failure(message: "not a valid URL", transient: false))
    }
    var url = request.url
    var headers = request.headers
    for _ in 0...Self.maxRedirects {
      let answer = once(
        url: url, headers: headers, requireRange: requireRange, maxBytes: maxBytes,
        progress: progress)
      guard case .success(let (response, redirect)) = answer else {
        return answer.map { $0.0 }
      }
      guard Self.isRedirect(status: response.status), let redirect else {
        return .success(response)
      }
      guard let next = URLParts(redirect), next.scheme == "http" || next.scheme == "https"
      else {
        return .failure(
          Failure(
            message: "the server redirected to \(redirect), not an HTTP URL", transient: false))
      }
      if !next.sameOrigin(as: origin) {
        headers = headers.filter { !Self.credentialHeaders.contains($0.key.lowercased()) }
      }
      url = redirect
    }
    return .failure(Failure(message: "too many redirects", transient: false))
  }

  /// One GET on a pooled handle: the response and, for a 3xx, where it points.
  private func once(
    url: String, headers: [String: String], requireRange: Bool, maxBytes: Int,
    progress: Progress?
  ) -> Result<(HTTPResponse, String?), Failure> {
    guard let handle = idle.withLock({ $0.popLast() }) ?? CurlHandle() else {
      return .failure(Failure(message: "libcurl could not make a handle", transient: false))
    }
    defer { idle.withLock { $0.append(handle) } }
    let exchange = CurlExchange(
      handle: handle.raw, requireRange: requireRange, maxBytes: maxBytes, progress: progress)
    counters.withLock { $0.requests += 1 }
    let outcome = handle.get(url: url, headers: headers, settings: settings, exchange: exchange)
    counters.withLock { $0.bytes += Int64(exchange.body.count) }
    let response = HTTPResponse(
      status: exchange.status, headers: exchange.headers,
      body: exchange.refusedWholeBody ? [] : exchange.body, finalURL: url)
    if exchange.refusedWholeBody { return .success((response, nil)) }
    if exchange.overflowed {
      return .failure(
        Failure(
          message: "the server sent more than the \(maxBytes) bytes asked for", transient: false))
    }
    if exchange.headersOverflowed {
      return .failure(
        Failure(
          message: "the server sent more than \(CurlExchange.maxHeaderBytes) bytes of headers",
          transient: false))
    }
    guard outcome.code == Curl.Code.ok else {
      return .failure(
        Self.describe(
          code: outcome.code, detail: outcome.detail,
          trusted: [settings.caBundle, settings.caDirectory].compactMap { $0 }))
    }
    return .success((response, outcome.redirect))
  }

  /// One line for a failed transfer, and whether another try may help.
  /// - Parameter trusted: the bundle file and folder trusted besides the system's, if set.
  static func describe(code: Int32, detail: String, trusted: [CABundle]) -> Failure {
    switch code {
    case Curl.Code.timedOut:
      return Failure(message: "the server did not answer in time", transient: true)
    case Curl.Code.cannotConnect:
      return Failure(message: "cannot connect to the server", transient: true)
    case Curl.Code.gotNothing, Curl.Code.sendError, Curl.Code.receiveError,
      Curl.Code.partialFile, Curl.Code.http2, Curl.Code.http2Stream:
      return Failure(message: "the connection was lost (\(detail))", transient: true)
    case Curl.Code.cannotResolveHost, Curl.Code.cannotResolveProxy:
      return Failure(message: "cannot resolve the host name", transient: false)
    case Curl.Code.malformedURL:
      return Failure(message: "not a valid URL", transient: false)
    case Curl.Code.unsupportedProtocol:
      return Failure(message: "not an HTTP URL (\(detail))", transient: false)
    case Curl.Code.caBundleUnreadable:
      let named = trusted.map { " \($0.variable)=\($0.path)" }.joined(separator: " or")
      return Failure(
        message: "cannot read the CA certificates\(named) (\(detail))", transient: false)
    case Curl.Code.peerVerification, Curl.Code.tlsConnect, Curl.Code.clientCertificate,
      Curl.Code.cipher, Curl.Code.issuer, Curl.Code.pinnedKey, Curl.Code.certificateStatus:
      let named = trusted.map { "\($0.variable)=\($0.path)" }.joined(separator: ", ")
      var trust =
        trusted.isEmpty ? "not trusted by the system" : "not trusted by \(named) or the system"
      // No bundle file named (a folder alone is often the system's own): say how to add one.
      if !trusted.contains(where: { $0.variable != "SSL_CERT_DIR" }) {
        trust += "? SSL_CERT_FILE=FILE.pem trusts a private CA"
      }
      return Failure(
        message: "the TLS connection failed: \(detail) (certificate \(trust))", transient: false)
    default:
      return Failure(message: detail.isEmpty ? "libcurl error \(code)" : detail, transient: false)
    }
  }
}
