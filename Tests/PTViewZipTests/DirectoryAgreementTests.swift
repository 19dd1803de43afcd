import PTViewCore
import PTViewEdit
import PTViewJudge
import PTViewTestSupport
import PTViewZip
import Testing

/// ptview's own central-directory reader (which also finds where each record's data starts)
/// agrees with libzip on every zip fixture, and libzip inflates TorchScript's deflated code.
@Suite struct DirectoryAgreementTests {
  static let archives = Fixtures.files(in: "torch", suffix: ".pt").filter {
    (try? Fixtures.bytes("torch/" + $0).prefix(2)) == [0x50, 0x4B]
  }

  @Test("entries agree with libzip", arguments: archives)
  func agree(_ name: String) throws {
    let ours = try ZipDirectory(source: MemorySource(try Fixtures.bytes("torch/" + name)))
    let theirs = try LibzipArchive(path: Fixtures.path("torch/" + name)).entries()
    #expect(ours.entries.map(\.name) == theirs.map(\.name))
    #expect(ours.entries.map(\.uncompressedSize) == theirs.map(\.size))
    #expect(ours.entries.map(\.compressedSize) == theirs.map(\.compressedSize))
    #expect(ours.entries.map(\.method) == theirs.map(\.method))
    #expect(ours.entries.map(\.crc32) == theirs.map(\.crc))
  }

  @Test("deflated TorchScript code inflates to its declared size")
  func inflate() throws {
    let bytes = try Fixtures.bytes("torch/ts_scripted.pt")
    let directory = try ZipDirectory(source: MemorySource(bytes))
    let archive = try LibzipArchive(bytes: bytes)
    let deflated = directory.entries.filter { $0.method == 8 }
    #expect(!deflated.isEmpty)
    for entry in deflated {
      let data = try archive.decompress(entry)
      #expect(Int64(data.count) == entry.uncompressedSize)
      #expect(CRC32.checksum(data) == entry.crc32)
    }
  }

  @Test("libzip refuses garbage with an error value")
  func garbage() {
    #expect(throws: CheckpointError.self) {
      _ = try LibzipArchive(bytes: [0x50, 0x4B, 3, 4, 1, 2, 3])
    }
  }
}
