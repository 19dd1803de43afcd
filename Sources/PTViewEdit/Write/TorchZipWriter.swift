public import PTViewCore

/// Lays out a zip archive exactly as torch's writer (PyTorchStreamWriter over miniz) does:
/// every record padded with an `FB` extra field so its data starts at a multiple of the
/// alignment, data descriptors after non-empty records, version-needed 0, zero times,
/// zip64 extras where sizes or offsets need them, and the zip64 end records always
/// (torch-format.md §1.2, §1.4, §5.3).
public struct TorchZipWriter: Sendable {
  /// The contents of one record.
  public enum Payload: Sendable {
    /// New bytes, stored uncompressed (CRC computed here).
    case bytes([UInt8])
    /// Bytes copied from the input as they are (stored or deflated), with the input's CRC.
    case copy(
      offset: Int64, compressedSize: Int64, uncompressedSize: Int64, method: UInt16, crc32: UInt32)
    /// `length` stored bytes at `offset` of the input, converted (`--cast`). Their checksum is
    /// known only once written: the descriptor and the directory get it by `ChecksumPatch`.
    case converted(offset: Int64, length: Int64, conversion: Conversion)
    /// Stored bytes gathered from several runs of the input (offset, length), in order, with
    /// their CRC (a tensor assembled from the chunks of a distributed checkpoint).
    case gathered(runs: [Run], crc32: UInt32)
    /// A record left where it is (in-place appends): only its central directory entry is
    /// written, byte for byte as the old directory had it (`directoryBytes`), pointing at the
    /// old local header. `dataOffset` is where its data starts, or -1 when not looked up.
    case kept(ZipEntry, directoryBytes: [UInt8], dataOffset: Int64)
  }

  /// A byte range of the input.
  public struct Run: Sendable, Equatable {
    public var offset: Int64
    public var length: Int64
    public init(offset: Int64, length: Int64) {
      self.offset = offset
      self.length = length
    }
  }

  /// One written record, for the caller's verification.
  public struct WrittenRecord: Sendable, Equatable {
    /// Full name.
    public var name: String
    /// Offset of its local header.
    public var headerOffset: Int64
    /// Offset of its first data byte.
    public var dataOffset: Int64
    /// Stored bytes.
    public var compressedSize: Int64
    /// Bytes after decompression.
    public var uncompressedSize: Int64
    /// CRC written.
    public var crc32: UInt32
    /// Compression method.
    public var method: UInt16
    /// True when the data was copied from the input.
    public var copied: Bool
    /// True when the bytes were converted on the way (`--cast`): `crc32` is then 0 here and
    /// the real checksum is filled in while writing.
    public var converted: Bool = false
    /// True when the record was left where it was (an in-place append): its header and data
    /// are the input's own bytes.
    public var kept: Bool = false
  }

  /// Data alignment (64 unless the archive's `.storage_alignment` says otherwise).
  public let alignment: Int64
  /// File offset of the plan's first byte: 0 for a new file, the old size for an append.
  /// Alignment, header offsets and the directory's offsets are absolute.
  public let baseOffset: Int64
  /// The plan so far.
  public private(set) var plan = WritePlan()
  /// Records written so far, in order.
  public private(set) var records: [WrittenRecord] = []
  private var centralDirectory: [UInt8] = []
  /// Directory CRC fields still to fill: (position in `centralDirectory`, converted chunk).
  private var pendingDirectoryChecksums: [(position: Int, chunk: Int)] = []

  /// Creates a writer.
  public init(alignment: Int64 = 64, baseOffset: Int64 = 0) {
    self.alignment = max(1, alignment)
    self.baseOffset = baseOffset
  }

  /// Appends bytes that belong to no record (the append marker blocks).
  public mutating func raw(_ bytes: [UInt8]) {
    plan.append(bytes)
  }

  private static func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
  private static func le32(_ v: UInt32) -> [UInt8] {
    [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]
  }
  private static func le64(_ v: Int64) -> [UInt8] {
    let u = UInt64(bitPattern: v)
    return (0..<8).map { UInt8((u >> (8 * UInt64($0))) & 0xFF) }
  }

  /// Appends a record named `name` (the full name, root included).
  public mutating func add(_ name: String, _ payload: Payload) {
    if case .kept(let entry, let bytes, let dataOffset) = payload {
      centralDirectory += bytes
      records.append(
        WrittenRecord(
          name: entry.name, headerOffset: entry.localHeaderOffset, dataOffset: dataOffset,
          compressedSize: entry.compressedSize, uncompressedSize: entry.uncompressedSize,
          crc32: entry.crc32, method: entry.method, copied: true, kept: true))
      return
    }
    let nameBytes = Array(name.utf8)
    let headerOffset = baseOffset + plan.size
    var crc: UInt32
    var compressed: Int64
    var uncompressed: Int64
    var method: UInt16
    switch payload {
    case .bytes(let data):
      crc = CRC32.checksum(data)
      compressed = Int64(data.count)
      uncompressed = compressed
      method = 0
    case .copy(_, let c, let u, let m, let checksum):
      crc = checksum
      compressed = c
      uncompressed = u
      method = m
    case .converted(_, let length, let conversion):
      crc = 0
      compressed = conversion.outputLength(length)
      uncompressed = compressed
      method = 0
    case .gathered(let runs, let checksum):
      crc = checksum
      compressed = runs.reduce(0) { $0 + $1.length }
      uncompressed = compressed
      method = 0
    case .kept: return
    }
    let bigSize = uncompressed >= 0xFFFF_FFFF || compressed >= 0xFFFF_FFFF
    let bigOffset = headerOffset >= 0xFFFF_FFFF
    // Local zip64 extra: sizes (uncompressed, then 0 for compressed) first, then the offset.
    var zip64: [UInt8] = []
    if bigSize || bigOffset {
      var body: [UInt8] = []
      if bigSize { body += Self.le64(uncompressed) + Self.le64(0) }
      if bigOffset { body += Self.le64(headerOffset) }
      zip64 = Self.le16(1) + Self.le16(body.count) + body
    }
    let start = headerOffset + 30 + Int64(nameBytes.count) + Int64(zip64.count) + 4
    let pad = Int((alignment - start % alignment) % alignment)
    let extra = zip64 + Self.le16(0x4246) + Self.le16(pad) + [UInt8](repeating: 0x5A, count: pad)
    let empty = uncompressed == 0 && compressed == 0
    let flags = empty ? 0x0800 : 0x0808
    let versionNeeded = method == 8 ? 20 : 0
    var header: [UInt8] = [0x50, 0x4B, 0x03, 0x04]
    header += Self.le16(versionNeeded) + Self.le16(flags) + Self.le16(Int(method))
    header += Self.le16(0) + Self.le16(0)  // DOS time and date
    header += Self.le32(0) + Self.le32(0) + Self.le32(0)  // CRC and sizes follow in the descriptor
    header += Self.le16(nameBytes.count) + Self.le16(extra.count)
    header += nameBytes + extra
    plan.append(header)
    let dataOffset = baseOffset + plan.size
    var convertedChunk: Int?
    switch payload {
    case .bytes(let data): plan.append(data)
    case .copy(let offset, let c, _, _, _): plan.copy(offset: offset, length: c)
    case .converted(let offset, let length, let conversion):
      convertedChunk = plan.convert(offset: offset, length: length, conversion)
    case .gathered(let runs, _):
      for run in runs { plan.copy(offset: run.offset, length: run.length) }
    case .kept: break
    }
    if !empty {
      if let convertedChunk { plan.patchChecksum(at: plan.size + 4, of: convertedChunk) }
      var descriptor: [UInt8] = [0x50, 0x4B, 0x07, 0x08] + Self.le32(crc)
      if bigSize || bigOffset {
        descriptor += Self.le64(compressed) + Self.le64(uncompressed)
      } else {
        descriptor += Self.le32(UInt32(compressed)) + Self.le32(UInt32(uncompressed))
      }
      plan.append(descriptor)
    }
    // Central directory entry: real CRC and sizes, zip64 block only when needed.
    var cdExtraBody: [UInt8] = []
    if bigSize { cdExtraBody += Self.le64(uncompressed) + Self.le64(compressed) }
    if bigOffset { cdExtraBody += Self.le64(headerOffset) }
    let cdExtra =
      cdExtraBody.isEmpty ? [] : Self.le16(1) + Self.le16(cdExtraBody.count) + cdExtraBody
    if let convertedChunk, !empty {
      pendingDirectoryChecksums.append((centralDirectory.count + 16, convertedChunk))
    }
    var entry: [UInt8] = [0x50, 0x4B, 0x01, 0x02]
    entry += Self.le16(0) + Self.le16(versionNeeded) + Self.le16(flags) + Self.le16(Int(method))
    entry += Self.le16(0) + Self.le16(0) + Self.le32(crc)
    entry += Self.le32(bigSize ? 0xFFFF_FFFF : UInt32(compressed))
    entry += Self.le32(bigSize ? 0xFFFF_FFFF : UInt32(uncompressed))
    entry += Self.le16(nameBytes.count) + Self.le16(cdExtra.count) + Self.le16(0)
    entry += Self.le16(0) + Self.le16(0) + Self.le32(0)
    entry += Self.le32(bigOffset ? 0xFFFF_FFFF : UInt32(headerOffset))
    entry += nameBytes + cdExtra
    centralDirectory += entry
    var copied = false
    if case .copy = payload { copied = true }
    var converted = false
    if case .converted = payload { converted = true }
    records.append(
      WrittenRecord(
        name: name, headerOffset: headerOffset, dataOffset: dataOffset, compressedSize: compressed,
        uncompressedSize: uncompressed, crc32: crc, method: method, copied: copied,
        converted: converted))
  }

  /// Appends the central directory and the zip64 end record, locator and end record.
  public mutating func finish() -> WritePlan {
    let cdOffset = baseOffset + plan.size
    let cdSize = Int64(centralDirectory.count)
    for pending in pendingDirectoryChecksums {
      plan.patchChecksum(at: cdOffset - baseOffset + Int64(pending.position), of: pending.chunk)
    }
    pendingDirectoryChecksums = []
    plan.append(centralDirectory)
    centralDirectory = []
    let count = Int64(records.count)
    let zip64End = baseOffset + plan.size
    var tail: [UInt8] = [0x50, 0x4B, 0x06, 0x06] + Self.le64(44)
    tail += Self.le16(0x031E) + Self.le16(45) + Self.le32(0) + Self.le32(0)
    tail += Self.le64(count) + Self.le64(count) + Self.le64(cdSize) + Self.le64(cdOffset)
    tail += [0x50, 0x4B, 0x06, 0x07] + Self.le32(0) + Self.le64(zip64End) + Self.le32(1)
    tail += [0x50, 0x4B, 0x05, 0x06] + Self.le16(0) + Self.le16(0)
    tail += Self.le16(Int(min(count, 0xFFFF))) + Self.le16(Int(min(count, 0xFFFF)))
    tail += Self.le32(cdSize >= 0xFFFF_FFFF ? 0xFFFF_FFFF : UInt32(cdSize))
    tail += Self.le32(cdOffset >= 0xFFFF_FFFF ? 0xFFFF_FFFF : UInt32(cdOffset))
    tail += Self.le16(0)
    plan.append(tail)
    return plan
  }
}
