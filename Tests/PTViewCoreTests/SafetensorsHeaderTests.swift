import PTViewCore
import Testing

/// Hostile safetensors headers: every one is a one-line error with a byte offset, never a
/// crash or a huge allocation.
@Suite struct SafetensorsHeaderTests {
  func file(_ json: String, data: Int = 16, length: UInt64? = nil) -> MemorySource {
    let text = Array(json.utf8)
    let n = length ?? UInt64(text.count)
    var bytes = (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) }
    bytes += text + [UInt8](repeating: 0, count: data)
    return MemorySource(bytes)
  }

  func error(_ source: MemorySource) -> CheckpointError? {
    do {
      _ = try SafetensorsReader.header(source)
      return nil
    } catch { return error }
  }

  let a = #""a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#
  let b = #""b":{"dtype":"I32","shape":[2],"data_offsets":[8,16]}"#

  @Test("a good header reads")
  func good() throws {
    let header = try SafetensorsReader.header(file("{\(a),\(b)}"))
    #expect(header.entries.map(\.name) == ["a", "b"])
  }

  @Test("the header length is bounded by the file and by 100 MB")
  func length() {
    #expect(error(file("{\(a),\(b)}", length: 1 << 40))?.offset == 0)
    #expect(error(file("{\(a),\(b)}", length: UInt64.max))?.offset == 0)
    #expect(error(MemorySource([1, 2, 3]))?.offset == 0)
  }

  @Test("overlaps, gaps, data past the end and shape mismatches name the byte")
  func offsets() {
    let overlap = #""b":{"dtype":"I32","shape":[2],"data_offsets":[4,12]}"#
    let e = error(file("{\(a),\(overlap)}"))
    #expect(e?.message.contains("overlaps") == true)
    #expect(e?.offset != nil)
    let gap = #""b":{"dtype":"I32","shape":[1],"data_offsets":[12,16]}"#
    #expect(error(file("{\(a),\(gap)}"))?.message.contains("gap") == true)
    #expect(error(file("{\(a),\(b)}", data: 12)) != nil)
    let wrong = #""b":{"dtype":"I32","shape":[3],"data_offsets":[8,16]}"#
    #expect(error(file("{\(a),\(wrong)}"))?.record == "b")
  }

  @Test("unknown dtypes and repeated keys are refused by name")
  func names() {
    let odd = #""b":{"dtype":"Q7","shape":[2],"data_offsets":[8,16]}"#
    #expect(error(file("{\(a),\(odd)}"))?.message.contains("Q7") == true)
    #expect(error(file("{\(a),\(a),\(b)}"))?.message.contains("repeats") == true)
  }
}
