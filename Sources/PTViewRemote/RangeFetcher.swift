public import PTViewCore

/// Something that fetches byte ranges of one remote object: HTTP(S) or S3.
public protocol RangeFetcher: Sendable {
  /// The location as the user typed it, for messages.
  var name: String { get }
  /// The last `count` bytes (fewer for a smaller object) and the object's total size.
  func fetchTail(_ count: Int) throws(SourceError) -> (bytes: [UInt8], size: Int64)
  /// The bytes of `range` (within the object).
  func fetch(_ range: Range<Int64>) throws(SourceError) -> [UInt8]
  /// The first `count` bytes (fewer for a smaller object) and the object's total size.
  func fetchHead(_ count: Int) throws(SourceError) -> (bytes: [UInt8], size: Int64)
}

/// What a range answer means, shared by the HTTP and the S3 fetcher.
enum RangeAnswer {
  /// Checks a response to `Range: bytes=...` and returns its bytes and the object's size.
  /// - Parameter wanted: the range asked for, or nil for a suffix (tail) request. A range from
  ///   0 may find an empty object, as a suffix request may.
  static func accept(_ response: HTTPResponse, wanted: Range<Int64>?) throws(SourceError) -> (
    bytes: [UInt8], size: Int64
  ) {
    switch response.status {
    case 206:
      guard let header = response.headers["content-range"],
        let parsed = contentRange(header)
      else { throw SourceError("the server answered 206 without a usable Content-Range") }
      if let wanted {
        guard parsed.start == wanted.lowerBound,
          Int64(response.body.count) == min(wanted.upperBound, parsed.size) - wanted.lowerBound
        else {
          throw SourceError(
            "the server sent bytes \(parsed.start)+\(response.body.count) for a request of \(wanted.lowerBound)..<\(wanted.upperBound)"
          )
        }
      } else if Int64(response.body.count) != parsed.size - parsed.start {
        throw SourceError("the server sent a short answer to the first range request")
      }
      return (response.body, parsed.size)
    case 200:
      // An empty object has no byte range to send: some stores answer 200 and nothing.
      if wanted?.lowerBound ?? 0 == 0, response.headers["content-length"] == "0" {
        return ([], 0)
      }
      throw SourceError(
        "the server does not honour HTTP range requests (it answered 200 with the whole file); download the file and open it locally"
      )
    case 416:
      // A suffix (or head) request on an empty object: nothing to send, and the size says so.
      if wanted?.lowerBound ?? 0 == 0, let header = response.headers["content-range"],
        header.trimmingBlanks.hasSuffix("*/0")
      {
        return ([], 0)
      }
      throw SourceError("HTTP 416: the server refused the byte range")
    default:
      throw SourceError(describe(response))
    }
  }

  /// `bytes START-END/SIZE` → (START, SIZE). `SIZE` must be known (not `*`).
  static func contentRange(_ text: String) -> (start: Int64, size: Int64)? {
    let trimmed = text.trimmingBlanks
    guard trimmed.lowercased().hasPrefix("bytes ") else { return nil }
    let spec = trimmed.dropFirst(6)
    guard let dash = spec.firstIndex(of: "-"), let slash = spec.firstIndex(of: "/"),
      dash < slash,
      let start = Int64(spec[..<dash]), let end = Int64(spec[spec.index(after: dash)..<slash]),
      let size = Int64(spec[spec.index(after: slash)...]),
      start >= 0, end >= start, end < size
    else { return nil }
    return (start, size)
  }

  /// One line for an answer that is not a range: the status and, for S3, its error code.
  static func describe(_ response: HTTPResponse) -> String {
    var text = "HTTP \(response.status)"
    switch response.status {
    case 401: text += " (authentication required)"
    case 403: text += " (access denied)"
    case 404: text += " (not found)"
    default: break
    }
    let body = String(decoding: response.body.prefix(4096), as: UTF8.self)
    if let code = xmlElement("Code", in: body) {
      text += ": \(code)"
      if let message = xmlElement("Message", in: body) { text += ": \(message)" }
    }
    return text
  }

  /// The text of the first `<name>...</name>` in `xml` (S3 error bodies), or nil.
  static func xmlElement(_ name: String, in xml: String) -> String? {
    guard let open = xml.firstRange(of: "<\(name)>"),
      let close = xml[open.upperBound...].firstRange(of: "</\(name)>")
    else { return nil }
    let value = xml[open.upperBound..<close.lowerBound]
    return value.isEmpty ? nil : String(value.prefix(200))
  }
}
