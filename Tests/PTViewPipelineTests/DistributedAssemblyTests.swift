import PTViewCore
import Testing

@testable import PTViewPipeline

/// Where chunk bytes land in the assembled tensor.
@Suite struct DistributedAssemblyTests {
  func runs(_ offsets: [Int64], _ sizes: [Int64], in shape: [Int64]) -> [[Int64]] {
    var out: [[Int64]] = []
    let chunk = DistributedMetadata.Chunk(
      offsets: offsets, sizes: sizes, storage: .init(file: "f", offset: 0, length: 0))
    let done = DistributedAssembly.runs(
      chunk: chunk, shape: shape, elementSize: 4, sourceStart: 1000, limit: 100
    ) { out.append([$0, $1, $2]) }
    #expect(done)
    return out
  }

  @Test func rowShardIsOneRun() {
    // Rows 3..<6 of a 6x4 float tensor: one stretch of 48 bytes at byte 48.
    #expect(runs([3, 0], [3, 4], in: [6, 4]) == [[48, 1000, 48]])
  }

  @Test func columnShardIsOneRunPerRow() {
    // Columns 4..<8 of a 3x8 tensor: three rows of 16 bytes.
    #expect(
      runs([0, 4], [3, 4], in: [3, 8]) == [[16, 1000, 16], [48, 1016, 16], [80, 1032, 16]])
  }

  @Test func scalarIsOneElement() {
    #expect(runs([], [], in: []) == [[0, 1000, 4]])
  }

  @Test func limitStopsEarly() {
    let chunk = DistributedMetadata.Chunk(
      offsets: [0, 0], sizes: [50, 1], storage: .init(file: "f", offset: 0, length: 0))
    let done = DistributedAssembly.runs(
      chunk: chunk, shape: [50, 2], elementSize: 1, sourceStart: 0, limit: 10
    ) { _, _, _ in }
    #expect(!done)
  }
}
