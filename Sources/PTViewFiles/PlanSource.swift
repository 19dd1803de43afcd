public import PTViewCore
public import PTViewEdit

/// A write plan read as the file it would write, without writing it: literal chunks come from
/// the plan, copied chunks from `input`. A distributed checkpoint is read this way as the one
/// torch.save archive `dcp_to_torch_save` would make, so every value reader (TensorValues,
/// stats, cat, diff, the explorer) works on it unchanged, reading the `.distcp` files by
/// byte range.
public struct PlanSource: ByteSource {
  /// The plan's chunks and where each starts in the virtual file.
  let chunks: [WritePlan.Chunk]
  let segments: SegmentStarts
  /// What copied chunks read from.
  public let input: any ByteSource
  public var size: Int64 { segments.total }

  /// Reads `plan` over `input`. Converted chunks (`--cast`) are not readable here: a read
  /// that reaches one fails.
  public init(_ plan: WritePlan, over input: any ByteSource) {
    self.chunks = plan.chunks
    self.input = input
    self.segments = SegmentStarts(lengths: plan.chunks.lazy.map(\.length))
  }

  public func read(at offset: Int64, count: Int) throws(SourceError) -> [UInt8] {
    guard offset >= 0, count >= 0 else { throw SourceError("read at \(offset) of \(count) bytes") }
    var out: [UInt8] = []
    out.reserveCapacity(Int(min(Int64(count), max(0, size - offset))))
    var at = offset
    while out.count < count && at < size {
      let low = segments.segment(at: at)
      let local = at - segments.starts[low]
      let want = Int(min(Int64(count - out.count), chunks[low].length - local))
      if want <= 0 { break }
      switch chunks[low] {
      case .bytes(let bytes):
        out += bytes[Int(local)..<Int(local) + want]
      case .copy(let from, _):
        let got = try input.readExactly(at: from + local, count: want)
        out += got
      case .convert:
        throw SourceError("byte \(at) is converted output, which cannot be read in place")
      }
      at += Int64(want)
    }
    return out
  }
}
