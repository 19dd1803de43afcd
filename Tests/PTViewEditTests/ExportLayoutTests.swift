import PTViewCore
import PTViewEdit
import Testing

/// The safetensors header writer, shard sizes and the shard split, in memory; the header
/// written is read back by ptview's own safetensors reader (the safetensors library judges
/// the real files in Tests/Interop/test_export.py).
@Suite struct ExportLayoutTests {
  let tensors = [
    SafetensorsLayout.Tensor(key: "b", code: "F16", shape: [3], byteCount: 6),
    SafetensorsLayout.Tensor(key: "a\"q", code: "F32", shape: [2, 2], byteCount: 16),
    SafetensorsLayout.Tensor(key: "empty", code: "I64", shape: [0, 4], byteCount: 0),
  ]

  @Test("the header reads back with data offsets tiling the data, padded to 8 bytes")
  func headerRoundTrip() throws {
    let ordered = SafetensorsLayout.ordered(tensors)
    #expect(ordered.map(\.key) == ["empty", "a\"q", "b"])
    let header = SafetensorsLayout.header(ordered, metadata: [("format", "pt")])
    #expect(header.count % 8 == 0)
    let data = [UInt8](repeating: 7, count: 22)
    let parsed = try SafetensorsReader.header(MemorySource(header + data))
    #expect(parsed.dataStart == Int64(header.count))
    #expect(parsed.metadata.map(\.0) == ["format"] && parsed.metadata.map(\.1) == ["pt"])
    let byName = Dictionary(uniqueKeysWithValues: parsed.entries.map { ($0.name, $0) })
    #expect(byName["a\"q"]?.begin == 0 && byName["a\"q"]?.end == 16)
    #expect(byName["b"]?.begin == 16 && byName["b"]?.end == 22)
    #expect(byName["empty"]?.shape == [0, 4])
  }

  @Test("float4_e2m1fn_x2: torch counts bytes, safetensors counts values")
  func float4Shape() {
    #expect(SafetensorsLayout.headerShape([2, 3], code: "F4") == [2, 6])
    #expect(SafetensorsLayout.headerShape([2, 3], code: "F32") == [2, 3])
  }

  @Test(
    "sizes parse as huggingface_hub and transformers read them",
    arguments: [
      ("5GB", Int64(5_000_000_000)), ("5GiB", 5 << 30), ("500MB", 500_000_000),
      ("500mb", 500_000_000), ("1.5GB", 1_500_000_000), ("2KiB", 2048), ("1000", 1000),
      ("1TB", 1_000_000_000_000), (" 3MiB ", 3 << 20),
    ])
  func sizes(text: String, bytes: Int64) {
    #expect(ShardSize.parse(text) == bytes)
  }

  @Test("not sizes", arguments: ["", "GB", "5XB", "-1", "0", "1.2.3GB", "five", "0KB"])
  func notSizes(text: String) {
    #expect(ShardSize.parse(text) == nil)
  }

  @Test("shards fill in key order; an oversized tensor gets its own shard, placed first")
  func split() {
    #expect(ShardPlan.split([4, 4, 4], limit: 8) == [[0, 1], [2]])
    #expect(ShardPlan.split([4, 20, 4], limit: 8) == [[1], [0, 2]])
    #expect(ShardPlan.split([8, 1], limit: 8) == [[0], [1]])
    #expect(ShardPlan.split([], limit: 8) == [])
    #expect(ShardPlan.fileName(0, of: 1) == "model.safetensors")
    #expect(ShardPlan.fileName(1, of: 12) == "model-00002-of-00012.safetensors")
  }

  @Test("the index lists keys sorted, with the total size")
  func index() throws {
    let text = ShardPlan.indexJSON(
      totalSize: 30, weightMap: [("z", "model-00002-of-00002.safetensors"), ("a", "m1")])
    let json = try JSONParser.parse(Array(text.utf8))
    #expect(json["metadata"]?["total_size"]?.intValue == 30)
    #expect(text.firstRange(of: "\"a\"")!.lowerBound < text.firstRange(of: "\"z\"")!.lowerBound)
  }

  @Test("the streamed index is the same text, in pieces")
  func streamedIndex() {
    let entries = (0..<500).map { ("key.\($0)", "f\($0 % 3)") }.sorted {
      Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8))
    }
    for list in [entries, []] {
      var pieces: [[UInt8]] = []
      ShardPlan.streamIndexJSON(
        totalSize: 7, count: list.count, entry: { list[$0] }, pieceSize: 1000
      ) { pieces.append($0) }
      #expect(
        pieces.joined().elementsEqual(ShardPlan.indexJSON(totalSize: 7, weightMap: list).utf8))
      #expect(list.isEmpty ? pieces.count == 1 : pieces.count > 5)
    }
  }
}
