/// The one loop every conversion runs: load a source element, transform it, store the result,
/// with both buffers in the file's byte order.
///
/// `map` is `@inline(__always)` and takes the transform as a closure literal at each call site,
/// so after inlining each conversion is a single flat loop over fixed-width integers with no
/// call per element, which the optimiser vectorises. The byte-order decision is made once, out
/// of the loop, by running one of two copies of it.
struct ElementLoop {
  let source: UnsafeRawPointer
  let destination: UnsafeMutableRawPointer
  let count: Int
  /// Whether the buffers' byte order differs from the machine's.
  let swapsBytes: Bool

  init(
    source: UnsafeRawPointer, destination: UnsafeMutableRawPointer, count: Int, bigEndian: Bool
  ) {
    self.source = source
    self.destination = destination
    self.count = count
    self.swapsBytes = bigEndian != ElementLoop.hostIsBigEndian
  }

  /// Folds to a constant: the byte order this code was compiled for.
  static var hostIsBigEndian: Bool { UInt16(1).bigEndian == 1 }

  /// Writes `transform(source[i])` to `destination[i]` for every element. Loads and stores are
  /// unaligned: tensor data in a file, or a slice of it, need not be aligned to its element.
  @inline(__always)
  func map<Source: FixedWidthInteger, Target: FixedWidthInteger>(
    _ transform: (Source) -> Target
  ) {
    let source = self.source
    let destination = self.destination
    let sourceStride = MemoryLayout<Source>.stride
    let targetStride = MemoryLayout<Target>.stride
    if swapsBytes {
      for i in 0..<count {
        let value = source.loadUnaligned(fromByteOffset: i &* sourceStride, as: Source.self)
        let result = transform(value.byteSwapped).byteSwapped
        destination.storeBytes(of: result, toByteOffset: i &* targetStride, as: Target.self)
      }
    } else {
      for i in 0..<count {
        let value = source.loadUnaligned(fromByteOffset: i &* sourceStride, as: Source.self)
        let result = transform(value)
        destination.storeBytes(of: result, toByteOffset: i &* targetStride, as: Target.self)
      }
    }
  }
}
