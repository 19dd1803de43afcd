import Testing

@testable import PTViewValues

/// Strided walks, read planning, decoding and statistics on hand-made layouts and bytes.
@Suite struct ValueReadingTests {
  /// Every storage index a layout visits, in logical order, the slow obvious way.
  func naive(_ layout: StridedLayout) -> [Int64] {
    var out: [Int64] = []
    let count = layout.count ?? 0
    for i in 0..<count {
      var rest = i
      var at = layout.offset
      for d in layout.shape.indices.reversed() {
        at += (rest % layout.shape[d]) * layout.strides[d]
        rest /= layout.shape[d]
      }
      out.append(at)
    }
    return out
  }

  func walked(_ layout: StridedLayout, from: Int64 = 0, to: Int64? = nil) -> [Int64] {
    var out: [Int64] = []
    for run in layout.runs(from: from, to: to) {
      for k in 0..<run.count { out.append(run.start + k * run.step) }
    }
    return out
  }

  @Test(arguments: [
    StridedLayout(shape: [3, 4], strides: [4, 1], offset: 0),
    StridedLayout(shape: [4, 3], strides: [1, 4], offset: 0),  // transpose
    StridedLayout(shape: [3], strides: [4], offset: 2),  // column
    StridedLayout(shape: [2, 2], strides: [4, 1], offset: 5),  // block
    StridedLayout(shape: [3, 4], strides: [1, 0], offset: 0),  // expanded
    StridedLayout(shape: [5, 3], strides: [1, 1], offset: 1),  // overlapping windows
    StridedLayout(shape: [], strides: [], offset: 7),  // scalar
    StridedLayout(shape: [2, 1, 3, 2], strides: [1, 99, 4, 2], offset: 0),  // permuted, size 1
    StridedLayout(shape: [0, 3], strides: [3, 1], offset: 0),  // empty
  ])
  func runsVisitLogicalOrder(_ layout: StridedLayout) {
    #expect(walked(layout) == naive(layout))
    let all = naive(layout)
    if all.count > 2 {
      #expect(walked(layout, from: 1, to: Int64(all.count - 1)) == Array(all[1..<(all.count - 1)]))
    }
  }

  @Test func orderFreeKeepsTheMultiset() {
    let layout = StridedLayout(shape: [3, 1000, 2], strides: [2, 0, 1], offset: 1)
    let (reduced, multiplicity) = layout.orderFree()
    #expect(multiplicity == 1000)
    #expect(reduced.shape == [6] && reduced.strides == [1])
    #expect(walked(reduced).sorted() == Array(Set(naive(layout))).sorted())
    #expect(!layout.isNonOverlapping)
    #expect(StridedLayout(shape: [4, 3], strides: [1, 4], offset: 0).isNonOverlapping)
    #expect(!StridedLayout(shape: [5, 3], strides: [1, 1], offset: 0).isNonOverlapping)
  }

  @Test func hostileLayoutsAreRefused() {
    #expect(throws: StridedLayout.Problem.self) {
      try StridedLayout(shape: [3, 4], strides: [4, 1], offset: 1).validate(storageElements: 12)
    }
    #expect(throws: StridedLayout.Problem.self) {
      try StridedLayout(shape: [Int64.max, 4], strides: [4, 1], offset: 0)
        .validate(storageElements: 12)
    }
    #expect(throws: StridedLayout.Problem.self) {
      try StridedLayout(shape: [2], strides: [Int64.max], offset: 0).validate(storageElements: 12)
    }
    #expect(throws: StridedLayout.Problem.self) {
      try StridedLayout(shape: [2, 3], strides: [1], offset: 0).validate(storageElements: 12)
    }
    #expect(throws: StridedLayout.Problem.self) {
      try StridedLayout(shape: [-1], strides: [1], offset: 0).validate(storageElements: 12)
    }
    // Nothing to read: an empty view may sit anywhere.
    #expect(throws: Never.self) {
      try StridedLayout(shape: [0, 5], strides: [5, 1], offset: 100).validate(storageElements: 0)
    }
  }

  @Test func plannerJoinsNearRunsAndSplitsLongOnes() {
    var pieces: [ReadPiece] = []
    var planner = ReadPlanner(width: 4, pieceSize: 64, maxGap: 8)
    // A column of a 3x4 float32 matrix: elements 16 bytes apart, within the gap.
    for run in StridedLayout(shape: [3], strides: [4], offset: 2).runs() {
      planner.add(run) { pieces.append($0) }
    }
    planner.finish { pieces.append($0) }
    #expect(pieces.count == 1)
    #expect(pieces[0].byteOffset == 8 && pieces[0].byteCount == 36)
    // 40 contiguous float32 (160 bytes) split into 64-byte pieces.
    pieces = []
    planner = ReadPlanner(width: 4, pieceSize: 64, maxGap: 8)
    for run in StridedLayout.contiguous([40]).runs() { planner.add(run) { pieces.append($0) } }
    planner.finish { pieces.append($0) }
    #expect(pieces.map(\.byteCount) == [64, 64, 32])
    #expect(pieces.flatMap(\.runs).map(\.logicalStart) == [0, 16, 32])
  }

  @Test func decodesLittleAndBigEndianBytes() {
    // torch.tensor([1.5, -2.0, inf], dtype=torch.float16) bytes, little-endian.
    let little: [UInt8] = [0x00, 0x3E, 0x00, 0xC0, 0x00, 0x7C]
    let big: [UInt8] = [0x3E, 0x00, 0xC0, 0x00, 0x7C, 0x00]
    let run = PieceRun(firstByte: 0, count: 3, step: 1, logicalStart: 0)
    for (bytes, bigEndian) in [(little, false), (big, true)] {
      let decoder = ElementDecoder(encoding: .float(.float16), bigEndian: bigEndian)
      var out: [ElementValue] = []
      bytes.withUnsafeBytes { decoder.values($0.baseAddress!, run: run, into: &out) }
      #expect(out == [.float(1.5), .float(-2.0), .float(.infinity)])
    }
    // int64 -1 and a negated view of it.
    let minusOne = [UInt8](repeating: 0xFF, count: 8)
    let one = PieceRun(firstByte: 0, count: 1, step: 1, logicalStart: 0)
    var out: [ElementValue] = []
    minusOne.withUnsafeBytes {
      ElementDecoder(encoding: .signed(byteWidth: 8), bigEndian: false)
        .values($0.baseAddress!, run: one, into: &out)
      ElementDecoder(encoding: .unsigned(byteWidth: 8), bigEndian: false)
        .values($0.baseAddress!, run: one, into: &out)
      ElementDecoder(encoding: .signed(byteWidth: 8), bigEndian: false, negated: true)
        .values($0.baseAddress!, run: one, into: &out)
    }
    #expect(out == [.int(-1), .uint(UInt64.max), .int(1)])
  }

  @Test func dequantizesAsTorch() {
    // torch.quantize_per_tensor(torch.tensor([0.1]), 0.0371, 100, torch.quint8): stored 103,
    // dequantize() gives float32 0.1113 (3 * 0.0371 in float32).
    let per = Dequantization(
      torchName: "quint8", scheme: .perTensor(scale: 0.0371, zeroPoint: 100))!
    #expect(per.value(103, channel: 0) == Float(3) * Float(0.0371))
    // Per channel: float64 product, then float32.
    let channel = Dequantization(
      torchName: "qint8", scheme: .perChannel(axis: 0, scales: [0.1, 0.3], zeroPoints: [0, -2]))!
    #expect(channel.value(5, channel: 1) == Float(Double(7) * 0.3))
    // The decoder finds each element's channel from its row-major index.
    let bytes: [UInt8] = [1, 2, 3, 1, 2, 3]  // shape (2, 3), axis 0
    let decoder = ElementDecoder(
      encoding: .quantized(channel), bigEndian: false, shape: [2, 3])
    var out = [Double](repeating: 0, count: 6)
    bytes.withUnsafeBytes {
      decoder.reals(
        $0.baseAddress!, run: PieceRun(firstByte: 0, count: 6, step: 1, logicalStart: 0),
        first: 0, count: 6, into: &out)
    }
    #expect(out[0] == Double(Float(0.1)) && out[3] == Double(Float(Double(3) * 0.3)))
  }

  @Test func statisticsMergeAndRepeat() {
    let values: [Double] = [1e6 + 1, 1e6 + 2, .nan, 1e6 + 3, .infinity, -.infinity, 0, 1e6 + 4]
    var whole = ValueStatistics()
    values.withUnsafeBufferPointer { whole.add(reals: $0.baseAddress!, count: $0.count) }
    var halves = ValueStatistics()
    values.withUnsafeBufferPointer {
      var a = ValueStatistics()
      var b = ValueStatistics()
      a.add(reals: $0.baseAddress!, count: 3)
      b.add(reals: $0.baseAddress! + 3, count: 5)
      halves = a
      halves.merge(b)
    }
    for s in [whole, halves] {
      #expect(s.count == 8 && s.nan == 1 && s.posinf == 1 && s.neginf == 1 && s.zeros == 1)
      #expect(s.min == 0 && s.max == 1e6 + 4)
      let finite = [1e6 + 1, 1e6 + 2, 1e6 + 3, 0, 1e6 + 4]
      let mean = finite.reduce(0, +) / 5
      let variance = finite.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 4
      #expect(abs(s.mean! - mean) <= 1e-9 * abs(mean))
      #expect(abs(s.std! - variance.squareRoot()) <= 1e-9 * variance.squareRoot())
    }
    let repeated = whole.repeated(3)
    #expect(repeated.count == 24 && repeated.finite == 15 && repeated.mean == whole.mean)
    var one = ValueStatistics()
    [2.5].withUnsafeBufferPointer { one.add(reals: $0.baseAddress!, count: 1) }
    #expect(one.std == nil && one.mean == 2.5)
  }
}
