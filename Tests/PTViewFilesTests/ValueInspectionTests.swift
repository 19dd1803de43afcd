import PTViewCore
import PTViewFiles
import PTViewTestSupport
import PTViewValues
import Testing

/// The reads behind the explorer's values pane: the histogram pass and cancellation.
@Suite("value inspection")
struct ValueInspectionTests {
  static let fixture = "values/values_pane.pt"

  func stored(_ key: String) throws -> (TensorValues, StoredTensor) {
    let checkpoint = try Fixtures.checkpoint(Self.fixture)
    let reader = TensorValues(
      checkpoint: checkpoint, source: try FileSource(path: Fixtures.path(Self.fixture)))
    let entry = try #require(checkpoint.entries.first { $0.key == key })
    guard case .stored(let stored) = try reader.locate(entry.tensor) else {
      throw CheckpointError(.malformed, "\(key) has no values")
    }
    return (reader, stored)
  }

  @Test("the histogram counts every finite value once, in equal bins from min to max")
  func histogram() throws {
    let (reader, stored) = try stored("model.cube")
    let s = try reader.statistics(of: [stored])[0]
    let h = try reader.histogram(of: stored, low: s.min!, high: s.max!, bins: 6)
    // 0, 1/8, ..., 59/8: ten values per bin, the maximum in the last.
    #expect(h.counts == [10, 10, 10, 10, 10, 10])
    let bad = try self.stored("model.bad")
    let sb = try bad.0.statistics(of: [bad.1])[0]
    let hb = try bad.0.histogram(of: bad.1, low: sb.min!, high: sb.max!, bins: 4)
    #expect(hb.total == sb.finite)
    #expect(hb.total == 6)
  }

  @Test("a raised flag stops the statistics and the histogram")
  func cancelled() throws {
    let (reader, stored) = try stored("model.weight")
    let flag = CancellationFlag()
    flag.raise()
    #expect(throws: CheckpointError.self) {
      _ = try reader.statistics(of: [stored], cancel: flag)
    }
    #expect(throws: CheckpointError.self) {
      _ = try reader.histogram(of: stored, low: -1, high: 1, bins: 8, cancel: flag)
    }
    #expect(try reader.statistics(of: [stored], cancel: CancellationFlag())[0].count == 30)
  }

  @Test("a histogram over float64's whole range does not overflow into one bin")
  func wideRange() {
    var h = ValueHistogram(low: -1e308, high: 1e308, bins: 4)
    let values: [Double] = [-1e308, -1e307, 1e307, 1e308, .nan, .infinity]
    values.withUnsafeBufferPointer { h.add(reals: $0.baseAddress!, count: $0.count) }
    #expect(h.counts == [1, 1, 1, 1])
  }
}
