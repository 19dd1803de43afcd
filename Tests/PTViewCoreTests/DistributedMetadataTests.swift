import Foundation
import PTViewCore
import PTViewTestSupport
import Testing

/// The `.metadata` of real DCP folders (Scripts/make_dcp_fixtures.py) reads into the items
/// torch saved; damaged copies give errors, never a crash.
@Suite struct DistributedMetadataTests {
  static func load(_ name: String) throws -> ([UInt8], [String: Int64]) {
    let folder = Fixtures.path("dcp/" + name)
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: folder + "/.metadata")))
    var sizes: [String: Int64] = [:]
    for file in try FileManager.default.contentsOfDirectory(atPath: folder)
    where file.hasSuffix(".distcp") {
      let attributes = try FileManager.default.attributesOfItem(atPath: folder + "/" + file)
      sizes[file] = (attributes[.size] as? NSNumber)?.int64Value ?? 0
    }
    return (bytes, sizes)
  }

  @Test func shardedTensorsHaveTheirChunks() throws {
    let (bytes, sizes) = try Self.load("sharded")
    let metadata = try DistributedMetadataReader.read(bytes, fileSizes: sizes)
    #expect(metadata.items.map(\.fqn) == ["w", "cols", "ints", "rep", "plain"])
    guard case .tensor(let dtype, let shape, let chunks) = metadata.items[1].kind else {
      Issue.record("cols is not a tensor")
      return
    }
    #expect(dtype == .named("float32"))
    #expect(shape == [3, 8])
    #expect(chunks.map(\.offsets) == [[0, 0], [0, 4]])
    #expect(Set(chunks.map(\.storage.file)) == ["__0_0.distcp", "__1_0.distcp"])
  }

  @Test func nestedPathsComeFromPlannerData() throws {
    let (bytes, sizes) = try Self.load("nested")
    let metadata = try DistributedMetadataReader.read(bytes, fileSizes: sizes)
    let lr = metadata.items.first { $0.fqn == "optim.param_groups.0.lr" }
    #expect(lr?.path == [.key("optim"), .key("param_groups"), .index(0), .key("lr")])
    if case .bytes = lr?.kind {} else { Issue.record("lr is not a bytes item") }
  }

  @Test func everyTruncationFailsCleanly() throws {
    let (bytes, sizes) = try Self.load("nested")
    for end in stride(from: 0, to: bytes.count, by: 7) {
      #expect(throws: CheckpointError.self) {
        _ = try DistributedMetadataReader.read(Array(bytes[..<end]), fileSizes: sizes)
      }
    }
  }

  @Test func flippedBytesNeverCrash() throws {
    let (bytes, sizes) = try Self.load("sharded")
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<300 {
      var damaged = bytes
      for _ in 0..<3 {
        damaged[Int.random(in: 0..<damaged.count, using: &generator)] = UInt8.random(
          in: 0...255, using: &generator)
      }
      _ = try? DistributedMetadataReader.read(damaged, fileSizes: sizes)
    }
  }

  @Test func rangesMustLieInsideTheirFiles() throws {
    let (bytes, sizes) = try Self.load("plain")
    var small = sizes
    for key in small.keys { small[key] = 10 }
    #expect(throws: CheckpointError.self) {
      _ = try DistributedMetadataReader.read(bytes, fileSizes: small)
    }
    #expect(throws: CheckpointError.self) {
      _ = try DistributedMetadataReader.read(bytes, fileSizes: [:])
    }
  }
}
