import Foundation
import PTViewCore
import PTViewPickle
import PTViewTestSupport
import Testing

/// remap's in-place patch of a DCP `.metadata` (real fixtures from
/// Scripts/make_dcp_fixtures.py): the ranges change, no other byte does, frames stay whole.
@Suite struct DistributedMetadataPatchTests {
  static func bytes(_ name: String) throws -> [UInt8] {
    try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path(name + "/.metadata"))))
  }

  @Test func entriesAreTheStorageRangesTheReaderSees() throws {
    let (bytes, sizes) = try DistributedMetadataTests.load("sharded")
    let metadata = try DistributedMetadataReader.read(bytes, fileSizes: sizes)
    let entries = try DistributedMetadataPatch.entries(bytes)
    var fromReader: [DistributedMetadata.Storage] = []
    for item in metadata.items {
      switch item.kind {
      case .bytes(let s): fromReader.append(s)
      case .tensor(_, _, let chunks): fromReader += chunks.map(\.storage)
      }
    }
    #expect(Set(entries.map(\.storage.offset)) == Set(fromReader.map(\.offset)))
    #expect(entries.count == fromReader.count)
  }

  @Test func samePatchValuesGiveTheSameBytes() throws {
    let bytes = try Self.bytes("dcp_hostile/cuda_values")
    let entries = try DistributedMetadataPatch.entries(bytes)
    var values: [Int: Int64] = [:]
    for e in entries {
      values[e.offsetAt] = e.storage.offset
      values[e.lengthAt] = e.storage.length
    }
    #expect(try DistributedMetadataPatch.patch(bytes, values) == bytes)
  }

  @Test func widerIntegersGrowTheirFrame() throws {
    let bytes = try Self.bytes("dcp_hostile/cuda_values")
    let entries = try DistributedMetadataPatch.entries(bytes)
    // 1 << 40 needs LONG1 (7 bytes with its count) where BININT2 took 3; 300 needs BININT2.
    let offsets: [Int64] = [1 << 40, 300, 70_000, -5]
    var values: [Int: Int64] = [:]
    for (e, v) in zip(entries, offsets) { values[e.offsetAt] = v }
    let patched = try DistributedMetadataPatch.patch(bytes, values)
    #expect(try DistributedMetadataPatch.entries(patched).map(\.storage.offset) == offsets)
    // The only frame (protocol 4 writes one for a small pickle) covers the new length.
    var reader = InstructionReader(bytes: patched)
    _ = try reader.next()
    let frame = try reader.next()
    #expect(frame.opcode == .frame)
    guard case .int(let length) = frame.argument else { return }
    var walker = InstructionReader(bytes: patched, position: frame.end)
    var last = frame
    while !walker.atEnd {
      last = try walker.next()
      if last.opcode == .stop { break }
    }
    #expect(last.opcode == .stop && last.end == frame.end + Int(length))
  }

  @Test func anOffsetThatIsNoIntegerIsRefused() throws {
    let bytes = try Self.bytes("dcp_hostile/cuda_values")
    #expect(throws: CheckpointError.self) {
      _ = try DistributedMetadataPatch.patch(bytes, [2: 5])
    }
    #expect(throws: CheckpointError.self) {
      _ = try DistributedMetadataPatch.patch(bytes, [bytes.count + 10: 5])
    }
  }
}
