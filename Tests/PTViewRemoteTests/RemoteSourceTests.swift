import PTViewCore
import Synchronization
import Testing

@testable import PTViewRemote

/// A fetcher over bytes in memory that records each request.
final class RecordingFetcher: RangeFetcher, @unchecked Sendable {
  let name = "mem://object"
  let bytes: [UInt8]
  let requests = Mutex<[Range<Int64>]>([])
  init(size: Int) { bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) } }

  func fetchTail(_ count: Int) throws(SourceError) -> (bytes: [UInt8], size: Int64) {
    let start = max(0, bytes.count - count)
    requests.withLock { $0.append(Int64(start)..<Int64(bytes.count)) }
    return (Array(bytes[start...]), Int64(bytes.count))
  }

  func fetch(_ range: Range<Int64>) throws(SourceError) -> [UInt8] {
    requests.withLock { $0.append(range) }
    return Array(bytes[Int(range.lowerBound)..<Int(range.upperBound)])
  }

  func fetchHead(_ count: Int) throws(SourceError) -> (bytes: [UInt8], size: Int64) {
    let end = min(bytes.count, count)
    requests.withLock { $0.append(0..<Int64(end)) }
    return (Array(bytes[..<end]), Int64(bytes.count))
  }
}

@Suite struct RemoteSourceTests {
  let block = Int64(RemoteSource.blockSize)

  @Test func firstRequestIsTheTailAndAnswersTheSize() throws {
    let fetcher = RecordingFetcher(size: 3 << 20)
    let source = try RemoteSource(fetcher: fetcher)
    #expect(source.size == 3 << 20)
    // The end record and directory come from the tail: no second request.
    let end = try source.read(at: source.size - 22, count: 22)
    #expect(end == Array(fetcher.bytes.suffix(22)))
    #expect(fetcher.requests.withLock { $0.count } == 1)
  }

  @Test func openedAtTheHeadTheFirstBytesNeedNoSecondRequest() throws {
    let fetcher = RecordingFetcher(size: 3 << 20)
    let source = try RemoteSource(fetcher: fetcher, opening: .head)
    #expect(source.size == 3 << 20)
    #expect(fetcher.requests.withLock { $0 } == [0..<Int64(RemoteSource.headSize)])
    #expect(try source.read(at: 8, count: 1000) == Array(fetcher.bytes[8..<1008]))
    #expect(fetcher.requests.withLock { $0.count } == 1)
    // Past the head: the block cache, as for any object.
    let at = Int64(RemoteSource.headSize) - 4
    #expect(try source.read(at: at, count: 8) == Array(fetcher.bytes[Int(at)..<Int(at + 8)]))
    #expect(fetcher.requests.withLock { $0.count } == 2)
  }

  @Test func smallReadsAreBlockedCachedAndReadAhead() throws {
    let fetcher = RecordingFetcher(size: 8 << 20)
    let source = try RemoteSource(fetcher: fetcher)
    #expect(try source.read(at: 100, count: 10) == Array(fetcher.bytes[100..<110]))
    // One request: the block plus three blocks of read-ahead.
    #expect(fetcher.requests.withLock { $0.last } == 0..<(4 * block))
    let before = fetcher.requests.withLock { $0.count }
    #expect(
      try source.read(at: 3 * block + 5, count: 100)
        == Array(fetcher.bytes[Int(3 * block + 5)..<Int(3 * block + 105)]))
    #expect(fetcher.requests.withLock { $0.count } == before)
  }

  @Test func largeReadsBypassTheCacheAndArriveWhole() throws {
    let fetcher = RecordingFetcher(size: 40 << 20)
    let source = try RemoteSource(fetcher: fetcher)
    let got = try source.read(at: 1000, count: 20 << 20)
    #expect(got == Array(fetcher.bytes[1000..<(1000 + (20 << 20))]))
    // In 16 MiB pieces.
    let piece: Int64 = 16 << 20
    let whole: Int64 = 20 << 20
    let expected: [Range<Int64>] = [1000..<(1000 + piece), (1000 + piece)..<(1000 + whole)]
    let made: [Range<Int64>] = fetcher.requests.withLock { Array($0.dropFirst()) }
    #expect(made == expected)
  }

  @Test func readsPastTheEndAreShort() throws {
    let fetcher = RecordingFetcher(size: 1000)
    let source = try RemoteSource(fetcher: fetcher)
    #expect(try source.read(at: 990, count: 50).count == 10)
    #expect(throws: SourceError.self) { try source.read(at: 2000, count: 1) }
  }

  @Test func planCoalescesNeighboursAndBridgesShortGaps() {
    var cache = BlockCache(blockSize: 4, capacity: 1 << 20)
    cache.readAhead = 0
    cache.store([UInt8](repeating: 1, count: 4), firstBlock: 3)
    cache.store([UInt8](repeating: 1, count: 16), firstBlock: 10)
    // 0...2 missing, 3 cached (bridged), 4...9 missing, 10...13 cached, 14...15 missing.
    #expect(cache.plan(0...15, lastBlock: 100) == [0...9, 14...15])
  }

  @Test func planReadsAheadOnlyIntoMissingBlocks() {
    var cache = BlockCache(blockSize: 4, capacity: 1 << 20)
    cache.store([UInt8](repeating: 1, count: 4), firstBlock: 7)
    #expect(cache.plan(5...5, lastBlock: 100) == [5...6])
    #expect(cache.plan(98...99, lastBlock: 100) == [98...100])
  }

  @Test func cacheEvictsTheLeastRecentlyUsed() {
    var cache = BlockCache(blockSize: 4, capacity: 16)
    cache.store([UInt8](repeating: 1, count: 8), firstBlock: 0)
    cache.store([UInt8](repeating: 2, count: 8), firstBlock: 2)
    _ = cache.assemble(0..<4)  // block 0 is now the most recent of the first two
    cache.store([UInt8](repeating: 3, count: 4), firstBlock: 9)
    #expect(cache.bytes <= 16)
    #expect(cache.blocks[9] != nil)
    #expect(cache.blocks[1] == nil)
  }
}

@Suite struct RangeAnswerTests {
  func response(_ status: Int, _ headers: [String: String] = [:], _ body: [UInt8] = [])
    -> HTTPResponse
  {
    HTTPResponse(status: status, headers: headers, body: body, finalURL: "")
  }

  @Test func contentRange() {
    #expect(RangeAnswer.contentRange("bytes 0-9/100")! == (0, 100))
    #expect(RangeAnswer.contentRange(" bytes 90-99/100 ")! == (90, 100))
    #expect(RangeAnswer.contentRange("bytes 0-9/*") == nil)
    #expect(RangeAnswer.contentRange("bytes 9-0/100") == nil)
    #expect(RangeAnswer.contentRange("bytes 0-100/100") == nil)
  }

  @Test func wholeBodyAnswersAreRefused() {
    #expect(throws: SourceError.self) {
      try RangeAnswer.accept(response(200, [:], [1, 2, 3]), wanted: 0..<3)
    }
  }

  @Test func emptyObjects() throws {
    let (bytes, size) = try RangeAnswer.accept(
      response(416, ["content-range": "bytes */0"]), wanted: nil)
    #expect(bytes.isEmpty && size == 0)
  }

  @Test func emptyObjectAnsweredWhole() throws {
    let (bytes, size) = try RangeAnswer.accept(
      response(200, ["content-length": "0"]), wanted: nil)
    #expect(bytes.isEmpty && size == 0)
  }

  @Test func s3ErrorsNameTheirCode() {
    let body = Array(
      "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The key does not exist</Message></Error>"
        .utf8)
    #expect(
      RangeAnswer.describe(response(404, [:], body))
        == "HTTP 404 (not found): NoSuchKey: The key does not exist")
  }

  @Test func aShortAnswerIsAnError() {
    #expect(throws: SourceError.self) {
      try RangeAnswer.accept(
        response(206, ["content-range": "bytes 0-9/100"], [UInt8](repeating: 0, count: 5)),
        wanted: 0..<10)
    }
  }
}
