import Foundation
import PTViewCore
import PTViewEdit
import PTViewFiles
import PTViewJudge
import PTViewTestSupport
import Testing

/// Atomic writes: the destination appears complete or not at all; copies go through the kernel.
@Suite struct AtomicOutputTests {
  func folder() throws -> String {
    let path = NSTemporaryDirectory() + "ptview-files-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  @Test("a plan of literals and copies produces exactly those bytes")
  func write() throws {
    let dir = try folder()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let input = (0..<10_000).map { UInt8($0 % 251) }
    try Data(input).write(to: URL(fileURLWithPath: dir + "/in"))
    var plan = WritePlan()
    plan.append([1, 2, 3])
    plan.copy(offset: 100, length: 5000)
    plan.append([9])
    plan.copy(offset: 0, length: 10)
    let source = try FileSource(path: dir + "/in")
    var seen: Int64 = 0
    try AtomicOutput.write(plan, from: source, to: dir + "/out", mode: 0o640) { done, total in
      seen = done
      #expect(total == plan.size)
    }
    let out = Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/out")))
    var expected: [UInt8] = [1, 2, 3]
    expected += input[100..<5100]
    expected.append(9)
    expected += input[0..<10]
    #expect(out == expected)
    #expect(seen == plan.size)
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["in", "out"])
  }

  @Test("a failed write leaves neither the destination nor a temporary file")
  func failure() throws {
    let dir = try folder()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try Data([1, 2, 3]).write(to: URL(fileURLWithPath: dir + "/in"))
    var plan = WritePlan()
    plan.copy(offset: 0, length: 100)  // past the end of the input
    let source = try FileSource(path: dir + "/in")
    #expect(throws: WriteError.self) {
      try AtomicOutput.write(plan, from: source, to: dir + "/out", mode: 0o644)
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["in"])
    #expect(throws: WriteError.self) {
      try AtomicOutput.write(plan, from: source, to: dir + "/missing-folder/out", mode: 0o644)
    }
  }

  @Test("a cast that runs past the end of the input names the record and the byte, writes nothing")
  func convertPastEnd() throws {
    let dir = try folder()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try Data(repeating: 0x3F, count: 1000).write(to: URL(fileURLWithPath: dir + "/in"))
    let f32 = try #require(DType.named("float32"))
    let bf16 = try #require(DType.named("bfloat16"))
    let conversion = try #require(
      Conversion(from: f32, to: bf16, bigEndian: false, record: "data/7"))
    var plan = WritePlan()
    plan.convert(offset: 200, length: 4000, conversion)
    let source = try FileSource(path: dir + "/in")
    do {
      try AtomicOutput.write(plan, from: source, to: dir + "/out", mode: 0o644)
      Issue.record("the write succeeded")
    } catch {
      #expect(
        error.message == "record data/7: the input ended at byte 1000 (it changed while reading?)")
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["in"])
  }

  @Test("FileSource reports missing files and folders as errors")
  func sources() {
    #expect(throws: SourceError.self) { _ = try FileSource(path: "/nonexistent/ptview") }
    #expect(throws: SourceError.self) { _ = try FileSource(path: "/tmp") }
  }
}
