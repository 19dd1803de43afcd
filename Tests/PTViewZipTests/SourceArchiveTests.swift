import PTViewCore
import PTViewTestSupport
import PTViewZip
import Synchronization
import Testing

/// A source that counts what libzip asks of it.
final class CountingSource: ByteSource, @unchecked Sendable {
  let base: MemorySource
  let reads = Mutex(0)
  init(_ bytes: [UInt8]) { base = MemorySource(bytes) }
  var size: Int64 { base.size }
  func read(at offset: Int64, count: Int) throws(SourceError) -> [UInt8] {
    reads.withLock { $0 += 1 }
    return try base.read(at: offset, count: count)
  }
}

/// libzip reading through a `ByteSource` (how a remote archive's compressed records inflate)
/// gives what it gives from the path.
@Suite struct SourceArchiveTests {
  @Test("a source-backed archive inflates as the path-backed one does")
  func sameRecords() throws {
    let bytes = try Fixtures.bytes("torch/ts_scripted.pt")
    let source = CountingSource(bytes)
    let viaSource = try LibzipArchive(source: source, name: "mem")
    let viaPath = try LibzipArchive(path: Fixtures.path("torch/ts_scripted.pt"))
    #expect(viaSource.entries() == viaPath.entries())
    let directory = try ZipDirectory(source: MemorySource(bytes))
    for entry in directory.entries where entry.method == 8 {
      #expect(try viaSource.decompress(entry) == viaPath.decompress(entry))
    }
    #expect(source.reads.withLock { $0 } > 0)
  }

  @Test("the lazy decompressor over a source opens nothing until asked")
  func lazy() throws {
    let source = CountingSource(try Fixtures.bytes("torch/ts_scripted.pt"))
    _ = LazyLibzip(source: source, name: "mem")
    #expect(source.reads.withLock { $0 } == 0)
  }

  @Test("a source that is not a zip is an error value")
  func garbage() {
    #expect(throws: CheckpointError.self) {
      _ = try LibzipArchive(source: MemorySource([0x50, 0x4B, 3, 4, 1, 2, 3]), name: "mem")
    }
  }
}
