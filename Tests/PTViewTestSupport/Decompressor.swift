import PTViewCore
import PTViewEdit
import PTViewZip

extension Fixtures {
  /// Reads a fixture with libzip available for compressed records (TorchScript code).
  public static func fullCheckpoint(_ relative: String, strict: Bool = true) throws -> Checkpoint {
    let data = try bytes(relative)
    let isZip = data.starts(with: [0x50, 0x4B])
    var reader = CheckpointReader(
      decompressor: isZip ? try LibzipArchive(path: path(relative)) : nil)
    reader.strict = strict
    return try reader.read(MemorySource(data))
  }

  /// Assembles the bytes a write plan describes, copying ranges from `input`, converting
  /// where it asks, and filling in the checksums of converted chunks.
  public static func execute(_ plan: WritePlan, input: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(Int(plan.size))
    var checksums: [Int: UInt32] = [:]
    for (index, chunk) in plan.chunks.enumerated() {
      switch chunk {
      case .bytes(let b): out += b
      case .copy(let offset, let length): out += input[Int(offset)..<Int(offset + length)]
      case .convert(let offset, let length, let conversion):
        let count = Int(length) / conversion.inputElementSize
        var converted = [UInt8](repeating: 0, count: count * conversion.outputElementSize)
        input[Int(offset)..<Int(offset + length)].withUnsafeBytes { src in
          converted.withUnsafeMutableBytes { conversion.apply(src, into: $0, count: count) }
        }
        checksums[index] = CRC32.checksum(converted)
        out += converted
      }
    }
    for patch in plan.checksumPatches {
      let crc = checksums[patch.chunk] ?? 0
      for k in 0..<4 {
        out[Int(patch.outputOffset) + k] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(k)))
      }
    }
    return out
  }
}
