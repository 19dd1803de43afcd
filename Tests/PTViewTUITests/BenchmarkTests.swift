import Foundation
import PTViewCore
import PTViewEdit
import PTViewFiles
import PTViewJudge
import Testing

@testable import PTViewTUI

/// The explorer's two speed numbers, on a file named by `PTVIEW_BENCH_FILE` (skipped
/// otherwise; `Benchmarks/tui_bench.sh` makes the 80,000-tensor file and runs this in release):
/// time to the first frame (read the pickle, build the tree, open, render) and the total for
/// 1,000 scripted key presses (moves, expands, searches) through the runtime and the fake
/// backend, a frame rendered after each.
@Suite("benchmarks")
struct BenchmarkTests {
  static var file: String? { ProcessInfo.processInfo.environment["PTVIEW_BENCH_FILE"] }

  /// 1,000 messages: moves and pages, expanding and collapsing the 20,000-row runs,
  /// searches with n/N, jumps to the ends.
  static func script() -> [Message] {
    var out: [Message] = []
    func key(_ k: KeyEvent, _ times: Int = 1) { for _ in 0..<times { out.append(.key(k)) } }
    func typed(_ text: String) { for c in text { out.append(.key(.character(c))) } }
    while out.count < 1000 {
      key(.character("j"), 20)
      key(.enter)  // expand or collapse what is under the cursor
      key(.pageDown, 5)
      key(.character("k"), 10)
      key(.pageUp, 2)
      key(.character("/"))
      typed("layer1\(out.count % 1000)")
      key(.enter)
      key(.character("n"), 5)
      key(.character("N"), 2)
      key(.character("l"), 3)
      key(.character("h"), 3)
      key(.character("G"))
      key(.character("g"))
      key(.character("J"), 2)
      key(.character("p"))
    }
    return Array(out.prefix(1000))
  }

  @Test("first screen and 1,000 keys", .enabled(if: BenchmarkTests.file != nil))
  func firstScreenAndKeys() throws {
    let path = try #require(BenchmarkTests.file)
    let clock = ContinuousClock()
    let t0 = clock.now
    let source = try FileSource(path: path)
    let checkpoint = try CheckpointReader().read(source)
    let t1 = clock.now
    let tree = Tree(checkpoint: checkpoint)
    let t2 = clock.now
    let model = Model(
      tree: tree, header: HeaderFacts(checkpoint: checkpoint, tree: tree, path: path),
      settings: Settings(inputPath: path))
    var runtime = Runtime(model: model, backend: FakeBackend(script: BenchmarkTests.script()))
    runtime.redraw()
    let t3 = clock.now
    var effects = NoEffects()
    runtime.run(runner: &effects)
    let t4 = clock.now
    func ms(_ d: Duration) -> String {
      let v = Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
      return String(format: "%.1f ms", v)
    }
    print(
      """
      benchmark \(path): \(checkpoint.entries.count) tensors, \(tree.count) tree nodes
        read pickle      \(ms(t1 - t0))
        build tree       \(ms(t2 - t1))
        open + 1st frame \(ms(t3 - t2))
        FIRST SCREEN     \(ms(t3 - t0))
        1000 KEYS        \(ms(t4 - t3)) (\(runtime.frames - 1) frames, \(runtime.model.rows.count) rows at the end)
      """)
    #expect(runtime.frames == 1002)
    // What the shell adds when it opens a file: the scan, the doctor, the per-node findings.
    let t5 = clock.now
    let scan = SafetyScanner().scan(source, path: path)
    let t6 = clock.now
    let doctor = LoadDoctor().diagnose(source, path: path)
    let t7 = clock.now
    let assessment = Assessment(checkpoint: checkpoint, scan: scan, doctor: doctor)
    let t8 = clock.now
    let assessed = Model(checkpoint: checkpoint, path: path, assessment: assessment)
    let t9 = clock.now
    print(
      """
        scan             \(ms(t6 - t5)) (\(scan.verdict.rawValue))
        doctor           \(ms(t7 - t6))
        node findings    \(ms(t8 - t7)) (\(assessment.findings.count))
        assessed model   \(ms(t9 - t8)) (\(assessed.safety.flagged.count) flagged)
      """)
    // Tab: the graph view, opened on the first tensor (its rows made lazily), and its frame.
    var graphed = assessed
    let t10 = clock.now
    _ = graphed.update(.key(.tab))
    _ = graphed.render()
    let t11 = clock.now
    print(
      """
        GRAPH VIEW (Tab) \(ms(t11 - t10)) (\(graphed.graph?.rows.count ?? 0) rows)
      """)
    #expect(graphed.showingGraph)
  }
}
