import PTViewCore

/// What to write, as a list of byte runs: literal bytes ptview made, and ranges copied from the
/// input file. The shell executes it with kernel-side copies, so memory stays bounded however
/// big the storages are.
public struct WritePlan: Sendable {
  /// One run of output.
  public enum Chunk: Sendable, Equatable {
    /// Bytes produced by ptview (headers, rewritten pickles, descriptors, directory).
    case bytes([UInt8])
    /// `length` bytes of the input starting at `offset`.
    case copy(offset: Int64, length: Int64)
    /// `length` bytes of the input starting at `offset`, converted element by element
    /// (`--cast`); produces `conversion.outputLength(length)` bytes.
    case convert(offset: Int64, length: Int64, conversion: Conversion)

    /// Output bytes this chunk produces.
    public var length: Int64 {
      switch self {
      case .bytes(let b): Int64(b.count)
      case .copy(_, let length): length
      case .convert(_, let length, let conversion): conversion.outputLength(length)
      }
    }
  }

  /// A checksum that is only known once a converted chunk has been written: the CRC-32 of
  /// chunk `chunk`'s output, stored little-endian at `outputOffset` (a zip data descriptor or
  /// central directory entry that comes later in the file).
  public struct ChecksumPatch: Sendable, Equatable {
    /// Where the four bytes go.
    public var outputOffset: Int64
    /// The converted chunk whose output they sum.
    public var chunk: Int
  }

  /// Checksums to fill in, in output order.
  public var checksumPatches: [ChecksumPatch] = []

  /// The runs, in output order.
  public private(set) var chunks: [Chunk] = []
  /// Total output size.
  public private(set) var size: Int64 = 0
  /// Bytes copied from the input.
  public private(set) var copiedBytes: Int64 = 0

  /// An empty plan.
  public init() {}

  /// Appends literal bytes (merged with a preceding literal run).
  public mutating func append(_ bytes: [UInt8]) {
    guard !bytes.isEmpty else { return }
    if case .bytes(var last)? = chunks.last, last.count < 1 << 16 {
      chunks.removeLast()
      last.append(contentsOf: bytes)
      chunks.append(.bytes(last))
    } else {
      chunks.append(.bytes(bytes))
    }
    size += Int64(bytes.count)
  }

  /// Appends a converted copy of an input range; returns the chunk's index (for checksums).
  @discardableResult
  public mutating func convert(offset: Int64, length: Int64, _ conversion: Conversion) -> Int {
    chunks.append(.convert(offset: offset, length: length, conversion: conversion))
    size += conversion.outputLength(length)
    return chunks.count - 1
  }

  /// Asks for the CRC-32 of chunk `chunk` at output offset `at`.
  public mutating func patchChecksum(at outputOffset: Int64, of chunk: Int) {
    checksumPatches.append(ChecksumPatch(outputOffset: outputOffset, chunk: chunk))
  }

  /// Appends a copy of an input range (merged with an adjacent preceding copy).
  public mutating func copy(offset: Int64, length: Int64) {
    guard length > 0 else { return }
    if case .copy(let o, let l)? = chunks.last, o + l == offset {
      chunks.removeLast()
      chunks.append(.copy(offset: o, length: l + length))
    } else {
      chunks.append(.copy(offset: offset, length: length))
    }
    size += length
    copiedBytes += length
  }
}
