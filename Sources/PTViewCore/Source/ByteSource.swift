/// Random access to the bytes of a file, without saying where they come from.
///
/// The core never opens files: the shell hands it a source (a file via `pread`, or memory in
/// tests), so every parser here is pure and testable, and reads only the ranges it needs.
public protocol ByteSource: Sendable {
  /// Total size in bytes.
  var size: Int64 { get }
  /// Reads `count` bytes at `offset`; fewer only at end of file.
  /// - Throws: `SourceError` when the underlying read fails.
  func read(at offset: Int64, count: Int) throws(SourceError) -> [UInt8]
}

/// A failed read from a `ByteSource` (I/O error, vanished file).
public struct SourceError: Error, Equatable, Sendable, CustomStringConvertible {
  /// What the operating system said.
  public var message: String
  /// Creates an error.
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

extension ByteSource {
  /// Reads exactly `count` bytes at `offset`, or fails with what is missing.
  public func readExactly(at offset: Int64, count: Int) throws(SourceError) -> [UInt8] {
    guard offset >= 0, count >= 0, offset <= size, Int64(count) <= size - offset else {
      throw SourceError(
        "needs \(count) bytes at offset \(offset) but the file has \(size) bytes")
    }
    let bytes = try read(at: offset, count: count)
    guard bytes.count == count else {
      throw SourceError("short read: \(bytes.count) of \(count) bytes at offset \(offset)")
    }
    return bytes
  }
}

/// A source over bytes in memory (tests, small embedded archives).
public struct MemorySource: ByteSource {
  /// The bytes.
  public let bytes: [UInt8]
  /// Wraps `bytes`.
  public init(_ bytes: [UInt8]) { self.bytes = bytes }
  public var size: Int64 { Int64(bytes.count) }
  public func read(at offset: Int64, count: Int) throws(SourceError) -> [UInt8] {
    guard offset >= 0, offset <= size else { throw SourceError("offset \(offset) outside file") }
    let start = Int(offset)
    let end = min(bytes.count, start + max(0, count))
    return Array(bytes[start..<end])
  }
}

/// A window of another source (a zip inside a zip, a shard at an offset).
public struct SliceSource: ByteSource {
  /// The enclosing source.
  public let base: any ByteSource
  /// Where the window starts in `base`.
  public let start: Int64
  /// Window length.
  public let size: Int64

  /// Creates a window; the caller checks the bounds.
  public init(_ base: any ByteSource, start: Int64, size: Int64) {
    self.base = base
    self.start = start
    self.size = size
  }

  public func read(at offset: Int64, count: Int) throws(SourceError) -> [UInt8] {
    guard offset >= 0, offset <= size else { throw SourceError("offset \(offset) outside file") }
    let n = Int(min(Int64(count), size - offset))
    return try base.read(at: start + offset, count: n)
  }
}

/// Little-endian integer reads from a byte array, with bounds checked by the caller.
extension Array where Element == UInt8 {
  /// The unsigned little-endian integer of `width` bytes at `index` (0 when out of bounds).
  @inline(__always)
  public func le(_ index: Int, _ width: Int) -> UInt64 {
    guard index >= 0, index + width <= count else { return 0 }
    var value: UInt64 = 0
    for i in 0..<width { value |= UInt64(self[index + i]) << (8 * UInt64(i)) }
    return value
  }

  /// u16 at `index`.
  @inline(__always) public func u16(_ index: Int) -> Int { Int(le(index, 2)) }
  /// u32 at `index`.
  @inline(__always) public func u32(_ index: Int) -> Int64 { Int64(le(index, 4)) }
  /// u64 at `index` (clamped to Int64.max).
  @inline(__always) public func u64(_ index: Int) -> Int64 {
    let v = le(index, 8)
    return v > UInt64(Int64.max) ? Int64.max : Int64(v)
  }
}
