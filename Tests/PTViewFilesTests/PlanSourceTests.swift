import PTViewCore
import PTViewEdit
import PTViewFiles
import Testing

/// `PlanSource` reads a write plan as the file it would write: literal bytes from the plan,
/// copied runs from the input, across chunk boundaries, short only at the end.
@Suite struct PlanSourceTests {
  let input = MemorySource(Array(0..<100).map { UInt8($0) })

  func plan() -> WritePlan {
    var plan = WritePlan()
    plan.append([200, 201])
    plan.copy(offset: 10, length: 3)
    plan.append([202])
    plan.copy(offset: 90, length: 5)
    return plan
  }

  @Test func readsAcrossChunks() throws {
    let source = PlanSource(plan(), over: input)
    #expect(source.size == 11)
    #expect(try source.read(at: 0, count: 11) == [200, 201, 10, 11, 12, 202, 90, 91, 92, 93, 94])
    #expect(try source.read(at: 3, count: 4) == [11, 12, 202, 90])
  }

  @Test func shortOnlyAtTheEnd() throws {
    let source = PlanSource(plan(), over: input)
    #expect(try source.read(at: 9, count: 10) == [93, 94])
    #expect(try source.read(at: 11, count: 4) == [])
    #expect(throws: SourceError.self) { try source.read(at: -1, count: 1) }
  }

  @Test func emptyPlanIsAnEmptyFile() throws {
    let source = PlanSource(WritePlan(), over: input)
    #expect(source.size == 0)
    #expect(try source.read(at: 0, count: 8) == [])
  }
}
