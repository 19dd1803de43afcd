import Testing

@testable import PTViewCore

/// Tensor arithmetic that must agree with torch and survive absurd sizes from hostile files.
@Suite struct TensorInfoTests {
  static func tensor(_ shape: [Int64], _ stride: [Int64]) -> TensorInfo {
    TensorInfo(
      dtype: DType.named("float32")!, shape: shape, stride: stride, offset: 0, device: "cpu",
      storage: nil,
      requiresGrad: false, isParameter: false, layout: nil, rebuild: "_rebuild_tensor_v2",
      node: nil)
  }

  /// Each expectation is what `torch.empty(1000).as_strided(size, stride).is_contiguous()`
  /// printed with torch 2.x (CPU).
  @Test(
    "contiguity follows torch's rule",
    arguments: [
      ([2, 3], [3, 1], true), ([2, 3], [1, 2], false), ([0, 3], [7, 7], true),
      ([1, 4], [99, 1], true), ([4, 1], [1, 99], true), ([], [], true), ([5], [2], false),
      ([3, 0, 2], [5, 5, 5], true),
    ] as [([Int64], [Int64], Bool)])
  func contiguity(_ shape: [Int64], _ stride: [Int64], _ expected: Bool) {
    #expect(Self.tensor(shape, stride).isContiguous == expected)
  }

  @Test("sizes whose product overflows neither trap nor claim contiguity")
  func overflow() {
    // torch itself refuses such a tensor (numel overflows); ptview must only not crash.
    let huge = Self.tensor([1 << 62, 4, 2], [8, 2, 1])
    #expect(huge.isContiguous)  // the strides are the row-major ones; only numel overflows
    #expect(!Self.tensor([3, 1 << 62, 4], [1, 4, 1]).isContiguous)
    #expect(huge.numel == Int64.max)
    #expect(huge.nbytes == Int64.max)
    // A zero size makes the product 0 whatever follows (torch loads this one).
    let empty = Self.tensor([0, 1 << 62, 4], [4, 4, 1])
    #expect(empty.isContiguous)
    #expect(empty.numel == 0)
  }
}
