import PTViewCore

/// The bytes of a safetensors header, and where each tensor's data goes after it.
///
/// A safetensors file is an 8-byte little-endian header length, a JSON object (padded with
/// spaces to a multiple of 8 bytes, as the reference writer does, so the data section starts
/// aligned), then every tensor's bytes back to back: row-major, little-endian, no gaps.
public enum SafetensorsLayout {
  /// One tensor of the file.
  public struct Tensor: Sendable, Equatable {
    /// The key.
    public var key: String
    /// The safetensors dtype code (`F32`).
    public var code: String
    /// The shape as the header writes it (for `F4`, counted in 4-bit values).
    public var shape: [Int64]
    /// Bytes of data.
    public var byteCount: Int64

    /// Describes a tensor.
    public init(key: String, code: String, shape: [Int64], byteCount: Int64) {
      self.key = key
      self.code = code
      self.shape = shape
      self.byteCount = byteCount
    }
  }

  /// Bytes per element of a dtype code (1 for the 4-bit `F4`), for ordering.
  public static func alignment(of code: String) -> Int {
    switch code {
    case "F64", "I64", "U64", "C64": 8
    case "F32", "I32", "U32": 4
    case "F16", "BF16", "I16", "U16": 2
    default: 1
    }
  }

  /// Orders tensors as the reference writer does: by element size, largest first, so every
  /// tensor's data starts at a multiple of its element size without padding; keys keep their
  /// given order within a size (the reference writer sorts them by name; readers do not care).
  public static func ordered(_ tensors: [Tensor]) -> [Tensor] {
    tensors.enumerated().sorted { a, b in
      let x = alignment(of: a.element.code)
      let y = alignment(of: b.element.code)
      return x != y ? x > y : a.offset < b.offset
    }.map(\.element)
  }

  /// The header for `tensors` in this order, their data following one after another, with
  /// `metadata` as `__metadata__` (omitted when empty): the length prefix, the JSON, padding.
  public static func header(_ tensors: [Tensor], metadata: [(String, String)]) -> [UInt8] {
    var json = "{"
    var first = true
    if !metadata.isEmpty {
      json += "\"__metadata__\":{"
      json += metadata.map { JSONWriter.quoted($0.0) + ":" + JSONWriter.quoted($0.1) }
        .joined(separator: ",")
      json += "}"
      first = false
    }
    var offset: Int64 = 0
    for tensor in tensors {
      if !first { json += "," }
      first = false
      json += JSONWriter.quoted(tensor.key) + ":{\"dtype\":" + JSONWriter.quoted(tensor.code)
      json += ",\"shape\":[" + tensor.shape.map(String.init).joined(separator: ",") + "]"
      json += ",\"data_offsets\":[\(offset),\(offset + tensor.byteCount)]}"
      offset += tensor.byteCount
    }
    json += "}"
    var text = Array(json.utf8)
    while text.count % 8 != 0 { text.append(0x20) }
    var out: [UInt8] = []
    out.reserveCapacity(8 + text.count)
    let n = UInt64(text.count)
    for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: n >> (8 * UInt64(k)))) }
    return out + text
  }

  /// The header shape for a tensor of torch shape `shape` stored as `code`: torch counts
  /// `float4_e2m1fn_x2` in bytes (two values each), safetensors' `F4` in values.
  public static func headerShape(_ shape: [Int64], code: String) -> [Int64] {
    guard code == "F4" else { return shape }
    if shape.isEmpty { return [2] }
    var out = shape
    out[out.count - 1] *= 2
    return out
  }
}
