import Foundation
import PTViewCore
import PTViewEdit
import PTViewJudge
import PTViewPickle
import PTViewTestSupport
import Testing

/// Every input the fuzzer ever crashed on (Fuzz/crashers) runs again through the same paths:
/// reading, listing, rewriting, scanning, the doctor. None may trap.
@Suite struct CrasherReplayTests {
  static let crashers: [String] = {
    let folder = Fixtures.root.appendingPathComponent("Fuzz/crashers").path
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
    return names.filter {
      $0.hasPrefix("crash-") || $0.hasPrefix("oom-") || $0.hasPrefix("timeout-")
    }.sorted()
  }()

  @Test("earlier crashers no longer crash", arguments: crashers)
  func replay(_ name: String) throws {
    let url = Fixtures.root.appendingPathComponent("Fuzz/crashers/" + name)
    let bytes = Array(try Data(contentsOf: url))
    var machine = Machine()
    _ = try? machine.load(bytes)
    _ = Disassembler.listing(bytes)
    var reader = CheckpointReader()
    reader.strict = false
    if let checkpoint = try? reader.read(MemorySource(bytes)) {
      _ = ListReport.json(checkpoint.entries)
      _ = InfoReport(checkpoint).text
      let plan = RemapPlanner.plan(checkpoint, rules: DeviceRules(defaultTarget: "cpu"))
      _ = try? CheckpointRewriter(checkpoint: checkpoint, source: MemorySource(bytes)).rewrite(
        plan.edits, outputPath: "out.pt")
    }
    _ = SafetyScanner().scan(MemorySource(bytes), path: name)
    _ = LoadDoctor().diagnose(MemorySource(bytes), path: name)
  }

  @Test("the crasher folder is there") func present() { #expect(!Self.crashers.isEmpty) }
}
