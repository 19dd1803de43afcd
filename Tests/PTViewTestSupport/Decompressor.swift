import PTViewCore
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

  /// Assembles the bytes a write plan describes, copying ranges from `input`.
  public static func execute(_ plan: WritePlan, input: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(Int(plan.size))
    for chunk in plan.chunks {
      switch chunk {
      case .bytes(let b): out += b
      case .copy(let offset, let length): out += input[Int(offset)..<Int(offset + length)]
      }
    }
    return out
  }
}
