import PTViewCore
import PTViewEdit
import PTViewTestSupport
import Testing

/// In-place appends in memory: the plan, the markers, intact and torn archives (real torch and
/// zipfile judge the files in Tests/Interop/test_inplace.py).
@Suite struct AppendTests {
  /// The input with an in-place remap to cpu appended.
  func appended(_ name: String) throws -> (input: [UInt8], output: [UInt8]) {
    let input = try Fixtures.bytes("torch/" + name)
    let checkpoint = try Fixtures.fullCheckpoint("torch/" + name)
    let plan = RemapPlanner.plan(checkpoint, rules: DeviceRules(defaultTarget: "cpu"))
    let rewriter = CheckpointRewriter(checkpoint: checkpoint, source: MemorySource(input))
    let result = try rewriter.rewrite(plan.edits, outputPath: "/x/other.pt", appending: true)
    #expect(result.appendedAt == Int64(input.count))
    #expect(result.plan.copiedBytes == 0)
    let output = input + Fixtures.execute(result.plan, input: input)
    let reread = try CheckpointReader().read(MemorySource(output))
    #expect(reread.archiveRoot == checkpoint.archiveRoot, "the root is kept")
    #expect(reread.appendedAt == Int64(input.count))
    #expect(reread.entries.allSatisfy { $0.tensor.device == "cpu" })
    let problems = RewriteVerifier.problems(
      input: checkpoint, inputSource: MemorySource(input), output: reread,
      outputSource: MemorySource(output), edits: plan.edits, rewrite: result)
    #expect(problems.isEmpty, "\(problems)")
    return (input, output)
  }

  @Test("an append keeps every storage record where it was, aligned by absolute offset")
  func appendLayout() throws {
    for name in ["sd_cuda0.pt", "ts_scripted_cuda0.pt", "sd_mixed.pt"] {
      let (input, output) = try appended(name)
      #expect(Array(output[0..<input.count]) == input)
      let before = try ZipDirectory(source: MemorySource(input))
      let after = try ZipDirectory(source: MemorySource(output))
      for entry in before.entries where entry.name.contains("/data/") {
        #expect(after.entry(named: entry.name)?.localHeaderOffset == entry.localHeaderOffset)
      }
      for entry in after.entries where entry.localHeaderOffset >= Int64(input.count) {
        let header = try ZipDirectory.localHeader(of: entry, in: MemorySource(output))
        #expect(header.dataOffset % 64 == 0, "\(entry.name)")
      }
      guard case .success(let shape) = AppendedArchive.intact(MemorySource(output)) else {
        Issue.record("\(name) is not intact")
        continue
      }
      #expect(shape.lastAppend?.oldSize == Int64(input.count))
    }
  }

  @Test("markers: round trip, and damage or a wrong old size is refused")
  func markers() throws {
    let marker = AppendMarker(oldSize: 5000, tailLength: 5000, tailCRC: 0xDEAD_BEEF, role: .head)
    #expect(AppendMarker.parse(marker.bytes) == marker)
    var damaged = marker.bytes
    damaged[30] ^= 1
    #expect(AppendMarker.parse(damaged) == nil)
    let absurd = AppendMarker(oldSize: 5000, tailLength: 12, tailCRC: 0, role: .head)
    #expect(AppendMarker.parse(absurd.bytes) == nil, "tail length must follow the old size")
  }

  @Test("a torn append is diagnosed with its old end at every cut; intact files are intact")
  func torn() throws {
    let (input, output) = try appended("sd_cuda0.pt")
    guard case .intact = AppendedArchive.diagnose(MemorySource(input)) else {
      Issue.record("the untouched input is not intact")
      return
    }
    for cut in stride(from: input.count + 1, to: output.count, by: 7) {
      let source = MemorySource(Array(output[0..<cut]))
      guard case .torn(let oldEnd, _) = AppendedArchive.diagnose(source) else {
        Issue.record("cut at \(cut) is not diagnosed as torn")
        continue
      }
      #expect(oldEnd == Int64(input.count))
      #expect(AppendedArchive.tornTailError(source) != nil)
    }
    // Zero padding after an untouched archive is no append.
    let padded = MemorySource(input + [UInt8](repeating: 0, count: 300))
    guard case .unrecoverable = AppendedArchive.diagnose(padded) else {
      Issue.record("zero padding was taken for a torn append")
      return
    }
  }
}
