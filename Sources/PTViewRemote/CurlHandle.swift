internal import CCurlLoader
import PTViewCore

/// libcurl, opened with dlopen at the first remote request: a local run never maps it or the
/// thirty libraries it brings (docs/decisions.md: the remote transport without Foundation).
enum Curl {
  /// Opens libcurl once per process.
  /// - Parameter library: `PTVIEW_LIBCURL`: one library file to use instead of the usual names.
  /// - Throws: `SourceError` with the one line that says which package to install.
  static func load(library: String?) throws(SourceError) {
    var error = [CChar](repeating: 0, count: 512)
    let status = error.withUnsafeMutableBufferPointer { buffer in
      ptv_curl_load(library, buffer.baseAddress, buffer.count)
    }
    guard status != 0 else { return }
    let message = "reading URLs needs libcurl (Debian: apt-get install libcurl4)"
    guard let library, !library.isEmpty else { throw SourceError(message) }
    // dlerror's text names the file and the reason.
    let reason = error.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    throw SourceError("\(message); PTVIEW_LIBCURL=\(library) cannot be opened: \(reason)")
  }

  /// The `CURLcode`s the transport tells apart (curl.h's values, stable across libcurl 7 and 8).
  /// Each line's comment names the constant: Tests/Interop/test_curl_constants.py compares
  /// the numbers with the system's curl.h.
  enum Code {
    static let ok: Int32 = 0  // CURLE_OK
    static let unsupportedProtocol: Int32 = 1  // CURLE_UNSUPPORTED_PROTOCOL
    static let malformedURL: Int32 = 3  // CURLE_URL_MALFORMAT
    static let cannotResolveProxy: Int32 = 5  // CURLE_COULDNT_RESOLVE_PROXY
    static let cannotResolveHost: Int32 = 6  // CURLE_COULDNT_RESOLVE_HOST
    static let cannotConnect: Int32 = 7  // CURLE_COULDNT_CONNECT
    static let http2: Int32 = 16  // CURLE_HTTP2
    static let partialFile: Int32 = 18  // CURLE_PARTIAL_FILE
    static let writeError: Int32 = 23  // CURLE_WRITE_ERROR
    static let timedOut: Int32 = 28  // CURLE_OPERATION_TIMEDOUT
    static let tlsConnect: Int32 = 35  // CURLE_SSL_CONNECT_ERROR
    static let gotNothing: Int32 = 52  // CURLE_GOT_NOTHING
    static let sendError: Int32 = 55  // CURLE_SEND_ERROR
    static let receiveError: Int32 = 56  // CURLE_RECV_ERROR
    static let clientCertificate: Int32 = 58  // CURLE_SSL_CERTPROBLEM
    static let cipher: Int32 = 59  // CURLE_SSL_CIPHER
    static let peerVerification: Int32 = 60  // CURLE_PEER_FAILED_VERIFICATION
    static let caBundleUnreadable: Int32 = 77  // CURLE_SSL_CACERT_BADFILE
    static let issuer: Int32 = 83  // CURLE_SSL_ISSUER_ERROR
    static let pinnedKey: Int32 = 90  // CURLE_SSL_PINNEDPUBKEYNOTMATCH
    static let certificateStatus: Int32 = 91  // CURLE_SSL_INVALIDCERTSTATUS
    static let http2Stream: Int32 = 92  // CURLE_HTTP2_STREAM
  }
}

/// One GET's answer as it arrives: the callbacks write here, `CurlHandle.get` reads it after.
final class CurlExchange {
  let handle: UnsafeMutableRawPointer
  let requireRange: Bool
  let maxBytes: Int
  let progress: HTTPTransport.Progress?
  /// The status of the last status line seen (a redirect or a 100 starts a new header block).
  var status = 0
  /// Header fields of the last block, names lowercased; repeated fields joined with ", ".
  var headers: [String: String] = [:]
  var headerBytes = 0
  var body: [UInt8] = []
  var expected: Int64 = -1
  var started = false
  /// A 200 to a range request: the transfer was stopped before the body (the whole file).
  var refusedWholeBody = false
  /// More body than `maxBytes`, or more than `maxHeaderBytes` of headers.
  var overflowed = false
  var headersOverflowed = false

  /// Header bytes accepted per answer: far beyond any real server's, short of a hostile one's
  /// endless stream.
  static let maxHeaderBytes = 1 << 20

  init(
    handle: UnsafeMutableRawPointer, requireRange: Bool, maxBytes: Int,
    progress: HTTPTransport.Progress?
  ) {
    self.handle = handle
    self.requireRange = requireRange
    self.maxBytes = maxBytes
    self.progress = progress
  }

  /// Takes one header line; returns false to stop the transfer.
  func header(_ bytes: UnsafeRawBufferPointer) -> Bool {
    headerBytes += bytes.count
    if headerBytes > Self.maxHeaderBytes {
      headersOverflowed = true
      return false
    }
    var line = String(decoding: bytes, as: UTF8.self)
    while line.last == "\n" || line.last == "\r" || line.last == "\r\n" { line.removeLast() }
    if line.hasPrefix("HTTP/") {
      headers = [:]
      let parts = line.split(separator: " ", maxSplits: 2)
      status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
    } else if let colon = line.firstIndex(of: ":") {
      let name = line[..<colon].trimmingBlanksLowercased
      let value = String(line[line.index(after: colon)...]).trimmingBlanks
      if let previous = headers[name] {
        headers[name] = previous + ", " + value
      } else {
        headers[name] = value
      }
    }
    return true
  }

  /// Takes a piece of the body; returns false to stop the transfer.
  func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
    if !started {
      started = true
      var code = 0
      if ptv_curl_getinfo_long(handle, Int32(PTV_CURLINFO_RESPONSE_CODE), &code) == 0 {
        status = code
      }
      var length: Int64 = -1
      if ptv_curl_getinfo_offset(handle, Int32(PTV_CURLINFO_CONTENT_LENGTH_DOWNLOAD_T), &length)
        == 0
      {
        expected = length
      }
      if requireRange && status == 200 {
        refusedWholeBody = true
        return false
      }
    }
    if bytes.count > maxBytes - body.count {
      overflowed = true
      return false
    }
    body.append(contentsOf: bytes)
    progress?(Int64(body.count), expected)
    return true
  }
}

/// One libcurl easy handle: one request at a time; the connections it opened stay alive for
/// the next request on it.
final class CurlHandle: @unchecked Sendable {
  let raw: UnsafeMutableRawPointer
  private let errorBuffer: UnsafeMutablePointer<CChar>

  /// A new handle; nil when libcurl cannot make one (out of memory). libcurl must be loaded.
  init?() {
    guard let raw = ptv_curl_easy_init() else { return nil }
    self.raw = raw
    errorBuffer = .allocate(capacity: Int(PTV_CURL_ERROR_SIZE))
    errorBuffer.initialize(repeating: 0, count: Int(PTV_CURL_ERROR_SIZE))
  }

  deinit {
    ptv_curl_easy_cleanup(raw)
    errorBuffer.deallocate()
  }

  /// What one GET ended with.
  struct Outcome {
    /// The `CURLcode` (0: an answer came, whatever its status).
    var code: Int32
    /// libcurl's own words for a failure (the error buffer, else its text for the code).
    var detail: String
    /// Where a 3xx answer points, absolute (libcurl resolves a relative `Location`).
    var redirect: String?
  }

  /// Sends one GET to `url` with `headers`, without following redirects, the answer going to
  /// `exchange`.
  func get(
    url: String, headers: [String: String], settings: HTTPTransport.Settings,
    exchange: CurlExchange
  ) -> Outcome {
    // Reset drops the last request's options, not the live connections or the DNS cache.
    ptv_curl_easy_reset(raw)
    errorBuffer[0] = 0
    var list: UnsafeMutableRawPointer? = nil
    for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
      list = ptv_curl_slist_append(list, "\(name): \(value)")
    }
    defer { ptv_curl_slist_free_all(list) }
    let context = Unmanaged.passUnretained(exchange).toOpaque()
    setLong(PTV_CURLOPT_HTTPGET, 1)
    setLong(PTV_CURLOPT_FOLLOWLOCATION, 0)
    setLong(PTV_CURLOPT_NOSIGNAL, 1)
    setLong(PTV_CURLOPT_PROTOCOLS, Int(PTV_CURLPROTO_HTTP_S))
    setLong(PTV_CURLOPT_CONNECTTIMEOUT, Int(settings.timeout.rounded(.up)))
    // "No answer in time" as URLSession's request time-out meant it: no progress for that long.
    setLong(PTV_CURLOPT_LOW_SPEED_LIMIT, 1)
    setLong(PTV_CURLOPT_LOW_SPEED_TIME, Int(settings.timeout.rounded(.up)))
    setLong(PTV_CURLOPT_BUFFERSIZE, 256 << 10)
    setPointer(PTV_CURLOPT_ERRORBUFFER, UnsafeRawPointer(errorBuffer))
    url.withCString { _ = ptv_curl_setopt_pointer(raw, Int32(PTV_CURLOPT_URL), $0) }
    "ptview".withCString { _ = ptv_curl_setopt_pointer(raw, Int32(PTV_CURLOPT_USERAGENT), $0) }
    if let bundle = settings.caBundle {
      bundle.path.withCString { _ = ptv_curl_setopt_pointer(raw, Int32(PTV_CURLOPT_CAINFO), $0) }
    }
    if let folder = settings.caDirectory {
      folder.path.withCString { _ = ptv_curl_setopt_pointer(raw, Int32(PTV_CURLOPT_CAPATH), $0) }
    }
    setPointer(PTV_CURLOPT_HTTPHEADER, list.map { UnsafeRawPointer($0) })
    setPointer(PTV_CURLOPT_WRITEDATA, UnsafeRawPointer(context))
    setPointer(PTV_CURLOPT_HEADERDATA, UnsafeRawPointer(context))
    _ = ptv_curl_setopt_callback(raw, Int32(PTV_CURLOPT_WRITEFUNCTION)) {
      data, size, count, context in
      let exchange = Unmanaged<CurlExchange>.fromOpaque(context!).takeUnretainedValue()
      let bytes = UnsafeRawBufferPointer(start: data, count: size * count)
      return exchange.receive(bytes) ? size * count : 0
    }
    _ = ptv_curl_setopt_callback(raw, Int32(PTV_CURLOPT_HEADERFUNCTION)) {
      data, size, count, context in
      let exchange = Unmanaged<CurlExchange>.fromOpaque(context!).takeUnretainedValue()
      let bytes = UnsafeRawBufferPointer(start: data, count: size * count)
      return exchange.header(bytes) ? size * count : 0
    }
    let code = ptv_curl_easy_perform(raw)
    var status = 0
    if ptv_curl_getinfo_long(raw, Int32(PTV_CURLINFO_RESPONSE_CODE), &status) == 0, status != 0 {
      exchange.status = status
    }
    var redirect: String? = nil
    if code == Curl.Code.ok, (300..<400).contains(exchange.status) {
      var text: UnsafePointer<CChar>? = nil
      if ptv_curl_getinfo_string(raw, Int32(PTV_CURLINFO_REDIRECT_URL), &text) == 0,
        let text
      {
        redirect = String(cString: text)
      }
    }
    var detail = String(cString: errorBuffer)
    if detail.isEmpty, code != Curl.Code.ok, let text = ptv_curl_easy_strerror(code) {
      detail = String(cString: text)
    }
    while detail.last == "\n" { detail.removeLast() }
    return Outcome(code: code, detail: detail, redirect: redirect)
  }

  private func setLong(_ option: some BinaryInteger, _ value: Int) {
    _ = ptv_curl_setopt_long(raw, Int32(option), value)
  }

  private func setPointer(_ option: some BinaryInteger, _ value: UnsafeRawPointer?) {
    _ = ptv_curl_setopt_pointer(raw, Int32(option), value)
  }
}

extension StringProtocol {
  /// The text without surrounding blanks, lowercased (a header name).
  var trimmingBlanksLowercased: String { String(self).trimmingBlanks.lowercased() }
}
