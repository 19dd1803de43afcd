/// The 64-byte block ptview writes when it edits a zip checkpoint in place by appending: once
/// at the old end of the file (the head), before the new records, and once just before the new
/// central directory (the trailer). Both say how long the file was before the append and carry
/// a CRC-32 of its last 64 KiB, so an append can be undone exactly, and recognised from the
/// end of the file with one small read.
///
/// Layout (little-endian): magic `ptview append` + 3 NULs (16), version u32, block length u32,
/// old size u64, checked tail length u64, tail CRC-32 u32, role u32 (0 head, 1 trailer),
/// 12 reserved zero bytes, CRC-32 of the 60 bytes before it u32.
public struct AppendMarker: Sendable, Equatable {
  /// Where the block sits.
  public enum Role: UInt32, Sendable {
    case head = 0
    case trailer = 1
  }

  /// Bytes in a block.
  public static let size = 64
  /// The first 16 bytes.
  public static let magic: [UInt8] = Array("ptview append".utf8) + [0, 0, 0]
  /// Format version.
  public static let version: UInt32 = 1
  /// How much of the old file's end the tail checksum covers.
  public static let tailWindow: Int64 = 64 << 10

  /// The file's size before the append (the head block starts there).
  public var oldSize: Int64
  /// Bytes before `oldSize` that `tailCRC` sums.
  public var tailLength: Int64
  /// CRC-32 of the old file's last `tailLength` bytes.
  public var tailCRC: UInt32
  /// Head or trailer.
  public var role: Role

  /// Creates a block.
  public init(oldSize: Int64, tailLength: Int64, tailCRC: UInt32, role: Role) {
    self.oldSize = oldSize
    self.tailLength = tailLength
    self.tailCRC = tailCRC
    self.role = role
  }

  /// The block for an append to the first `oldSize` bytes of `source`.
  public static func forAppend(to source: any ByteSource, oldSize: Int64, role: Role)
    throws(SourceError) -> AppendMarker
  {
    let length = min(oldSize, tailWindow)
    let tail = try source.readExactly(at: oldSize - length, count: Int(length))
    return AppendMarker(
      oldSize: oldSize, tailLength: length, tailCRC: CRC32.checksum(tail), role: role)
  }

  /// The 64 bytes.
  public var bytes: [UInt8] {
    var out = Self.magic
    func put(_ value: UInt64, _ width: Int) {
      for i in 0..<width { out.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
    }
    put(UInt64(Self.version), 4)
    put(UInt64(Self.size), 4)
    put(UInt64(bitPattern: oldSize), 8)
    put(UInt64(bitPattern: tailLength), 8)
    put(UInt64(tailCRC), 4)
    put(UInt64(role.rawValue), 4)
    out += [UInt8](repeating: 0, count: 12)
    put(UInt64(CRC32.checksum(out)), 4)
    return out
  }

  /// Parses a block; nil unless magic, version, length, role and its own checksum agree.
  public static func parse(_ bytes: [UInt8]) -> AppendMarker? {
    guard bytes.count == size, Array(bytes[0..<16]) == magic,
      bytes.u32(16) == Int64(version), bytes.u32(20) == Int64(size),
      UInt32(bytes.u32(60)) == CRC32.checksum(bytes[0..<60]),
      let role = Role(rawValue: UInt32(bytes.u32(44)))
    else { return nil }
    let oldSize = Int64(bitPattern: bytes.le(24, 8))
    let tailLength = Int64(bitPattern: bytes.le(32, 8))
    guard oldSize >= 22, tailLength == min(oldSize, tailWindow) else { return nil }
    return AppendMarker(
      oldSize: oldSize, tailLength: tailLength, tailCRC: UInt32(bytes.u32(40)), role: role)
  }

  /// Whether the old file's tail in `source` still sums to `tailCRC`.
  public func agrees(with source: any ByteSource) -> Bool {
    guard oldSize <= source.size,
      let tail = try? source.readExactly(at: oldSize - tailLength, count: Int(tailLength))
    else { return false }
    return CRC32.checksum(tail) == tailCRC
  }
}

/// Zip archives ptview edited in place: each edit appended new records and a new central
/// directory after the old end of the file, between a head and a trailer `AppendMarker`.
/// This finds those appends, checks them, and finds the old end when an append was torn
/// (power loss inside what was being appended). Pure: reads through `ByteSource` only.
public enum AppendedArchive {
  /// One append found at the end of an intact archive.
  public struct Append: Sendable, Equatable {
    /// The file size before it (where its head block starts).
    public var oldSize: Int64
    /// Where its trailer block starts (just before the new central directory).
    public var trailerOffset: Int64
  }

  /// An intact archive's shape.
  public struct Intact: Sendable {
    /// Its directory.
    public var directory: ZipDirectory
    /// The last append, if ptview appended to it.
    public var lastAppend: Append?
    /// Records of the last append whose checksums were verified.
    public var checkedRecords: Int
  }

  /// What `repair` would find.
  public enum Diagnosis: Sendable {
    /// The file is intact: nothing to do.
    case intact(Intact)
    /// A torn append: truncating to `oldEnd` gives back the file as it was before it.
    case torn(oldEnd: Int64, reason: String)
    /// Neither: the reason, in one line.
    case unrecoverable(String)
  }

  /// A superseded record: listed by an older directory, no longer by the last one.
  public struct Superseded: Sendable, Equatable {
    /// Its full name.
    public var name: String
    /// Offset of its local header.
    public var offset: Int64
    /// Its stored bytes.
    public var size: Int64
  }

  /// Every append of an intact archive, oldest first, and what they left behind.
  public struct History: Sendable {
    /// The appends, oldest first.
    public var appends: [Append]
    /// Records older directories list and the last one does not, by offset.
    public var superseded: [Superseded]
    /// Bytes the last directory does not use: superseded records, old directories and end
    /// records, and the marker blocks (what `--compact` would give back, roughly).
    public var unusedBytes: Int64
    /// The file size before the first append.
    public var originalSize: Int64
  }

  /// The append that ends the archive whose directory is `directory`: nil when the bytes before
  /// its central directory are no trailer. Throws (with the reason) when there is a trailer
  /// whose head block is missing or disagrees.
  public static func lastAppend(_ directory: ZipDirectory, in source: any ByteSource)
    throws(ZipError) -> Append?
  {
    let at = directory.centralDirectoryOffset - Int64(AppendMarker.size)
    guard at >= 22, let bytes = try? source.readExactly(at: at, count: AppendMarker.size),
      bytes.starts(with: AppendMarker.magic)
    else { return nil }
    guard let trailer = AppendMarker.parse(bytes), trailer.role == .trailer else {
      throw ZipError(
        offset: at, "the ptview append trailer before the central directory is damaged")
    }
    let head = trailer.oldSize
    guard head + Int64(AppendMarker.size) <= at,
      let headBytes = try? source.readExactly(at: head, count: AppendMarker.size),
      var marker = AppendMarker.parse(headBytes), marker.role == .head
    else {
      throw ZipError(
        offset: head, "the ptview append head at byte \(head) is missing or damaged")
    }
    marker.role = .trailer
    guard marker == trailer, trailer.agrees(with: source) else {
      throw ZipError(
        offset: head, "the ptview append blocks at bytes \(head) and \(at) do not agree")
    }
    return Append(oldSize: head, trailerOffset: at)
  }

  /// Whether the first `size` bytes of `source` are an intact archive: its last directory
  /// parses and ends the file, and every record appended after the last head block is stored
  /// with a local header that names it and data that sums to its checksum.
  public static func intact(_ source: any ByteSource, size: Int64? = nil) -> Result<
    Intact, ZipError
  > {
    let view: any ByteSource =
      size.map { SliceSource(source, start: 0, size: min($0, source.size)) } ?? source
    do throws(ZipError) {
      guard let head = try? view.readExactly(at: 0, count: 4), head == [0x50, 0x4B, 0x03, 0x04]
      else { throw ZipError(offset: 0, "no zip local header at the start") }
      let directory = try ZipDirectory(source: view)
      guard directory.endRecordEnd == view.size else {
        throw ZipError(
          offset: directory.endRecordEnd,
          "\(view.size - directory.endRecordEnd) bytes follow the last end-of-directory record")
      }
      guard let append = try lastAppend(directory, in: view) else {
        return .success(Intact(directory: directory, lastAppend: nil, checkedRecords: 0))
      }
      var checked = 0
      let start = append.oldSize + Int64(AppendMarker.size)
      for entry in directory.entries where entry.localHeaderOffset >= start {
        let header = try ZipDirectory.localHeader(of: entry, in: view)
        guard header.nameBytes == entry.nameBytes else {
          throw ZipError(offset: entry.localHeaderOffset, "local name of \(entry.name) differs")
        }
        guard entry.isStored, entry.compressedSize == entry.uncompressedSize,
          entry.compressedSize <= 1 << 31,
          header.dataOffset + entry.compressedSize <= append.trailerOffset
        else {
          throw ZipError(
            offset: entry.localHeaderOffset,
            "appended record \(entry.name) is not as ptview writes it")
        }
        let data: [UInt8]
        do {
          data = try view.readExactly(at: header.dataOffset, count: Int(entry.compressedSize))
        } catch { throw ZipError(offset: header.dataOffset, error.message) }
        guard CRC32.checksum(data) == entry.crc32 else {
          throw ZipError(
            offset: header.dataOffset, "appended record \(entry.name) fails its CRC-32 check")
        }
        checked += 1
      }
      return .success(Intact(directory: directory, lastAppend: append, checkedRecords: checked))
    } catch {
      return .failure(error)
    }
  }

  /// Whether the bytes from `cut` on look like the start of an append to the first `cut`
  /// bytes: the head block ptview would write there, any part of it, with zeros allowed
  /// wherever a page was lost. Nothing follows at all is no append.
  static func appendStarts(at cut: Int64, in source: any ByteSource) -> Bool {
    guard cut < source.size,
      let expected = try? AppendMarker.forAppend(to: source, oldSize: cut, role: .head).bytes
    else { return false }
    let count = Int(min(Int64(AppendMarker.size), source.size - cut))
    guard let actual = try? source.readExactly(at: cut, count: count) else { return false }
    for i in 0..<count where actual[i] != expected[i] && actual[i] != 0 { return false }
    // Zeros alone are no evidence (a file padded with zeros is no append): some byte of the
    // head block must be there, or its trailer, naming this old end, further on.
    if actual.contains(where: { $0 != 0 }) { return true }
    return trailer(naming: cut, in: source)
  }

  /// Whether a trailer block naming `oldSize` lies after it (a torn append whose head block
  /// was lost). Reads at most the last 64 MiB.
  static func trailer(naming oldSize: Int64, in source: any ByteSource) -> Bool {
    let start = max(oldSize, source.size - (64 << 20))
    guard let tail = try? source.readExactly(at: start, count: Int(source.size - start)) else {
      return false
    }
    let magic = AppendMarker.magic
    var i = 0
    while i + AppendMarker.size <= tail.count {
      if tail[i] == magic[0], tail[i..<(i + 16)].elementsEqual(magic),
        let block = AppendMarker.parse(Array(tail[i..<(i + AppendMarker.size)])),
        block.role == .trailer, block.oldSize == oldSize
      {
        return true
      }
      i += 1
    }
    return false
  }

  /// Diagnoses `source`: intact, a torn append with its old end, or neither.
  /// - Parameter scanLimit: how many bytes back from the end to look for the old end.
  public static func diagnose(_ source: any ByteSource, scanLimit: Int64 = .max) -> Diagnosis {
    let whole: ZipError
    switch intact(source) {
    case .success(let shape): return .intact(shape)
    case .failure(let error): whole = error
    }
    guard let head = try? source.readExactly(at: 0, count: 4), head == [0x50, 0x4B, 0x03, 0x04]
    else { return .unrecoverable("not a zip archive (no local header at the start)") }
    // The old end is right after an end-of-directory record: look backwards for one whose
    // archive, cut just after it, is intact and is followed by the head block an append to
    // it starts with.
    var end = source.size
    let floor = max(0, source.size - scanLimit)
    let step: Int64 = 1 << 20
    var rejected: String?
    while end > floor {
      let start = max(floor, end - step)
      guard
        let chunk = try? source.readExactly(
          at: start, count: Int(min(end + 3, source.size) - start))
      else { break }
      var i = Int(end - start) - 1
      while i >= 0 {
        if i + 3 < chunk.count, chunk[i] == 0x50, chunk[i + 1] == 0x4B, chunk[i + 2] == 0x05,
          chunk[i + 3] == 0x06
        {
          let at = start + Int64(i)
          if at + 22 <= source.size,
            let record = try? source.readExactly(at: at, count: 22)
          {
            let cut = at + 22 + Int64(record.u16(20))
            if cut < source.size, case .success = intact(source, size: cut) {
              if appendStarts(at: cut, in: source) {
                return .torn(
                  oldEnd: cut,
                  reason:
                    "\(source.size - cut) bytes after byte \(cut) are an unfinished append (\(whole.message))"
                )
              }
              rejected =
                rejected
                ?? "the archive ending at byte \(cut) is followed by bytes that are not the start of a ptview append"
            }
          }
        }
        i -= 1
      }
      end = start
    }
    return .unrecoverable(
      "the archive is damaged (\(whole.message)) and "
        + (rejected ?? "no earlier archive end followed by a ptview append was found"))
  }

  /// The torn-append diagnosis for readers: a one-line error naming `ptview repair`, or nil
  /// when the file is no torn append.
  public static func tornTailError(_ source: any ByteSource, scanLimit: Int64 = 256 << 20)
    -> CheckpointError?
  {
    guard case .torn(let oldEnd, _) = diagnose(source, scanLimit: scanLimit) else { return nil }
    return CheckpointError(
      .malformed, offset: oldEnd,
      "torn append: an in-place edit did not finish (\(source.size - oldEnd) bytes after byte \(oldEnd)); `ptview repair` restores the file as it was before that edit"
    )
  }

  /// The torn-append check for readers that do not go through `CheckpointReader` (the doctor
  /// and the scanner): a few small reads at the end for a zip that ends with its end record
  /// and no ptview trailer; the full diagnosis otherwise.
  public static func tornTailQuick(_ source: any ByteSource) -> CheckpointError? {
    guard source.size >= 98, let head = try? source.readExactly(at: 0, count: 4),
      head == [0x50, 0x4B, 0x03, 0x04],
      let end = try? source.readExactly(at: source.size - 98, count: 98)
    else { return nil }
    let e = 76
    guard end.u32(e) == 0x0605_4B50, end.u16(e + 20) == 0 else {
      return tornTailError(source)
    }
    var cdOffset = end.u32(e + 16)
    if end.u32(e - 20) == 0x0706_4B50 {
      let zip64 = end.u64(e - 12)
      guard zip64 >= 0, zip64 + 56 <= source.size,
        let record = try? source.readExactly(at: zip64, count: 56), record.u32(0) == 0x0606_4B50
      else { return tornTailError(source) }
      cdOffset = record.u64(48)
    }
    let at = cdOffset - Int64(AppendMarker.size)
    guard at >= 0, at + Int64(AppendMarker.size) <= source.size,
      let bytes = try? source.readExactly(at: at, count: AppendMarker.size),
      bytes.starts(with: AppendMarker.magic)
    else { return nil }
    if case .failure = intact(source) { return tornTailError(source) }
    return nil
  }

  /// Every append of the intact archive `directory` reads, oldest first, and what the last
  /// directory no longer lists.
  public static func history(_ directory: ZipDirectory, in source: any ByteSource)
    throws(ZipError) -> History
  {
    var appends: [Append] = []
    var current = directory
    var view: any ByteSource = source
    var unused: Int64 = 0
    var older: [ZipEntry] = []
    while let append = try lastAppend(current, in: view) {
      appends.insert(append, at: 0)
      view = SliceSource(source, start: 0, size: append.oldSize)
      let previous = try ZipDirectory(source: view)
      // The old directory and end records, and both marker blocks.
      unused += append.oldSize - previous.centralDirectoryOffset + 2 * Int64(AppendMarker.size)
      older += previous.entries
      current = previous
    }
    let listed = Set(directory.entries.map(\.localHeaderOffset))
    var seen: Set<Int64> = []
    var superseded: [Superseded] = []
    for entry in older where !listed.contains(entry.localHeaderOffset) {
      guard seen.insert(entry.localHeaderOffset).inserted else { continue }
      var extent = entry.compressedSize
      if let header = try? ZipDirectory.localHeader(of: entry, in: source) {
        extent += header.dataOffset - header.offset
        if entry.flags & 8 != 0 && entry.compressedSize > 0 {
          extent +=
            entry.compressedSize >= 0xFFFF_FFFF || entry.localHeaderOffset >= 0xFFFF_FFFF
            ? 24 : 16
        }
      }
      unused += extent
      superseded.append(
        Superseded(name: entry.name, offset: entry.localHeaderOffset, size: entry.compressedSize))
    }
    superseded.sort { $0.offset < $1.offset }
    return History(
      appends: appends, superseded: superseded, unusedBytes: unused,
      originalSize: appends.first?.oldSize ?? source.size)
  }
}
