/// What the first bytes of a file say it is (torch-format.md §0). Detection is by content,
/// never by extension.
public enum DetectedFormat: Sendable, Equatable {
  case zip
  case legacy
  case tar
  case safetensors
  case previewRelease
  case numpy
  case json
  case pickle
  case empty
  case unknown

  /// A noun phrase for messages.
  public var name: String {
    switch self {
    case .zip: "zip archive"
    case .legacy: "legacy torch.save stream"
    case .tar: "tar archive (torch <= 0.1.10 format)"
    case .safetensors: "safetensors file"
    case .previewRelease: "PyTorch preview-release archive"
    case .numpy: "NumPy .npy file"
    case .json: "JSON document"
    case .pickle: "pickle"
    case .empty: "empty file"
    case .unknown: "unrecognised data"
    }
  }

  /// The magic number the legacy format pickles first: LONG1 0x1950A86A20F9469CFC6C at protocol 2.
  public static let legacyMagic: [UInt8] = [
    0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E,
  ]
  /// The magic number's value as little-endian two's complement bytes.
  static let legacyMagicValue: [UInt8] = [
    0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19,
  ]

  /// Classifies a file from its first bytes (at least 512 when the file has them) and size.
  public static func detect(prefix: [UInt8], size: Int64) -> DetectedFormat {
    if size == 0 { return .empty }
    if prefix.starts(with: [0x50, 0x4B, 0x03, 0x04])
      || prefix.starts(with: [0x50, 0x4B, 0x05, 0x06])
    {
      return .zip
    }
    if prefix.starts(with: Array("PYTORCH1".utf8)) { return .previewRelease }
    if prefix.starts(with: legacyMagic) { return .legacy }
    if prefix.count >= 262, Array(prefix[257..<262]) == Array("ustar".utf8) { return .tar }
    if prefix.starts(with: [0x93] + Array("NUMPY".utf8)) { return .numpy }
    if prefix.count >= 9, prefix[8] == UInt8(ascii: "{") {
      let n = prefix.u64(0)
      if n > 0, n <= 100_000_000, n <= size - 8 { return .safetensors }
    }
    if let first = prefix.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }),
      first == UInt8(ascii: "{")
    {
      return .json
    }
    // Legacy files written with another pickle protocol pickle the magic number differently;
    // the reader confirms by decoding. Anything starting with an opcode may be a pickle.
    if let first = prefix.first, first == 0x80 || PicklePrefix.plausibleStart(first) {
      return .pickle
    }
    return .unknown
  }
}

/// Opcodes a pickle can reasonably start with (protocol 0/1 pickles have no PROTO).
public enum PicklePrefix {
  /// Whether `byte` can start a pickle.
  public static func plausibleStart(_ byte: UInt8) -> Bool {
    // MARK, EMPTY_DICT/LIST/TUPLE, GLOBAL, INT, LONG, STRING, UNICODE, NONE, FLOAT, BININT...
    // FRAME may come before PROTO (CPython accepts it).
    byte == 0x95 || "(}])cILSVNFJKMXUTGPihrq".utf8.contains(byte)
  }
}
