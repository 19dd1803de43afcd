import Dispatch
public import Foundation
public import PTViewCore
public import Synchronization

#if canImport(FoundationNetworking)
  public import FoundationNetworking
#endif

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

/// Blocking HTTP over URLSession (libcurl on Linux): the `ByteSource` protocol is synchronous,
/// so each request waits on a semaphore while the session's own queue does the work.
///
/// One session per transport keeps connections alive between range requests. HTTPS is checked
/// against the system's certificate store (URLSession's default; nothing here turns it off).
/// Redirects are followed, but an `Authorization` header never follows one to another host.
public final class HTTPTransport: NSObject, URLSessionDataDelegate, @unchecked Sendable {
  /// What the transport tells about long reads: bytes received of bytes expected.
  public typealias Progress = @Sendable (_ received: Int64, _ expected: Int64) -> Void

  private struct Pending {
    var semaphore = DispatchSemaphore(value: 0)
    var response: HTTPURLResponse?
    var body: [UInt8] = []
    var error: (any Error)?
    var refusedWholeBody = false
    var requireRange = false
    var progress: Progress?
    var expected: Int64 = -1
    var maxBytes = Int.max
    var overflowed = false
  }

  private let state = Mutex<[Int: Pending]>([:])
  private var session: URLSession!
  /// Seconds without progress before a request fails.
  public let timeout: TimeInterval
  /// Attempts per request on transient failures (5xx, 429, dropped connections, time-outs).
  public let attempts: Int
  /// Total requests sent and body bytes received, for tests and `--verbose` counts.
  public let counters = Mutex<(requests: Int, bytes: Int64)>((0, 0))

  /// Creates a transport with its own session.
  public init(timeout: TimeInterval = 30, attempts: Int = 4) {
    self.timeout = timeout
    self.attempts = max(1, attempts)
    super.init()
    let configuration = URLSessionConfiguration.ephemeral
    configuration.timeoutIntervalForRequest = timeout
    configuration.timeoutIntervalForResource = 24 * 3600
    configuration.httpMaximumConnectionsPerHost = 4
    configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
    configuration.urlCache = nil
    let queue = OperationQueue()
    queue.maxConcurrentOperationCount = 1
    session = URLSession(configuration: configuration, delegate: self, delegateQueue: queue)
  }

  deinit { session?.invalidateAndCancel() }

  /// Sends `request`, retrying transient failures with exponential backoff.
  /// - Parameters:
  ///   - requireRange: cancel a 200 answer (the server ignored `Range` and is sending the whole
  ///     file) instead of reading it; the result then has status 200 and an empty body.
  /// - Throws: `SourceError` when no answer came after the retries.
  ///   - maxBytes: the most body bytes to accept: a server sending more than it was asked for
  ///     is cut off (a hostile server cannot make ptview buffer without end).
  public func send(
    _ request: URLRequest, requireRange: Bool = false, maxBytes: Int = Int.max,
    progress: Progress? = nil
  ) throws(SourceError) -> HTTPResponse {
    var delay = 0.25
    var lastProblem = ""
    for attempt in 1...attempts {
      let outcome = once(
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
      Thread.sleep(forTimeInterval: delay)
      delay *= 2
    }
    throw SourceError(lastProblem)
  }

  /// Whether a status is worth another try.
  static func isTransient(status: Int) -> Bool {
    status == 429 || status == 500 || status == 502 || status == 503 || status == 504
  }

  private struct Failure: Error {
    var message: String
    var transient: Bool
  }

  private func once(
    _ request: URLRequest, requireRange: Bool, maxBytes: Int, progress: Progress?
  ) -> Result<HTTPResponse, Failure> {
    let task = session.dataTask(with: request)
    let id = task.taskIdentifier
    var pending = Pending()
    pending.requireRange = requireRange
    pending.progress = progress
    pending.maxBytes = maxBytes
    let semaphore = pending.semaphore
    state.withLock { $0[id] = pending }
    counters.withLock { $0.requests += 1 }
    task.resume()
    semaphore.wait()
    let done = state.withLock { $0.removeValue(forKey: id) }!
    if let http = done.response, done.refusedWholeBody {
      return .success(
        HTTPResponse(
          status: http.statusCode, headers: Self.headers(http), body: [],
          finalURL: http.url?.absoluteString ?? ""))
    }
    if done.overflowed {
      return .failure(
        Failure(
          message: "the server sent more than the \(maxBytes) bytes asked for", transient: false))
    }
    if let error = done.error {
      return .failure(Self.describe(error))
    }
    guard let http = done.response else {
      return .failure(Failure(message: "no HTTP response", transient: true))
    }
    return .success(
      HTTPResponse(
        status: http.statusCode, headers: Self.headers(http), body: done.body,
        finalURL: http.url?.absoluteString ?? ""))
  }

  private static func headers(_ response: HTTPURLResponse) -> [String: String] {
    var out: [String: String] = [:]
    for (name, value) in response.allHeaderFields {
      out[String(describing: name).lowercased()] = String(describing: value)
    }
    return out
  }

  private static func describe(_ error: any Error) -> Failure {
    guard let url = error as? URLError else {
      return Failure(message: "\(error)", transient: false)
    }
    switch url.code {
    case .timedOut: return Failure(message: "the server did not answer in time", transient: true)
    case .networkConnectionLost:
      return Failure(message: "the connection was lost", transient: true)
    case .cannotConnectToHost:
      return Failure(message: "cannot connect to the server", transient: true)
    case .cannotFindHost, .dnsLookupFailed:
      return Failure(message: "cannot resolve the host name", transient: false)
    case .serverCertificateUntrusted, .serverCertificateHasBadDate,
      .serverCertificateHasUnknownRoot, .serverCertificateNotYetValid,
      .secureConnectionFailed, .clientCertificateRejected:
      return Failure(
        message: "the TLS connection failed (certificate not trusted by the system?)",
        transient: false)
    case .httpTooManyRedirects: return Failure(message: "too many redirects", transient: false)
    case .cancelled: return Failure(message: "the request was cancelled", transient: false)
    default:
      // libcurl's other failures (an empty reply, a reset) are usually a dropped connection:
      // worth the few bounded retries. A certificate libcurl refuses stays refused.
      let text = url.localizedDescription
      let tls = text.contains("SSL") || text.contains("certificate") || text.contains("TLS")
      return Failure(message: text, transient: !tls)
    }
  }

  // MARK: - URLSessionDataDelegate

  public func urlSession(
    _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void
  ) {
    let http = response as? HTTPURLResponse
    let cancel = state.withLock { all -> Bool in
      all[dataTask.taskIdentifier]?.response = http
      all[dataTask.taskIdentifier]?.expected = response.expectedContentLength
      guard let pending = all[dataTask.taskIdentifier], pending.requireRange,
        http?.statusCode == 200
      else { return false }
      all[dataTask.taskIdentifier]?.refusedWholeBody = true
      return true
    }
    completionHandler(cancel ? .cancel : .allow)
  }

  public func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data)
  {
    var cut = false
    let report = state.withLock { all -> (Progress, Int64, Int64)? in
      guard let count = all[dataTask.taskIdentifier]?.body.count else { return nil }
      if count + data.count > all[dataTask.taskIdentifier]!.maxBytes {
        all[dataTask.taskIdentifier]?.overflowed = true
        cut = true
        return nil
      }
      all[dataTask.taskIdentifier]?.body.append(contentsOf: data)
      guard let pending = all[dataTask.taskIdentifier], let progress = pending.progress else {
        return nil
      }
      return (progress, Int64(pending.body.count), pending.expected)
    }
    if cut {
      dataTask.cancel()
      return
    }
    counters.withLock { $0.bytes += Int64(data.count) }
    if let (progress, received, expected) = report { progress(received, expected) }
  }

  public func urlSession(
    _ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?
  ) {
    let semaphore = state.withLock { all -> DispatchSemaphore? in
      if let error, all[task.taskIdentifier]?.refusedWholeBody != true {
        all[task.taskIdentifier]?.error = error
      }
      return all[task.taskIdentifier]?.semaphore
    }
    semaphore?.signal()
  }

  public func urlSession(
    _ session: URLSession, task: URLSessionTask,
    willPerformHTTPRedirection response: HTTPURLResponse, newRequest request: URLRequest,
    completionHandler: @escaping (URLRequest?) -> Void
  ) {
    var next = request
    let original = task.originalRequest
    // Keep the range; drop credentials when the redirect leaves the host that was given them.
    if let range = original?.value(forHTTPHeaderField: "Range") {
      next.setValue(range, forHTTPHeaderField: "Range")
    }
    if original?.url?.host?.lowercased() != request.url?.host?.lowercased() {
      next.setValue(nil, forHTTPHeaderField: "Authorization")
    } else if let auth = original?.value(forHTTPHeaderField: "Authorization") {
      next.setValue(auth, forHTTPHeaderField: "Authorization")
    }
    completionHandler(next)
  }
}
