import CLibzip
public import PTViewCore
import Synchronization

/// A zip archive opened with libzip: the only code that imports it (with ByteSourceLibzip). Used to inflate deflated
/// records (TorchScript `code/`) and, in tests, to check ptview's own directory reader.
public final class LibzipArchive: RecordDecompressor, @unchecked Sendable {
  /// libzip handles are not thread-safe: every use goes through the lock.
  private struct Handle: @unchecked Sendable { var archive: OpaquePointer? }
  private let handle: Mutex<Handle>
  /// The path or a description of the in-memory buffer, for messages.
  public let name: String
  private let buffer: UnsafeMutableRawPointer?

  /// Opens the archive at `path` read-only.
  /// - Throws: `CheckpointError` with libzip's reason.
  public init(path: String) throws(CheckpointError) {
    try Self.loadLibrary()
    var code: Int32 = 0
    guard let archive = ptv_zip_open(path, ZIP_RDONLY, &code) else {
      throw CheckpointError(
        .malformed, "libzip cannot open the archive: \(Self.message(code: code))")
    }
    handle = Mutex(Handle(archive: archive))
    name = path
    buffer = nil
  }

  /// Opens the archive `source` holds (a remote object), reading through it on demand.
  public init(source: any ByteSource, name: String) throws(CheckpointError) {
    try Self.loadLibrary()
    let zipSource = try LibzipSourceBox.make(source)
    var error = zip_error_t()
    ptv_zip_error_init(&error)
    guard let archive = ptv_zip_open_from_source(zipSource, ZIP_RDONLY, &error) else {
      let text = String(cString: ptv_zip_error_strerror(&error))
      ptv_zip_source_free(zipSource)
      throw CheckpointError(.malformed, "libzip cannot open the archive: \(text)")
    }
    handle = Mutex(Handle(archive: archive))
    self.name = name
    buffer = nil
  }

  /// Opens an archive held in memory (the bytes are copied and owned by this object).
  public init(bytes: [UInt8]) throws(CheckpointError) {
    try Self.loadLibrary()
    let copy = UnsafeMutableRawPointer.allocate(byteCount: max(1, bytes.count), alignment: 16)
    bytes.withUnsafeBytes { copy.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    var error = zip_error_t()
    ptv_zip_error_init(&error)
    guard let source = ptv_zip_source_buffer_create(copy, zip_uint64_t(bytes.count), 0, &error)
    else {
      copy.deallocate()
      throw CheckpointError(
        .malformed, "libzip: \(String(cString: ptv_zip_error_strerror(&error)))")
    }
    guard let archive = ptv_zip_open_from_source(source, ZIP_RDONLY, &error) else {
      let text = String(cString: ptv_zip_error_strerror(&error))
      ptv_zip_source_free(source)
      copy.deallocate()
      throw CheckpointError(.malformed, "libzip cannot open the archive: \(text)")
    }
    handle = Mutex(Handle(archive: archive))
    name = "memory"
    buffer = copy
  }

  deinit {
    handle.withLock { h in
      if let archive = h.archive { ptv_zip_discard(archive) }
      h.archive = nil
    }
    buffer?.deallocate()
  }

  /// Opens libzip, at the first archive of the process (later calls return the first answer):
  /// it is not linked, so runs that inflate nothing never map it (docs/decisions.md).
  /// `PTVIEW_LIBZIP` names another library file to open (tests use a missing one).
  /// - Throws: `CheckpointError` (`.io`) saying which package provides it, with the reason.
  public static func loadLibrary() throws(CheckpointError) {
    var reason = [CChar](repeating: 0, count: 512)
    guard ptv_zip_load(&reason, reason.count) != 0 else { return }
    let text = String(
      decoding: reason.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    throw CheckpointError(
      .io, "reading compressed zip entries needs libzip (Debian: apt-get install libzip4): \(text)")
  }

  private static func message(code: Int32) -> String {
    var error = zip_error_t()
    ptv_zip_error_init_with_code(&error, code)
    defer { ptv_zip_error_fini(&error) }
    return String(cString: ptv_zip_error_strerror(&error))
  }

  /// One entry as libzip sees it.
  public struct Stat: Sendable, Equatable {
    public var name: String
    public var size: Int64
    public var compressedSize: Int64
    public var method: UInt16
    public var crc: UInt32
  }

  /// Every entry, in central-directory order.
  public func entries() -> [Stat] {
    handle.withLock { h -> [Stat] in
      guard let archive = h.archive else { return [] }
      let count = ptv_zip_get_num_entries(archive, 0)
      var out: [Stat] = []
      for i in 0..<max(0, count) {
        var st = zip_stat_t()
        ptv_zip_stat_init(&st)
        guard ptv_zip_stat_index(archive, zip_uint64_t(i), zip_flags_t(ZIP_FL_ENC_RAW), &st) == 0
        else {
          continue
        }
        out.append(
          Stat(
            name: st.name.map { String(cString: $0) } ?? "", size: Int64(st.size),
            compressedSize: Int64(st.comp_size), method: UInt16(st.comp_method), crc: st.crc))
      }
      return out
    }
  }

  /// Reads and decompresses the entry at the same central-directory position as `entry`.
  public func decompress(_ entry: ZipEntry) throws(CheckpointError) -> [UInt8] {
    let result: Result<[UInt8], CheckpointError> = handle.withLock { h in
      guard let archive = h.archive else {
        return .failure(CheckpointError(.io, record: entry.name, "archive closed"))
      }
      guard let file = ptv_zip_fopen_index(archive, zip_uint64_t(entry.index), 0) else {
        let text = String(cString: ptv_zip_strerror(archive))
        return .failure(
          CheckpointError(
            .malformed, record: entry.name, offset: entry.localHeaderOffset,
            "libzip cannot read the record: \(text)"))
      }
      defer { ptv_zip_fclose(file) }
      var out: [UInt8] = []
      out.reserveCapacity(Int(min(entry.uncompressedSize, 1 << 26)))
      var chunk = [UInt8](repeating: 0, count: 1 << 16)
      while true {
        let n = chunk.withUnsafeMutableBytes {
          ptv_zip_fread(file, $0.baseAddress, zip_uint64_t($0.count))
        }
        if n < 0 {
          let text = String(cString: ptv_zip_file_strerror(file))
          return .failure(
            CheckpointError(
              .malformed, record: entry.name, offset: entry.localHeaderOffset,
              "inflating failed: \(text)"))
        }
        if n == 0 { break }
        out.append(contentsOf: chunk[0..<Int(n)])
        if Int64(out.count) > entry.uncompressedSize {
          return .failure(
            CheckpointError(
              .malformed, record: entry.name, offset: entry.localHeaderOffset,
              "record inflates past its declared size"))
        }
      }
      return .success(out)
    }
    return try result.get()
  }
}
