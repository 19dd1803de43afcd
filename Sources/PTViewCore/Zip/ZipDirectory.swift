/// Reads a zip archive's central directory (zip64 included) and local headers.
///
/// libzip does not tell where an entry's data starts, which zero-copy storage copies and value
/// previews need, so this small reader does the indexing; libzip stays for decompression.
public struct ZipDirectory: Sendable {
  /// The entries in central-directory order.
  public let entries: [ZipEntry]
  /// Offset of the central directory.
  public let centralDirectoryOffset: Int64
  /// Size of the central directory.
  public let centralDirectorySize: Int64
  /// Whether a zip64 end record was present.
  public let hasZip64End: Bool
  /// The archive comment.
  public let comment: [UInt8]
  /// Where the end-of-central-directory record and its comment end: the file size for every
  /// archive torch (or ptview) wrote; less when bytes follow the archive.
  public let endRecordEnd: Int64

  private let index: [String: Int]

  /// Most bytes a central directory may span (70,000 torch records take about 6 MB).
  public static let maxCentralDirectoryBytes: Int64 = 512 << 20

  /// The first entry of the archive, reading only the end records and that entry: torch
  /// writes `data.pkl` first, so its decoding can start while the rest of a big directory is
  /// still being read.
  public static func firstEntry(of source: any ByteSource) throws(ZipError) -> ZipEntry? {
    try ZipDirectory(source: source, maxEntries: 1).entries.first
  }

  /// Reads the directory of the archive in `source`.
  /// - Throws: `ZipError` naming the offset of the first inconsistency.
  public init(source: any ByteSource) throws(ZipError) {
    try self.init(source: source, maxEntries: nil)
  }

  private init(source: any ByteSource, maxEntries: Int?) throws(ZipError) {
    let size = source.size
    guard size >= 22 else {
      throw ZipError(offset: 0, "file too small to be a zip archive (\(size) bytes)")
    }
    let tailLength = Int(min(size, 22 + 65_535 + 20 + 56))
    let tailStart = size - Int64(tailLength)
    let tail: [UInt8]
    do { tail = try source.readExactly(at: tailStart, count: tailLength) } catch {
      throw ZipError(offset: tailStart, error.message)
    }
    // The last end-of-central-directory signature whose comment reaches exactly to the end wins;
    // otherwise the last one at all.
    var eocd = -1
    var i = tail.count - 22
    var fallback = -1
    while i >= 0 {
      if tail[i] == 0x50, tail[i + 1] == 0x4B, tail[i + 2] == 0x05, tail[i + 3] == 0x06 {
        if fallback < 0 { fallback = i }
        if i + 22 + tail.u16(i + 20) == tail.count {
          eocd = i
          break
        }
      }
      i -= 1
    }
    if eocd < 0 { eocd = fallback }
    guard eocd >= 0 else {
      throw ZipError(offset: size, "no end-of-central-directory record found")
    }
    let eocdOffset = tailStart + Int64(eocd)
    var entryCount = Int64(tail.u16(eocd + 10))
    var cdSize = tail.u32(eocd + 12)
    var cdOffset = tail.u32(eocd + 16)
    let commentLength = tail.u16(eocd + 20)
    comment = Array(tail[min(tail.count, eocd + 22)..<min(tail.count, eocd + 22 + commentLength)])
    endRecordEnd = eocdOffset + 22 + Int64(commentLength)
    var zip64 = false
    let locator = eocd - 20
    if locator >= 0, tail.u32(locator) == 0x0706_4B50 {
      let zip64Offset = tail.u64(locator + 8)
      guard zip64Offset >= 0, zip64Offset <= eocdOffset - 56 else {
        throw ZipError(offset: tailStart + Int64(locator), "zip64 locator points outside the file")
      }
      let record: [UInt8]
      do { record = try source.readExactly(at: zip64Offset, count: 56) } catch {
        throw ZipError(offset: zip64Offset, error.message)
      }
      guard record.u32(0) == 0x0606_4B50 else {
        throw ZipError(offset: zip64Offset, "zip64 end record signature missing")
      }
      zip64 = true
      entryCount = record.u64(32)
      cdSize = record.u64(40)
      cdOffset = record.u64(48)
    }
    guard cdOffset >= 0, cdSize >= 0, cdOffset <= eocdOffset, cdSize <= eocdOffset - cdOffset else {
      throw ZipError(
        offset: eocdOffset,
        "central directory (\(cdSize) bytes at \(cdOffset)) lies outside the file")
    }
    guard cdSize <= Self.maxCentralDirectoryBytes else {
      throw ZipError(offset: eocdOffset, "central directory of \(cdSize) bytes exceeds the limit")
    }
    guard entryCount >= 0, entryCount <= cdSize / 46 + 1 else {
      throw ZipError(
        offset: eocdOffset, "\(entryCount) entries cannot fit in a \(cdSize)-byte central directory"
      )
    }
    let cd: [UInt8]
    // One entry is at most 46 + 3 * 65535 bytes.
    let readLength = maxEntries == nil ? cdSize : min(cdSize, Int64(46 + 3 * 65_535))
    do { cd = try source.readExactly(at: cdOffset, count: Int(readLength)) } catch {
      throw ZipError(offset: cdOffset, error.message)
    }
    var entries: [ZipEntry] = []
    entries.reserveCapacity(maxEntries ?? Int(entryCount))
    var p = 0
    // Trust the directory's own extent over the count: torch's EOCD caps the count at 0xFFFF.
    while p + 46 <= cd.count, cd.u32(p) == 0x0201_4B50, entries.count < (maxEntries ?? Int.max) {
      let nameLength = cd.u16(p + 28)
      let extraLength = cd.u16(p + 30)
      let commentLength = cd.u16(p + 32)
      let end = p + 46 + nameLength + extraLength + commentLength
      guard end <= cd.count else {
        throw ZipError(offset: cdOffset + Int64(p), "central directory entry runs past its end")
      }
      let nameBytes = cd[(p + 46)..<(p + 46 + nameLength)]
      let extra =
        extraLength == 0
        ? [] : Array(cd[(p + 46 + nameLength)..<(p + 46 + nameLength + extraLength)])
      var compressed = cd.u32(p + 20)
      var uncompressed = cd.u32(p + 24)
      var local = cd.u32(p + 42)
      // Zip64 extended information: only the fields whose 32-bit slot is saturated.
      var q = 0
      while q + 4 <= extra.count {
        let id = extra.u16(q)
        let length = extra.u16(q + 2)
        guard q + 4 + length <= extra.count else { break }
        if id == 0x0001 {
          var r = q + 4
          if uncompressed == 0xFFFF_FFFF, r + 8 <= q + 4 + length {
            uncompressed = extra.u64(r)
            r += 8
          }
          if compressed == 0xFFFF_FFFF, r + 8 <= q + 4 + length {
            compressed = extra.u64(r)
            r += 8
          }
          if local == 0xFFFF_FFFF, r + 8 <= q + 4 + length {
            local = extra.u64(r)
            r += 8
          }
        }
        q += 4 + length
      }
      let flags = UInt16(cd.u16(p + 8))
      var rawName: [UInt8]? = nil
      var name = UTF8Text.string(nameBytes) ?? ""
      if name.utf8.count != nameBytes.count {
        rawName = Array(nameBytes)
        name = String(decoding: nameBytes.map { $0 < 0x80 ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
      }
      entries.append(
        ZipEntry(
          name: name, rawName: rawName, flags: flags, method: UInt16(cd.u16(p + 10)),
          crc32: UInt32(cd.u32(p + 16)), compressedSize: compressed, uncompressedSize: uncompressed,
          localHeaderOffset: local, versionMadeBy: UInt16(cd.u16(p + 4)),
          versionNeeded: UInt16(cd.u16(p + 6)), dosTime: UInt16(cd.u16(p + 12)),
          dosDate: UInt16(cd.u16(p + 14)), internalAttributes: UInt16(cd.u16(p + 36)),
          externalAttributes: UInt32(cd.u32(p + 38)), centralExtra: extra,
          comment: commentLength == 0 ? [] : Array(cd[(p + 46 + nameLength + extraLength)..<end]),
          index: entries.count, directoryPosition: p))
      p = end
    }
    guard !entries.isEmpty || entryCount == 0 else {
      throw ZipError(offset: cdOffset, "central directory entry signature missing")
    }
    for entry in entries {
      guard entry.localHeaderOffset >= 0, entry.localHeaderOffset < cdOffset,
        entry.compressedSize >= 0, entry.compressedSize <= cdOffset - entry.localHeaderOffset
      else {
        throw ZipError(
          offset: entry.localHeaderOffset,
          "record \(entry.name) (\(entry.compressedSize) bytes at \(entry.localHeaderOffset)) lies outside the archive data"
        )
      }
    }
    self.entries = entries
    self.centralDirectoryOffset = cdOffset
    self.centralDirectorySize = cdSize
    self.hasZip64End = zip64
    var index: [String: Int] = [:]
    index.reserveCapacity(entries.count)
    for entry in entries where index[entry.name] == nil { index[entry.name] = entry.index }
    self.index = index
  }

  /// The entry with exactly this name (the first, if repeated).
  public func entry(named name: String) -> ZipEntry? {
    index[name].map { entries[$0] }
  }

  /// Reads and checks the local header of `entry`.
  /// - Throws: `ZipError` when the header is missing or its data would run past the archive.
  public static func localHeader(of entry: ZipEntry, in source: any ByteSource) throws(ZipError)
    -> LocalHeader
  {
    let fixed: [UInt8]
    do { fixed = try source.readExactly(at: entry.localHeaderOffset, count: 30) } catch {
      throw ZipError(
        offset: entry.localHeaderOffset, "local header of \(entry.name): \(error.message)")
    }
    guard fixed.u32(0) == 0x0403_4B50 else {
      throw ZipError(
        offset: entry.localHeaderOffset, "local header signature of \(entry.name) missing")
    }
    let nameLength = fixed.u16(26)
    let extraLength = fixed.u16(28)
    let variable: [UInt8]
    do {
      variable = try source.readExactly(
        at: entry.localHeaderOffset + 30, count: nameLength + extraLength)
    } catch {
      throw ZipError(
        offset: entry.localHeaderOffset, "local header of \(entry.name): \(error.message)")
    }
    let dataOffset = entry.localHeaderOffset + 30 + Int64(nameLength + extraLength)
    guard dataOffset <= source.size, entry.compressedSize <= source.size - dataOffset else {
      throw ZipError(
        offset: dataOffset,
        "data of \(entry.name) (\(entry.compressedSize) bytes at \(dataOffset)) runs past the end of the file"
      )
    }
    return LocalHeader(
      offset: entry.localHeaderOffset, dataOffset: dataOffset,
      nameBytes: Array(variable[0..<nameLength]), extra: Array(variable[nameLength...]),
      flags: UInt16(fixed.u16(6)), method: UInt16(fixed.u16(8)))
  }
}

/// A zip structure problem at a byte offset.
public struct ZipError: Error, Equatable, Sendable, CustomStringConvertible {
  /// Where in the file.
  public var offset: Int64
  /// What is wrong.
  public var message: String
  /// Creates an error.
  public init(offset: Int64, _ message: String) {
    self.offset = offset
    self.message = message
  }
  public var description: String { "\(message) (at byte \(offset))" }
}
