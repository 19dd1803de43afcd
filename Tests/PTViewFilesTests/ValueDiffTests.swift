import PTViewCore
import PTViewFiles
import PTViewTestSupport
import Testing

/// The value comparison of `ptview diff` does not depend on how it is split between threads.
@Suite struct ValueDiffTests {
  func report(jobElements: Int64, workers: Int) throws -> DiffReport {
    let left = try Fixtures.checkpoint("diff/base.pt")
    let right = try Fixtures.checkpoint("diff/changed.pt")
    var report = DiffReport(a: left.entries, b: right.entries)
    var diff = ValueDiff(
      a: TensorValues(
        checkpoint: left, source: try FileSource(path: Fixtures.path("diff/base.pt"))),
      b: TensorValues(
        checkpoint: right, source: try FileSource(path: Fixtures.path("diff/changed.pt"))))
    diff.jobElements = jobElements
    diff.workers = workers
    try diff.fill(&report)
    return report
  }

  @Test("small jobs on two workers give the report of one job per tensor on one")
  func splitting() throws {
    let whole = try report(jobElements: 1 << 30, workers: 1)
    let split = try report(jobElements: 7, workers: 2)
    #expect(whole.json == split.json)
    #expect(whole.changed.contains { $0.key == "big" && $0.maxAbsDiff != nil })
    #expect(whole.changed.contains { $0.key == "nan_vs_number" && $0.maxAbsDiff!.isNaN })
  }
}
