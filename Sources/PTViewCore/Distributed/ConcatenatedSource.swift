/// Several byte sources read as one, end to end: the `.distcp` files of a distributed
/// checkpoint become one input for a write plan, which copies from a single source.
public struct ConcatenatedSource: ByteSource {
  /// The parts, in order, and where each starts.
  public let parts: [any ByteSource]
  public let starts: [Int64]
  public let size: Int64

  public init(_ parts: [any ByteSource]) {
    self.parts = parts
    var starts: [Int64] = []
    var at: Int64 = 0
    for part in parts {
      starts.append(at)
      at += part.size
    }
    self.starts = starts
    self.size = at
  }

  public func read(at offset: Int64, count: Int) throws(SourceError) -> [UInt8] {
    guard offset >= 0, count >= 0 else { throw SourceError("read at \(offset) of \(count) bytes") }
    var out: [UInt8] = []
    out.reserveCapacity(count)
    var at = offset
    while out.count < count && at < size {
      // The last part starting at or before `at`.
      var low = 0
      var high = parts.count - 1
      while low < high {
        let mid = (low + high + 1) / 2
        if starts[mid] <= at { low = mid } else { high = mid - 1 }
      }
      let local = at - starts[low]
      let want = Int(min(Int64(count - out.count), parts[low].size - local))
      if want <= 0 { break }
      let got = try parts[low].read(at: local, count: want)
      if got.isEmpty { break }
      out += got
      at += Int64(got.count)
    }
    return out
  }
}
