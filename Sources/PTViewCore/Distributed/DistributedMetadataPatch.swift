import PTViewPickle

/// Changes the byte ranges a DCP `.metadata` records (`_StorageInfo.offset` and `.length`)
/// and nothing else: every other byte of the pickle stays as torch wrote it.
///
/// The pickle is not re-encoded from a graph: re-encoding would rewrite every opcode (memo
/// numbering, protocol, frames) of a file torch reads with a plain `pickle.load`. Instead each
/// integer is located by the opcode that pushed it (the value graph records its offset) and
/// that one instruction is replaced by the encoding Python's pickler would choose for the new
/// value (BININT1, BININT2, BININT or LONG1; INT for a text-protocol pickle). When the new
/// encoding is longer or shorter, the protocol 4 `FRAME` holding it gets its length changed
/// by the same amount. Nothing else in the pickle refers to byte positions, so the result is
/// the same pickle with new numbers.
public enum DistributedMetadataPatch {
  /// One `storage_data` entry: its range and where the two integers are in the pickle.
  public struct Entry: Sendable, Equatable {
    public var fqn: String
    public var storage: DistributedMetadata.Storage
    /// Offsets of the opcodes that push `offset` and `length`.
    public var offsetAt: Int
    public var lengthAt: Int
  }

  /// The `storage_data` entries of `bytes` (a whole `.metadata`), in pickle order.
  public static func entries(_ bytes: [UInt8]) throws(CheckpointError) -> [Entry] {
    var machine = Machine()
    let outcome: Machine.Outcome
    do { outcome = try machine.load(bytes) } catch {
      throw CheckpointError(
        .malformed, record: ".metadata", offset: Int64(error.offset), "\(error)")
    }
    let reader = GraphReader(graph: machine.graph)
    let graph = machine.graph
    let top = try reader.fields(outcome.root, of: "Metadata")
    guard let data = top["storage_data"], graph[data] != .none else { return [] }
    var out: [Entry] = []
    for (key, value) in try reader.pairs(data, "storage_data") {
      let index = try reader.fields(key, of: "MetadataIndex")
      let fqn = try reader.string(try reader.field(index, "fqn", in: key), "MetadataIndex.fqn")
      let info = try reader.fields(value, of: "_StorageInfo")
      let file = try reader.string(
        try reader.field(info, "relative_path", in: value), "relative_path")
      let offsetID = try reader.field(info, "offset", in: value)
      let lengthID = try reader.field(info, "length", in: value)
      let at = try reader.int(offsetID, "_StorageInfo.offset")
      let length = try reader.int(lengthID, "_StorageInfo.length")
      out.append(
        Entry(
          fqn: fqn, storage: .init(file: file, offset: at, length: length),
          offsetAt: graph.offset(of: offsetID), lengthAt: graph.offset(of: lengthID)))
    }
    return out
  }

  /// `bytes` with the integer pushed at each key of `values` (an opcode offset from
  /// `entries`) replaced by its value. Throws when an offset is not an integer opcode of the
  /// pickle's top level (a hostile pickle whose integers come from the memo).
  public static func patch(_ bytes: [UInt8], _ values: [Int: Int64]) throws(CheckpointError)
    -> [UInt8]
  {
    var reader = InstructionReader(bytes: bytes)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count + 16 * values.count)
    // The frame being copied: where its 8-byte length is in `out`, its end in `bytes`, and
    // its new length.
    var frame: (lengthAt: Int, end: Int, length: Int64)?
    var done = 0
    func closeFrame(_ out: inout [UInt8]) {
      guard let f = frame else { return }
      for i in 0..<8 { out[f.lengthAt + i] = UInt8(truncatingIfNeeded: f.length >> (8 * i)) }
      frame = nil
    }
    while !reader.atEnd && done < values.count {
      let instruction: Instruction
      do { instruction = try reader.next() } catch {
        throw CheckpointError(
          .malformed, record: ".metadata", offset: Int64(error.offset), "\(error)")
      }
      let start = instruction.offset
      if let f = frame, start >= f.end { closeFrame(&out) }
      switch instruction.opcode {
      case .frame:
        guard case .int(let length) = instruction.argument, values[start] == nil else { break }
        out.append(contentsOf: bytes[start..<instruction.end])
        frame = (out.count - 8, instruction.end + Int(length), length)
        continue
      default: break
      }
      if let value = values[start] {
        switch instruction.opcode {
        case .int, .long, .binint, .binint1, .binint2, .long1, .long4: break
        default:
          throw CheckpointError(
            .malformed, record: ".metadata", offset: Int64(start),
            "a storage range's integer is not pushed here (\(instruction.opcode)); not patched")
        }
        let encoded = encode(
          value, text: instruction.opcode == .int || instruction.opcode == .long)
        out.append(contentsOf: encoded)
        if frame != nil { frame!.length += Int64(encoded.count - (instruction.end - start)) }
        done += 1
      } else {
        out.append(contentsOf: bytes[start..<instruction.end])
      }
      if instruction.opcode == .stop { break }
    }
    guard done == values.count else {
      throw CheckpointError(
        .malformed, record: ".metadata",
        offset: Int64(values.keys.filter { $0 >= reader.position }.min() ?? reader.position),
        "a storage range's integer is not at an opcode of the pickle; not patched")
    }
    // The rest (the frame's tail, STOP, anything after) as it was.
    out.append(contentsOf: bytes[reader.position...])
    closeFrame(&out)
    return out
  }

  /// The opcode Python's pickler writes for `value` (`save_long`): INT text where the
  /// pickle used text (protocol 0), else the shortest binary form.
  static func encode(_ value: Int64, text: Bool) -> [UInt8] {
    if text { return [Opcode.int.rawValue] + Array("\(value)\n".utf8) }
    if value >= 0 && value <= 0xff { return [Opcode.binint1.rawValue, UInt8(value)] }
    if value >= 0 && value <= 0xffff {
      return [Opcode.binint2.rawValue, UInt8(value & 0xff), UInt8(value >> 8)]
    }
    if value >= Int64(Int32.min) && value <= Int64(Int32.max) {
      let v = UInt32(bitPattern: Int32(value))
      return [Opcode.binint.rawValue] + (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }
    }
    // LONG1: little-endian two's complement, as few bytes as keep the sign.
    var digits: [UInt8] = []
    var v = value
    repeat {
      digits.append(UInt8(truncatingIfNeeded: v))
      v >>= 8
    } while !((v == 0 && digits.last! & 0x80 == 0) || (v == -1 && digits.last! & 0x80 != 0))
    return [Opcode.long1.rawValue, UInt8(digits.count)] + digits
  }
}
