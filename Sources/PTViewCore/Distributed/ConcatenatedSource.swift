/// Several byte sources read as one, end to end: the `.distcp` files of a distributed
/// checkpoint become one input for a write plan, which copies from a single source.
public struct ConcatenatedSource: ByteSource {
  /// The parts, in order, and where each starts.
  public let parts: [any ByteSource]
  let segments: SegmentStarts
  /// Where each part starts.
  public var starts: [Int64] { segments.starts }
  public var size: Int64 { segments.total }

  public init(_ parts: [any ByteSource]) {
    self.parts = parts
    self.segments = SegmentStarts(lengths: parts.lazy.map(\.size))
  }

  public func read(at offset: Int64, count: Int) throws(SourceError) -> [UInt8] {
    guard offset >= 0, count >= 0 else { throw SourceError("read at \(offset) of \(count) bytes") }
    var out: [UInt8] = []
    out.reserveCapacity(count)
    var at = offset
    while out.count < count && at < size {
      let i = segments.segment(at: at)
      let local = at - segments.starts[i]
      let want = Int(min(Int64(count - out.count), parts[i].size - local))
      if want <= 0 { break }
      let got = try parts[i].read(at: local, count: want)
      if got.isEmpty { break }
      out += got
      at += Int64(got.count)
    }
    return out
  }
}
