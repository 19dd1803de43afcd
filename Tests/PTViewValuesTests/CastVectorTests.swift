import PTViewTestSupport
import PTViewValues
import Testing

/// FloatCast against real torch: every vector in `Tests/Fixtures/cast` converted and compared
/// byte for byte with what `tensor.to(dtype)` wrote.
@Suite struct CastVectorTests {
  @Test("manifest loads and covers every source with every target")
  func manifestCoversEveryPair() throws {
    let manifest = try CastManifest.load()
    var pairs: Set<String> = []
    for vector in manifest.vectors { pairs.insert("\(vector.from)->\(vector.to)") }
    for from in FloatFormat.allCases {
      for to in FloatFormat.allCases where FloatCast.canTarget(to) && to != from {
        #expect(pairs.contains("\(from.rawValue)->\(to.rawValue)"), "no vector \(from) -> \(to)")
      }
    }
    #expect(manifest.vectors.contains { $0.bigEndian })
    #expect(manifest.vectors.contains { $0.count >= 100_000 && $0.from == "float64" })
  }

  @Test("matches torch byte for byte", arguments: CastManifest.vectors)
  func matchesTorch(_ vector: CastVector) throws {
    let from = try #require(FloatFormat(torchName: vector.from))
    let to = try #require(FloatFormat(torchName: vector.to))
    let input = try vector.input()
    let expected = try vector.expected()
    try #require(input.count == vector.count * from.byteWidth)
    try #require(expected.count == vector.count * to.byteWidth)

    var actual = [UInt8](repeating: 0xAA, count: expected.count)
    input.withUnsafeBytes { source in
      actual.withUnsafeMutableBytes { destination in
        FloatCast.convert(
          source, from: from, into: destination, to: to, count: vector.count,
          bigEndian: vector.bigEndian)
      }
    }
    guard actual != expected else { return }

    let width = to.byteWidth
    let differing = (0..<vector.count).filter {
      actual[$0 * width..<($0 + 1) * width] != expected[$0 * width..<($0 + 1) * width]
    }
    let first = differing[0]
    Issue.record(
      """
      \(vector.name): \(differing.count) of \(vector.count) elements differ; first at \(first): \
      input \(vector.hex(input, index: first, width: from.byteWidth)), \
      torch \(vector.hex(expected, index: first, width: width)), \
      ptview \(vector.hex(actual, index: first, width: width))
      """)
  }
}
