public import PTViewCore
public import PTViewPickle

/// `ptview scan`: finds every pickle a loader could execute in a file (bare pickles, several
/// pickles in a row, torch zip and legacy files, nested zips, numpy `.npy`/`.npz` object
/// arrays, torch's old tar format), decodes them without running anything, and judges them.
/// Containers are recognised by content, never by extension.
public struct SafetyScanner: Sendable {
  /// VM limits for every pickle.
  public var limits: Limits = .default
  /// Largest member or pickle read into memory.
  public var maxMemberBytes: Int64 = 1 << 30
  /// Deepest nesting of archives followed.
  public var maxDepth = 8
  /// Most zip entries examined per archive.
  public var maxEntries = 200_000
  /// Inflates compressed members of the top-level zip (libzip over the file, from the shell).
  public var decompressor: (any RecordDecompressor)?
  /// Makes a decompressor for a zip held in memory (nested archives, concatenated zips).
  public var makeDecompressor:
    (@Sendable ([UInt8]) throws(CheckpointError) -> any RecordDecompressor)?
  /// When false, the danger list is not consulted: verdicts then come from the allowlist and
  /// from what the pickle does alone (the tests check that every dangerous sample stays dangerous).
  public var useDangerList = true

  /// A scanner with default limits and no decompression (compressed members are unscannable).
  public init() {}

  /// Scans the file in `source`.
  public func scan(_ source: any ByteSource, path: String) -> SafetyReport {
    var acc = Accumulator()
    scanSource(source, location: "", depth: 0, inFile: true, decompressor: decompressor, &acc)
    return acc.report(path: path)
  }

  /// Scans bytes that are not a file of their own (a nested loader's argument).
  public func scan(bytes: [UInt8], location: String, depth: Int = 1) -> [SafetyFinding] {
    var acc = Accumulator()
    scanSource(
      MemorySource(bytes), location: location, depth: depth, inFile: false, decompressor: nil, &acc)
    return acc.findings
  }

  // MARK: - Results

  struct Accumulator {
    var findings: [SafetyFinding] = []
    var pickles: [String] = []
    var notes: [String] = []
    /// Content that was understood (a pickle, an array, an archive with such members).
    var recognized = 0
    var formats: [String] = []

    mutating func unscannable(
      _ kind: DangerKind, _ location: String, _ offset: Int64, _ detail: String
    ) {
      findings.append(
        SafetyFinding(
          verdict: .unscannable, kind: kind, location: location.isEmpty ? "file" : location,
          offset: offset,
          offsetIsInFile: true, global: nil, rendering: nil, detail: detail, node: nil))
    }

    func report(path: String) -> SafetyReport {
      var verdict: SafetyVerdict = recognized > 0 ? .safe : .unscannable
      for f in findings { verdict = .worst(verdict, f.verdict) }
      var sorted = findings.sorted { a, b in
        a.verdict.severity != b.verdict.severity ? a.verdict.severity > b.verdict.severity : false
      }
      // Keep the report short: one line per (verdict, kind, global) after the first few.
      var seen: [String: Int] = [:]
      var kept: [SafetyFinding] = []
      var omitted = 0
      for f in sorted {
        let key = "\(f.verdict)|\(f.kind)|\(f.global ?? f.detail)"
        let count = seen[key, default: 0]
        seen[key] = count + 1
        if (f.verdict == .dangerous && count < 8) || count < 1 {
          kept.append(f)
        } else {
          omitted += 1
        }
      }
      sorted = kept
      var notes = self.notes
      if recognized == 0 && findings.isEmpty {
        notes.append("nothing in the file could be checked")
      }
      return SafetyReport(
        path: path, verdict: verdict,
        format: formats.first(where: { $0.contains("torch") || $0.contains("TorchScript") })
          ?? formats.first ?? "unknown", pickles: pickles, findings: sorted,
        notes: notes, omittedFindings: omitted)
    }
  }

  // MARK: - Content detection

  enum Content {
    case empty, zip, legacyTorch, npy, tar, safetensors, pickle(strong: Bool)
    case unsupported(String)
    case unknown
  }

  static func detect(_ head: [UInt8], size: Int64) -> Content {
    if size == 0 || head.isEmpty { return .empty }
    func starts(_ magic: [UInt8]) -> Bool { head.starts(with: magic) }
    if starts([0x50, 0x4B, 0x03, 0x04]) || starts([0x50, 0x4B, 0x05, 0x06])
      || starts([0x50, 0x4B, 0x07, 0x08])
    {
      return .zip
    }
    if starts(DetectedFormat.legacyMagic) { return .legacyTorch }
    if starts([0x93] + Array("NUMPY".utf8)) { return .npy }
    if head.count >= 262, Array(head[257..<262]) == Array("ustar".utf8) { return .tar }
    if starts([0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C]) { return .unsupported("7z archive") }
    if starts([0x1F, 0x8B]) { return .unsupported("gzip-compressed data") }
    if starts(Array("BZh".utf8)) && head.count > 3 && (0x31...0x39).contains(head[3]) {
      return .unsupported("bzip2-compressed data")
    }
    if starts([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { return .unsupported("xz-compressed data") }
    if starts([0x28, 0xB5, 0x2F, 0xFD]) { return .unsupported("zstd-compressed data") }
    if starts([0x04, 0x22, 0x4D, 0x18]) { return .unsupported("lz4-compressed data") }
    if starts(Array("Rar!".utf8)) { return .unsupported("RAR archive") }
    if starts(Array("PYTORCH1".utf8)) { return .unsupported("PyTorch preview-release archive") }
    if head.count >= 2, head[0] == 0x78, [0x01, 0x5E, 0x9C, 0xDA].contains(head[1]) {
      return .unsupported("zlib-compressed data (joblib's compressed pickles)")
    }
    if head.count >= 9, head[8] == UInt8(ascii: "{") {
      let n = head.u64(0)
      if n > 0, n <= 100_000_000, n <= size - 8 { return .safetensors }
    }
    if head[0] == 0x80 { return head.count > 1 && head[1] <= 5 ? .pickle(strong: true) : .unknown }
    if PicklePrefix.plausibleStart(head[0])
      || "(}])cILSVNFJKMXUTGPihrqdlt0123.".utf8.contains(head[0])
    {
      return .pickle(strong: false)
    }
    return .unknown
  }

  func child(_ location: String, _ name: String) -> String {
    location.isEmpty ? name : location + "!" + name
  }

  // MARK: - Sources

  func scanSource(
    _ source: any ByteSource, location: String, depth: Int, inFile: Bool,
    decompressor: (any RecordDecompressor)?, _ acc: inout Accumulator
  ) {
    guard depth <= maxDepth else {
      acc.unscannable(
        .unsupportedFormat, location, 0,
        "archives nested deeper than \(maxDepth) levels are not followed")
      return
    }
    let head: [UInt8]
    do { head = try source.read(at: 0, count: 512) } catch {
      acc.unscannable(.unparsable, location, 0, "cannot read: \(error.message)")
      return
    }
    let content = Self.detect(head, size: source.size)
    switch content {
    case .empty:
      acc.formats.append("empty")
      acc.unscannable(.unparsable, location, 0, "empty: no pickle to check")
    case .zip:
      acc.formats.append("zip archive")
      scanZip(
        source, location: location, depth: depth, inFile: inFile, decompressor: decompressor, &acc)
    case .legacyTorch:
      acc.formats.append("legacy torch.save stream")
      scanPickles(
        source, location: child(location, "legacy stream"), inFile: inFile, maxPickles: 5,
        strong: true, &acc)
    case .npy:
      acc.formats.append("numpy .npy")
      scanNpy(source, location: location.isEmpty ? "npy" : location, inFile: inFile, &acc)
    case .tar:
      acc.formats.append("tar archive")
      scanTar(source, location: location, depth: depth, inFile: inFile, &acc)
    case .safetensors:
      acc.formats.append("safetensors")
      acc.recognized += 1
      acc.notes.append(
        "\(location.isEmpty ? "the file" : location) is safetensors: a JSON header and raw tensor data, no pickle"
      )
    case .pickle(let strong):
      acc.formats.append("pickle")
      scanPickles(
        source, location: location.isEmpty ? "pickle" : location, inFile: inFile, maxPickles: 64,
        strong: strong || location.isEmpty, &acc)
    case .unsupported(let what):
      acc.formats.append(what)
      acc.unscannable(
        .unsupportedFormat, location, 0,
        "\(what): a format ptview does not read, so its contents cannot be checked")
    case .unknown:
      acc.formats.append("unknown")
      acc.unscannable(
        .unparsable, location, 0, "not a pickle, nor an archive or array format ptview reads")
    }
  }

  var pickleScan: PickleScan {
    let me = self
    return PickleScan(
      limits: limits, scanNested: { bytes, location in me.scan(bytes: bytes, location: location) },
      useDangerList: useDangerList)
  }

  /// Pickles from the start of `source`, reading a growing window (the pickles of a legacy file
  /// come before gigabytes of storage data).
  func scanPickles(
    _ source: any ByteSource, start: Int64 = 0, location: String, inFile: Bool, maxPickles: Int,
    strong: Bool,
    _ acc: inout Accumulator
  ) {
    let cap = min(source.size - start, maxMemberBytes)
    var window = min(cap, 1 << 20)
    while true {
      let bytes: [UInt8]
      do { bytes = try source.readExactly(at: start, count: Int(window)) } catch {
        acc.unscannable(.unparsable, location, start, "cannot read: \(error.message)")
        return
      }
      let result = pickleScan.scan(
        bytes, base: start, inFile: inFile, location: location, maxPickles: maxPickles,
        firstIsPickle: strong)
      if result.ranOut && window < cap {
        window = min(cap, window * 8)
        continue
      }
      record(result, location: location, offset: start, &acc)
      if maxPickles == 5 && strong {
        requireLegacyPickles(result, location: location, offset: start, &acc)
      }
      return
    }
  }

  /// A legacy torch.save stream is five pickles; fewer means it was cut off or corrupted.
  func requireLegacyPickles(
    _ result: PickleScan.Result, location: String, offset: Int64, _ acc: inout Accumulator
  ) {
    guard !result.pickles.isEmpty, result.pickles.count < 5,
      !result.findings.contains(where: { $0.verdict == .dangerous })
    else { return }
    acc.unscannable(
      .unparsable, location, offset,
      "the legacy stream holds \(result.pickles.count) complete pickle(s) of 5: the rest cannot be decoded"
    )
  }

  func record(
    _ result: PickleScan.Result, location: String, offset: Int64, _ acc: inout Accumulator
  ) {
    acc.findings += result.findings
    acc.pickles += result.pickles
    acc.notes += result.notes
    if !result.pickles.isEmpty { acc.recognized += 1 }
    if result.pickles.isEmpty, let failure = result.failure,
      !result.findings.contains(where: { $0.verdict == .dangerous })
    {
      acc.unscannable(.unparsable, location, offset, "the pickle cannot be decoded: \(failure)")
    } else if result.pickles.isEmpty && result.failure == nil && result.findings.isEmpty {
      // Content that only looked like a pickle: not counted.
    } else if result.pickles.isEmpty, let failure = result.failure {
      acc.notes.append("\(location): decoding stopped: \(failure)")
    }
  }

  /// Scans in-memory bytes as a member of a container.
  func scanMember(
    _ bytes: [UInt8], base: Int64, inFile: Bool, location: String, nameSuggestsPickle: Bool,
    encrypted: Bool,
    depth: Int, _ acc: inout Accumulator
  ) {
    let content = Self.detect(Array(bytes.prefix(512)), size: Int64(bytes.count))
    switch content {
    case .zip, .tar:
      let nested = MemorySource(bytes)
      let maker = makeDecompressor
      var inner: (any RecordDecompressor)? = nil
      if let maker { inner = LazyMemoryDecompressor(bytes: bytes, make: maker) }
      scanSource(
        nested, location: location, depth: depth + 1, inFile: false, decompressor: inner, &acc)
    case .npy:
      acc.formats.append("numpy .npy")
      scanNpy(MemorySource(bytes), base: base, location: location, inFile: inFile, &acc)
    case .legacyTorch:
      let result = pickleScan.scan(
        bytes, base: base, inFile: inFile, location: location, maxPickles: 5, firstIsPickle: true)
      record(result, location: location, offset: base, &acc)
      requireLegacyPickles(result, location: location, offset: base, &acc)
    case .pickle(let strong):
      let result = pickleScan.scan(
        bytes, base: base, inFile: inFile, location: location, maxPickles: 64,
        firstIsPickle: strong || nameSuggestsPickle)
      if result.pickles.isEmpty && result.failure == nil && encrypted {
        acc.unscannable(
          .encrypted, location, base, "the entry is encrypted: its contents cannot be checked")
        return
      }
      record(result, location: location, offset: base, &acc)
    case .safetensors:
      acc.recognized += 1
    case .empty:
      if encrypted { acc.unscannable(.encrypted, location, base, "the entry is encrypted") }
    case .unsupported(let what):
      acc.unscannable(
        .unsupportedFormat, location, base,
        "\(what) inside the archive: a format ptview does not read")
    case .unknown:
      if encrypted {
        acc.unscannable(
          .encrypted, location, base,
          "the entry is encrypted (flag set and its data is not plain): its contents cannot be checked"
        )
      } else if nameSuggestsPickle {
        acc.unscannable(
          .unparsable, location, base, "named like a pickle but does not start like one")
      }
    }
  }

  // MARK: - Zip

  func scanZip(
    _ source: any ByteSource, location: String, depth: Int, inFile: Bool,
    decompressor: (any RecordDecompressor)?,
    _ acc: inout Accumulator
  ) {
    let directory: ZipDirectory
    do { directory = try ZipDirectory(source: source) } catch {
      // Several zips back to back (torch.distributed.checkpoint's .distcp files).
      let pieces = concatenatedZips(source)
      if pieces.count > 0 {
        acc.notes.append(
          "\(location.isEmpty ? "the file" : location) holds \(pieces.count) zip archives back to back"
        )
        for (i, piece) in pieces.enumerated() {
          let slice = SliceSource(source, start: piece.start, size: piece.size)
          guard let dir = try? ZipDirectory(source: slice) else { continue }
          var inner: (any RecordDecompressor)? = nil
          if let maker = makeDecompressor, piece.size <= maxMemberBytes,
            let bytes = try? slice.readExactly(at: 0, count: Int(piece.size))
          {
            inner = LazyMemoryDecompressor(bytes: bytes, make: maker)
          }
          scanZipEntries(
            slice, directory: dir, base: inFile ? piece.start : 0,
            location: child(location, "zip \(i + 1)"), depth: depth,
            inFile: inFile, decompressor: inner, &acc)
        }
        return
      }
      acc.unscannable(
        .unparsable, location, error.offset, "the zip archive cannot be read: \(error.message)")
      return
    }
    scanZipEntries(
      source, directory: directory, base: 0, location: location, depth: depth, inFile: inFile,
      decompressor: decompressor, &acc)
  }

  /// Relative names of torch zip records that no loader unpickles.
  static func isTorchDataRecord(_ relative: String) -> Bool {
    if [
      "version", ".data/version", "byteorder", ".format_version", ".storage_alignment",
      ".data/serialization_id", "archive_format", "archive_version",
    ].contains(relative) {
      return true
    }
    for folder in ["data/", "constants/", "traced_inputs/", ".data/"]
    where relative.hasPrefix(folder) {
      let rest = relative.dropFirst(folder.count)
      if !rest.isEmpty && rest.allSatisfy({ $0.isNumber }) { return true }
    }
    if relative.hasPrefix("code/") && relative.hasSuffix(".py") { return true }
    return false
  }

  func scanZipEntries(
    _ source: any ByteSource, directory: ZipDirectory, base: Int64, location: String, depth: Int,
    inFile: Bool,
    decompressor: (any RecordDecompressor)?, _ acc: inout Accumulator
  ) {
    let entries = directory.entries
    if entries.count > maxEntries {
      acc.unscannable(
        .unparsable, location, 0,
        "\(entries.count) entries: more than the \(maxEntries) the scan follows")
      return
    }
    var root: String? = nil
    if let first = entries.first, let slash = first.name.firstIndex(of: "/") {
      let r = String(first.name[..<slash])
      if directory.entry(named: r + "/data.pkl") != nil { root = r }
    }
    if let root {
      if directory.entry(named: root + "/constants.pkl") != nil {
        acc.formats.append("TorchScript archive")
        acc.notes.append(
          "TorchScript archive: torch.jit.load runs the TorchScript code in \(root)/code/ (TorchScript, not arbitrary Python)"
        )
      } else {
        acc.formats.append("torch.save zip")
      }
    }
    let before = acc.recognized
    let unscannableBefore = acc.findings.filter { $0.verdict == .unscannable }.count
    for entry in entries {
      if entry.name.hasSuffix("/") && entry.uncompressedSize == 0 { continue }
      let name = child(location, entry.name)
      if let root, entry.name.hasPrefix(root + "/"),
        Self.isTorchDataRecord(String(entry.name.dropFirst(root.count + 1)))
      {
        continue
      }
      let header: LocalHeader
      do { header = try ZipDirectory.localHeader(of: entry, in: source) } catch {
        acc.unscannable(
          .unparsable, name, base + error.offset, "entry \(entry.name): \(error.message)")
        continue
      }
      let localName = String(decoding: header.nameBytes, as: UTF8.self)
      if header.nameBytes != entry.nameBytes {
        acc.notes.append(
          "\(name): the local header names it '\(localName)'; torch and the scan use the central directory's name"
        )
      }
      let lowered = (entry.name + " " + localName).lowercased()
      let suggestsPickle = [
        ".pkl", ".pickle", "data.pkl", ".pt", ".pth", ".bin", ".ckpt", ".joblib", "_pkl",
      ].contains {
        lowered.contains($0)
      }
      let encrypted = entry.isEncrypted || header.flags & 1 != 0
      if entry.method == 99 {
        acc.unscannable(
          .encrypted, name, base + header.offset,
          "the entry is AES-encrypted: its contents cannot be checked")
        continue
      }
      let bytes: [UInt8]
      let memberBase: Int64
      let memberInFile: Bool
      if entry.isStored {
        guard entry.compressedSize <= maxMemberBytes else {
          acc.unscannable(
            .unparsable, name, base + header.dataOffset,
            "entry of \(entry.compressedSize) bytes is larger than the scan reads")
          continue
        }
        // Look at the first bytes before reading a whole member.
        let headBytes =
          (try? source.read(at: header.dataOffset, count: Int(min(entry.compressedSize, 512))))
          ?? []
        let content = Self.detect(headBytes, size: entry.compressedSize)
        if case .unknown = content, !encrypted, !suggestsPickle { continue }
        if case .empty = content, !encrypted { continue }
        do {
          bytes = try source.readExactly(at: header.dataOffset, count: Int(entry.compressedSize))
        } catch {
          acc.unscannable(
            .unparsable, name, base + header.dataOffset, "cannot read the entry: \(error.message)")
          continue
        }
        memberBase = inFile ? base + header.dataOffset : 0
        memberInFile = inFile
      } else {
        if encrypted {
          acc.unscannable(
            .encrypted, name, base + header.offset,
            "the entry is encrypted and compressed: its contents cannot be checked")
          continue
        }
        guard entry.uncompressedSize <= maxMemberBytes else {
          acc.unscannable(
            .unparsable, name, base + header.offset,
            "entry of \(entry.uncompressedSize) bytes is larger than the scan reads")
          continue
        }
        guard let decompressor else {
          acc.unscannable(
            .unsupportedFormat, name, base + header.offset,
            "the entry is compressed (method \(entry.method)) and no decompressor is available")
          continue
        }
        do { bytes = try decompressor.decompress(entry) } catch {
          acc.unscannable(
            .unparsable, name, base + header.offset, "cannot decompress the entry: \(error.message)"
          )
          continue
        }
        memberBase = 0
        memberInFile = false
      }
      scanMember(
        bytes, base: memberBase, inFile: memberInFile, location: name,
        nameSuggestsPickle: suggestsPickle,
        encrypted: encrypted, depth: depth, &acc)
    }
    let unscannableAfter = acc.findings.filter { $0.verdict == .unscannable }.count
    if acc.recognized == before && unscannableAfter == unscannableBefore {
      acc.unscannable(
        .unparsable, location, 0,
        "the archive holds no pickle, array or archive that the scan can check")
    }
  }

  /// Zip archives written back to back: each end record locates its own archive's start.
  func concatenatedZips(_ source: any ByteSource) -> [(start: Int64, size: Int64)] {
    guard source.size <= 4 << 30 else { return [] }
    var found: [(Int64, Int64)] = []
    var offset: Int64 = 0
    let chunk = 8 << 20
    var carry: [UInt8] = []
    var carryStart: Int64 = 0
    while offset < source.size {
      guard let data = try? source.read(at: offset, count: chunk) else { return [] }
      let buffer = carry + data
      let bufferStart = carry.isEmpty ? offset : carryStart
      var i = 0
      while i + 22 <= buffer.count {
        if buffer[i] == 0x50, buffer[i + 1] == 0x4B, buffer[i + 2] == 0x05, buffer[i + 3] == 0x06 {
          let eocd = bufferStart + Int64(i)
          if let piece = zipStart(source, eocd: eocd) { found.append(piece) }
        }
        i += 1
      }
      carry = Array(buffer.suffix(21))
      carryStart = bufferStart + Int64(buffer.count - carry.count)
      offset += Int64(data.count)
      if data.isEmpty { break }
    }
    return found.filter { $0.1 > 0 }
  }

  func zipStart(_ source: any ByteSource, eocd: Int64) -> (Int64, Int64)? {
    guard let record = try? source.readExactly(at: eocd, count: 22) else { return nil }
    let commentLength = Int64(record.u16(20))
    let end = eocd + 22 + commentLength
    var cdSize = record.u32(12)
    var cdOffset = record.u32(16)
    var directoryEnd = eocd
    if eocd >= 76, let locator = try? source.readExactly(at: eocd - 20, count: 20),
      locator.u32(0) == 0x0706_4B50,
      let z = try? source.readExactly(at: eocd - 76, count: 56), z.u32(0) == 0x0606_4B50
    {
      cdSize = z.u64(40)
      cdOffset = z.u64(48)
      directoryEnd = eocd - 76
    }
    // Sizes and offsets come from the file: check them before any arithmetic can overflow.
    guard cdSize >= 0, cdOffset >= 0, cdSize <= directoryEnd, cdOffset <= directoryEnd - cdSize
    else { return nil }
    let start = directoryEnd - cdSize - cdOffset
    guard start >= 0, end <= source.size, start < end else { return nil }
    return (start, end - start)
  }

  // MARK: - numpy

  /// A `.npy` file: a header, then raw data or (object arrays) a pickle.
  func scanNpy(
    _ source: any ByteSource, base: Int64 = 0, location: String, inFile: Bool,
    _ acc: inout Accumulator
  ) {
    guard let fixed = try? source.readExactly(at: 0, count: min(12, Int(source.size))),
      fixed.count >= 10
    else {
      acc.unscannable(.unparsable, location, base, "truncated .npy header")
      return
    }
    let major = fixed[6]
    let headerLength: Int64
    let headerStart: Int64
    switch major {
    case 1:
      headerLength = Int64(fixed.u16(8))
      headerStart = 10
    case 2, 3:
      guard fixed.count >= 12 else {
        acc.unscannable(.unparsable, location, base, "truncated .npy header")
        return
      }
      headerLength = fixed.u32(8)
      headerStart = 12
    default:
      acc.unscannable(.unparsable, location, base, "unknown .npy format version \(major)")
      return
    }
    guard headerStart + headerLength <= source.size, headerLength < 1 << 20,
      let headerBytes = try? source.readExactly(at: headerStart, count: Int(headerLength))
    else {
      acc.unscannable(.unparsable, location, base, ".npy header runs past the end of the data")
      return
    }
    let header = String(decoding: headerBytes, as: UTF8.self)
    guard header.contains("descr") else {
      acc.unscannable(.unparsable, location, base, ".npy header has no 'descr'")
      return
    }
    let dataStart = headerStart + headerLength
    // Object arrays (dtype 'O', also inside structured dtypes) are stored as a pickle.
    if Self.npyHasObjects(header) {
      scanPickles(
        SliceSource(source, start: dataStart, size: source.size - dataStart), start: 0,
        location: location + " (object array)", inFile: false, maxPickles: 1, strong: true, &acc)
      // Report file offsets for stored members: shift findings made relative to the slice.
      if inFile || base != 0 {
        for i in acc.findings.indices
        where acc.findings[i].location.hasPrefix(location + " (object array)")
          && !acc.findings[i].offsetIsInFile
        {
          acc.findings[i].offset += base + dataStart
          acc.findings[i].offsetIsInFile = inFile
        }
      }
    } else {
      acc.recognized += 1
    }
  }

  /// Whether a `.npy` header's dtype holds Python objects.
  public static func npyHasObjects(_ header: String) -> Bool {
    var tokens: [String] = []
    var current: String? = nil
    for ch in header {
      if ch == "'" || ch == "\"" {
        if let c = current { tokens.append(c); current = nil } else { current = "" }
      } else if current != nil {
        current!.append(ch)
      }
    }
    return tokens.contains { t in
      var s = Substring(t)
      if let f = s.first, "<>|=".contains(f) { s = s.dropFirst() }
      return s == "O" || (s.hasPrefix("O") && s.dropFirst().allSatisfy(\.isNumber))
    }
  }

  // MARK: - tar (torch <= 0.1.10)

  func scanTar(
    _ source: any ByteSource, location: String, depth: Int, inFile: Bool, _ acc: inout Accumulator
  ) {
    var offset: Int64 = 0
    var longName: String? = nil
    var members = 0
    let before = acc.recognized
    while offset + 512 <= source.size && members < 100_000 {
      guard let header = try? source.readExactly(at: offset, count: 512) else { break }
      if header.allSatisfy({ $0 == 0 }) { break }
      func field(_ range: Range<Int>) -> String {
        let raw = header[range]
        let end = raw.firstIndex(of: 0) ?? raw.endIndex
        return String(decoding: raw[raw.startIndex..<end], as: UTF8.self)
      }
      let sizeText = field(124..<136).trimmingBlanks()
      guard let size = Int64(sizeText.isEmpty ? "0" : sizeText, radix: 8), size >= 0 else {
        acc.unscannable(.unparsable, location, offset, "tar header with a bad size field")
        return
      }
      let type = header[156]
      var name = field(0..<100)
      let prefix = field(345..<500)
      if !prefix.isEmpty { name = prefix + "/" + name }
      if let longName { name = longName }
      longName = nil
      let dataStart = offset + 512
      guard size <= source.size - dataStart else {
        acc.unscannable(.unparsable, location, offset, "tar member \(name) runs past the end")
        return
      }
      if type == UInt8(ascii: "L") || type == UInt8(ascii: "x") {
        if let data = try? source.readExactly(at: dataStart, count: Int(min(size, 1 << 20))) {
          let text = String(decoding: data, as: UTF8.self)
          if type == UInt8(ascii: "L") {
            longName = String(text.prefix { $0 != "\0" })
          } else {
            for line in text.split(separator: "\n") {
              guard let space = line.firstIndex(of: " ") else { continue }
              let record = line[line.index(after: space)...]
              if record.hasPrefix("path=") { longName = String(record.dropFirst(5)) }
            }
          }
        }
      } else if (type == 0 || type == UInt8(ascii: "0") || type == UInt8(ascii: "7")) && size > 0 {
        members += 1
        let memberName = child(location, name)
        if size > maxMemberBytes {
          acc.unscannable(
            .unparsable, memberName, dataStart,
            "member of \(size) bytes is larger than the scan reads")
        } else if let bytes = try? source.readExactly(at: dataStart, count: Int(size)) {
          let base = inFile ? dataStart : 0
          let leaf = name.split(separator: "/").last.map(String.init) ?? name
          if leaf == "storages" || leaf == "tensors" {
            scanTorchTarRecords(
              bytes, storages: leaf == "storages", base: base, inFile: inFile, location: memberName,
              &acc)
          } else {
            scanMember(
              bytes, base: base, inFile: inFile, location: memberName,
              nameSuggestsPickle: leaf == "pickle" || leaf == "sys_info",
              encrypted: false, depth: depth, &acc)
          }
        }
      }
      offset = dataStart + (size + 511) / 512 * 512
    }
    if acc.recognized == before
      && !acc.findings.contains(where: { $0.location.hasPrefix(location) })
    {
      acc.unscannable(.unparsable, location, 0, "the tar archive holds nothing the scan can check")
    }
  }

  /// torch's tar-era `storages` and `tensors` members: pickles interleaved with raw data.
  func scanTorchTarRecords(
    _ bytes: [UInt8], storages: Bool, base: Int64, inFile: Bool, location: String,
    _ acc: inout Accumulator
  ) {
    let scan = pickleScan
    var position = 0
    var findings: [SafetyFinding] = []
    func one() -> (ValueGraph, ValueID)? {
      var machine = Machine(limits: limits)
      machine.lenient = true
      let result = scan.scanOne(
        bytes, from: position, base: base, inFile: inFile, location: location)
      findings += result.findings
      guard let end = result.end, let outcome = try? machine.load(bytes, from: position) else {
        return nil
      }
      position = end
      return (machine.graph, outcome.root)
    }
    guard let (countGraph, countRoot) = one(), let count = countGraph.int(countRoot), count >= 0
    else {
      acc.findings += findings
      acc.unscannable(.unparsable, location, base, "the record count pickle cannot be decoded")
      return
    }
    var ok = true
    for _ in 0..<min(count, 1_000_000) {
      guard let (graph, root) = one(), let items = graph.sequence(root), items.count == 3 else {
        ok = false; break
      }
      if storages {
        let size =
          graph.globalName(items[2]).flatMap {
            DType.forStorageClass(String($0.split(separator: ".").last ?? ""))?.elementSize
          } ?? 0
        guard size > 0, position + 8 <= bytes.count else { ok = false; break }
        let numel = Int64(bitPattern: bytes.le(position, 8))
        guard numel >= 0, numel <= Int64(bytes.count) else { ok = false; break }
        position += 8 + Int(numel) * size
      } else {
        guard position + 8 <= bytes.count else { ok = false; break }
        let ndim = Int(Int32(truncatingIfNeeded: bytes.le(position, 4)))
        guard ndim >= 0, ndim < 64 else { ok = false; break }
        position += 8 + ndim * 16 + 8
      }
      guard position <= bytes.count else { ok = false; break }
    }
    if ok && storages && position < bytes.count { _ = one() }
    acc.findings += PickleScan.deduplicated(findings)
    acc.pickles.append(location)
    if ok {
      acc.recognized += 1
    } else {
      acc.unscannable(
        .unparsable, location, base + Int64(position),
        "the record layout does not match torch's tar format")
    }
  }
}

/// Opens a zip held in memory with the shell's decompressor only when an entry needs inflating.
final class LazyMemoryDecompressor: RecordDecompressor, @unchecked Sendable {
  let bytes: [UInt8]
  let make: @Sendable ([UInt8]) throws(CheckpointError) -> any RecordDecompressor
  private var made: (any RecordDecompressor)?
  init(
    bytes: [UInt8],
    make: @escaping @Sendable ([UInt8]) throws(CheckpointError) -> any RecordDecompressor
  ) {
    self.bytes = bytes
    self.make = make
  }
  func decompress(_ entry: ZipEntry) throws(CheckpointError) -> [UInt8] {
    if made == nil { made = try make(bytes) }
    return try made!.decompress(entry)
  }
}
