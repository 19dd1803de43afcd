import PTViewCore
import PTViewFiles
import PTViewValues
import Testing

/// Values of safetensors tensors: read from the data section by the byte range the header
/// gives, with no storage record; a range that a hostile caller moves past the end is an
/// error naming the byte, never a read out of bounds.
@Suite("safetensors values")
struct SafetensorsValuesTests {
  /// A file of two tensors: `a` float32 [2, 2] = 1, 2, 3, 4 and `b` uint8 [3] = 7, 8, 9,
  /// placed unaligned after `a` (the format allows any begin).
  static func file() -> [UInt8] {
    var header = Array(
      #"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"U8","shape":[3],"data_offsets":[16,19]}}"#
        .utf8)
    while header.count % 8 != 0 { header.append(0x20) }
    var bytes: [UInt8] = []
    var n = UInt64(header.count)
    for _ in 0..<8 {
      bytes.append(UInt8(n & 0xff))
      n >>= 8
    }
    bytes += header
    for v: Float in [1, 2, 3, 4] {
      var bits = v.bitPattern
      for _ in 0..<4 {
        bytes.append(UInt8(bits & 0xff))
        bits >>= 8
      }
    }
    return bytes + [7, 8, 9]
  }

  @Test("each tensor's values come from its own range; listings show no storage")
  func values() throws {
    let source = MemorySource(Self.file())
    let checkpoint = try SafetensorsReader.read(source)
    let reader = TensorValues(checkpoint: checkpoint, source: source)
    var got: [String: [Double]] = [:]
    for entry in checkpoint.entries {
      #expect(entry.tensor.storage == nil)
      guard case .stored(let stored) = try reader.locate(entry.tensor) else {
        Issue.record("\(entry.key) has no values")
        continue
      }
      got[entry.key] = try reader.values(of: stored, from: 0, count: Int(entry.tensor.numel))
        .map {
          switch $0 {
          case .float(let v): v
          case .uint(let v): Double(v)
          default: -1
          }
        }
    }
    #expect(got == ["a": [1, 2, 3, 4], "b": [7, 8, 9]])
  }

  @Test("a data offset past the end of the file is a one-line error with the byte")
  func pastTheEnd() throws {
    let source = MemorySource(Self.file())
    let checkpoint = try SafetensorsReader.read(source)
    let reader = TensorValues(checkpoint: checkpoint, source: source)
    var tensor = try #require(checkpoint.entries.first { $0.key == "b" }).tensor
    tensor.dataOffset = source.size - 1
    #expect(throws: CheckpointError.self) { try reader.locate(tensor) }
    tensor.dataOffset = Int64.max - 1
    #expect(throws: CheckpointError.self) { try reader.locate(tensor) }
  }
}
