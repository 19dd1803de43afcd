public import PTViewCore
public import Synchronization

/// A `ByteSource` over a remote object, read with range requests through a block cache.
///
/// The first request asks for the object's tail (a suffix range), which answers the size and,
/// for a zip, holds the end record and the central directory: one round trip. A safetensors
/// file keeps its header at the start instead: opened `.head`, the first request asks for the
/// first bytes. Later small
/// reads are rounded out to 64 KiB blocks, neighbouring missing blocks are fetched in one
/// request, and a small read fetches a little ahead, because parsers read forward. Large reads
/// (tensor data, a streamed copy) skip the cache and fetch exactly what was asked.
public final class RemoteSource: ByteSource, @unchecked Sendable {
  /// The object's size.
  public let size: Int64
  /// The location as given.
  public let name: String
  private let fetcher: any RangeFetcher
  private let cache: Mutex<BlockCache>
  /// The bytes the first request brought (the tail, or the head), kept for the object's life.
  private let first: (start: Int64, bytes: [UInt8])
  /// Told about reads of at least `progressThreshold` bytes: (done, total).
  public let progress: Mutex<(@Sendable (Int64, Int64) -> Void)?> = Mutex(nil)

  /// Cache block size.
  public static let blockSize = 64 << 10
  /// Bytes asked for by the first (tail) request.
  public static let tailSize = 256 << 10
  /// Reads at least this large bypass the cache.
  public static let directThreshold = 4 << 20

  /// Bytes asked for by the first request of an object opened `.head`.
  public static let headSize = 64 << 10

  /// Where the first request reads: what the format keeps where the reader looks first.
  public enum Opening: Sendable {
    /// The last `tailSize` bytes: a zip's end record and directory.
    case tail
    /// The first `headSize` bytes: a safetensors header.
    case head
  }

  /// Opens the object: one request, for its tail or its head.
  public init(fetcher: any RangeFetcher, cacheBytes: Int = 64 << 20, opening: Opening = .tail)
    throws(SourceError)
  {
    self.fetcher = fetcher
    self.name = fetcher.name
    switch opening {
    case .tail:
      let (bytes, size) = try fetcher.fetchTail(Self.tailSize)
      self.size = size
      self.first = (size - Int64(bytes.count), bytes)
    case .head:
      let (bytes, size) = try fetcher.fetchHead(Self.headSize)
      self.size = size
      self.first = (0, bytes)
    }
    self.cache = Mutex(BlockCache(blockSize: Self.blockSize, capacity: cacheBytes))
  }

  public func read(at offset: Int64, count: Int) throws(SourceError) -> [UInt8] {
    guard offset >= 0, count >= 0, offset <= size else {
      throw SourceError("offset \(offset) outside file")
    }
    let end = min(size, offset + Int64(count))
    if end == offset { return [] }
    if offset >= first.start && end <= first.start + Int64(first.bytes.count) {
      let from = Int(offset - first.start)
      return Array(first.bytes[from..<(from + Int(end - offset))])
    }
    if end - offset >= Int64(Self.directThreshold) {
      return try fetchLarge(offset..<end)
    }
    let first = offset / Int64(Self.blockSize)
    let last = (end - 1) / Int64(Self.blockSize)
    let runs = cache.withLock {
      $0.plan(first...last, lastBlock: (size - 1) / Int64(Self.blockSize))
    }
    for run in runs {
      let lower = run.lowerBound * Int64(Self.blockSize)
      let upper = min(size, (run.upperBound + 1) * Int64(Self.blockSize))
      let bytes = try fetcher.fetch(lower..<upper)
      cache.withLock { $0.store(bytes, firstBlock: run.lowerBound) }
    }
    let assembled = cache.withLock { $0.assemble(offset..<end) }
    if let assembled { return assembled }
    // Evicted between the fetch and the copy (a read bigger than the cache): fetch it whole.
    return try fetcher.fetch(offset..<end)
  }

  private func fetchLarge(_ range: Range<Int64>) throws(SourceError) -> [UInt8] {
    // Pieces of 16 MiB: progress between them, and a failure costs one piece's retry.
    let piece: Int64 = 16 << 20
    let report = progress.withLock { $0 }
    var out: [UInt8] = []
    out.reserveCapacity(Int(range.count))
    var at = range.lowerBound
    while at < range.upperBound {
      let upper = min(range.upperBound, at + piece)
      out += try fetcher.fetch(at..<upper)
      at = upper
      report?(at - range.lowerBound, Int64(range.count))
    }
    return out
  }
}

/// Fixed-size blocks of a remote object, least recently used first out.
struct BlockCache {
  let blockSize: Int
  let capacity: Int
  private(set) var blocks: [Int64: [UInt8]] = [:]
  private var useOrder: [Int64: UInt64] = [:]
  private var clock: UInt64 = 0
  private(set) var bytes = 0
  /// Blocks fetched after the last asked-for block when it was missing.
  var readAhead: Int64 = 3
  /// Cached runs at most this many blocks long between two missing ones are fetched again
  /// rather than split into two requests (a round trip costs more than 128 KiB).
  var bridge: Int64 = 2

  init(blockSize: Int, capacity: Int) {
    self.blockSize = blockSize
    self.capacity = capacity
  }

  /// The block runs to fetch so that `wanted` is all cached: missing blocks, neighbours
  /// joined, short cached gaps bridged, and read-ahead after the last one.
  mutating func plan(_ wanted: ClosedRange<Int64>, lastBlock: Int64) -> [ClosedRange<Int64>] {
    var runs: [ClosedRange<Int64>] = []
    for block in wanted where blocks[block] == nil {
      if let previous = runs.last, block - previous.upperBound - 1 <= bridge {
        runs[runs.count - 1] = previous.lowerBound...block
      } else {
        runs.append(block...block)
      }
    }
    if let final = runs.last, final.upperBound == wanted.upperBound {
      var upper = final.upperBound
      while upper < lastBlock && upper - final.upperBound < readAhead
        && blocks[upper + 1] == nil
      {
        upper += 1
      }
      runs[runs.count - 1] = final.lowerBound...upper
    }
    return runs
  }

  /// Stores `data` as consecutive blocks from `firstBlock` (the last may be short: end of file).
  mutating func store(_ data: [UInt8], firstBlock: Int64) {
    var at = 0
    var block = firstBlock
    while at < data.count {
      let end = min(data.count, at + blockSize)
      if blocks[block] == nil {
        blocks[block] = Array(data[at..<end])
        bytes += end - at
      }
      touch(block)
      at = end
      block += 1
    }
    evict()
  }

  /// The bytes of `range` if every block is cached.
  mutating func assemble(_ range: Range<Int64>) -> [UInt8]? {
    var out: [UInt8] = []
    out.reserveCapacity(Int(range.count))
    var at = range.lowerBound
    while at < range.upperBound {
      let block = at / Int64(blockSize)
      guard let data = blocks[block] else { return nil }
      touch(block)
      let from = Int(at - block * Int64(blockSize))
      let to = min(data.count, from + Int(range.upperBound - at))
      guard to > from else { return nil }
      out += data[from..<to]
      at += Int64(to - from)
    }
    return out
  }

  private mutating func touch(_ block: Int64) {
    clock += 1
    useOrder[block] = clock
  }

  private mutating func evict() {
    guard bytes > capacity else { return }
    for (block, _) in useOrder.sorted(by: { $0.value < $1.value }) {
      guard bytes > capacity / 2 else { break }
      bytes -= blocks[block]?.count ?? 0
      blocks[block] = nil
      useOrder[block] = nil
    }
  }
}
