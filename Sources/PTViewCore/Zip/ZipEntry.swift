/// One central-directory entry of a zip archive, with everything needed to copy it faithfully.
public struct ZipEntry: Sendable, Equatable {
  /// The full name as stored (including torch's `<root>/` prefix).
  public var name: String
  /// The raw name bytes, kept only when they are not valid UTF-8 (`name` shows `?` there).
  public var rawName: [UInt8]?
  /// The name bytes as stored.
  public var nameBytes: [UInt8] { rawName ?? Array(name.utf8) }
  /// General-purpose flags (bit 0 encrypted, bit 3 data descriptor, bit 11 UTF-8 names).
  public var flags: UInt16
  /// 0 stored, 8 deflated, anything else unsupported.
  public var method: UInt16
  /// CRC-32 of the uncompressed bytes, from the central directory.
  public var crc32: UInt32
  /// Size of the data as stored.
  public var compressedSize: Int64
  /// Size of the data after decompression.
  public var uncompressedSize: Int64
  /// Offset of the local file header.
  public var localHeaderOffset: Int64
  /// Version made by, version needed, DOS time and date, attributes: kept for faithful copies.
  public var versionMadeBy: UInt16
  public var versionNeeded: UInt16
  public var dosTime: UInt16
  public var dosDate: UInt16
  public var internalAttributes: UInt16
  public var externalAttributes: UInt32
  /// The central directory extra field and comment, raw.
  public var centralExtra: [UInt8]
  public var comment: [UInt8]
  /// Position of this entry in the central directory.
  public var index: Int
  /// Byte offset of this entry within the central directory (its raw bytes start there).
  public var directoryPosition: Int = 0
  /// Bytes of this entry in the central directory.
  public var directoryLength: Int { 46 + nameBytes.count + centralExtra.count + comment.count }

  /// Whether the encryption flag is set (torch ignores it; real encryption makes data unreadable).
  public var isEncrypted: Bool { flags & 1 != 0 }
  /// Whether the data is stored uncompressed.
  public var isStored: Bool { method == 0 }
}

/// The local header of an entry, read on demand (it says where the data really starts).
public struct LocalHeader: Sendable, Equatable {
  /// Offset of the header.
  public var offset: Int64
  /// Offset of the first data byte (header + name + extra).
  public var dataOffset: Int64
  /// Name bytes as written in the local header (torch loads archives where they differ).
  public var nameBytes: [UInt8]
  /// The local extra field (torch's FB padding, zip64 block).
  public var extra: [UInt8]
  /// Local flags and method.
  public var flags: UInt16
  public var method: UInt16
}
