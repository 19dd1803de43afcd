import CLibzip
public import PTViewCore
import Synchronization

/// A zip archive opened with libzip: the only code that imports it. Used to inflate deflated
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
    var code: Int32 = 0
    guard let archive = zip_open(path, ZIP_RDONLY, &code) else {
      throw CheckpointError(
        .malformed, "libzip cannot open the archive: \(Self.message(code: code))")
    }
    handle = Mutex(Handle(archive: archive))
    name = path
    buffer = nil
  }

  /// Opens the archive `source` holds (a remote object), reading through it on demand.
  public init(source: any ByteSource, name: String) throws(CheckpointError) {
    let zipSource = try LibzipSourceBox.make(source)
    var error = zip_error_t()
    zip_error_init(&error)
    guard let archive = zip_open_from_source(zipSource, ZIP_RDONLY, &error) else {
      let text = String(cString: zip_error_strerror(&error))
      zip_source_free(zipSource)
      throw CheckpointError(.malformed, "libzip cannot open the archive: \(text)")
    }
    handle = Mutex(Handle(archive: archive))
    self.name = name
    buffer = nil
  }

  /// Opens an archive held in memory (the bytes are copied and owned by this object).
  public init(bytes: [UInt8]) throws(CheckpointError) {
    let copy = UnsafeMutableRawPointer.allocate(byteCount: max(1, bytes.count), alignment: 16)
    bytes.withUnsafeBytes { copy.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    var error = zip_error_t()
    zip_error_init(&error)
    guard let source = zip_source_buffer_create(copy, zip_uint64_t(bytes.count), 0, &error) else {
      copy.deallocate()
      throw CheckpointError(.malformed, "libzip: \(String(cString: zip_error_strerror(&error)))")
    }
    guard let archive = zip_open_from_source(source, ZIP_RDONLY, &error) else {
      let text = String(cString: zip_error_strerror(&error))
      zip_source_free(source)
      copy.deallocate()
      throw CheckpointError(.malformed, "libzip cannot open the archive: \(text)")
    }
    handle = Mutex(Handle(archive: archive))
    name = "memory"
    buffer = copy
  }

  deinit {
    handle.withLock { h in
      if let archive = h.archive { zip_discard(archive) }
      h.archive = nil
    }
    buffer?.deallocate()
  }

  private static func message(code: Int32) -> String {
    var error = zip_error_t()
    zip_error_init_with_code(&error, code)
    defer { zip_error_fini(&error) }
    return String(cString: zip_error_strerror(&error))
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
      let count = zip_get_num_entries(archive, 0)
      var out: [Stat] = []
      for i in 0..<max(0, count) {
        var st = zip_stat_t()
        zip_stat_init(&st)
        guard zip_stat_index(archive, zip_uint64_t(i), zip_flags_t(ZIP_FL_ENC_RAW), &st) == 0 else {
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
      guard let file = zip_fopen_index(archive, zip_uint64_t(entry.index), 0) else {
        let text = String(cString: zip_strerror(archive))
        return .failure(
          CheckpointError(
            .malformed, record: entry.name, offset: entry.localHeaderOffset,
            "libzip cannot read the record: \(text)"))
      }
      defer { zip_fclose(file) }
      var out: [UInt8] = []
      out.reserveCapacity(Int(min(entry.uncompressedSize, 1 << 26)))
      var chunk = [UInt8](repeating: 0, count: 1 << 16)
      while true {
        let n = chunk.withUnsafeMutableBytes {
          zip_fread(file, $0.baseAddress, zip_uint64_t($0.count))
        }
        if n < 0 {
          let text = String(cString: zip_file_strerror(file))
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
