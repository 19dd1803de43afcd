import CLibzip
import PTViewCore

/// Lets libzip read an archive through a `ByteSource` (a remote object) instead of a path, so
/// compressed records inflate exactly as they do for a local file: same checks, same messages.
final class LibzipSourceBox {
  let source: any ByteSource
  var position: Int64 = 0
  var error = zip_error_t()

  init(_ source: any ByteSource) {
    self.source = source
    ptv_zip_error_init(&error)
  }

  /// Wraps `source` as a libzip source; libzip owns the box until it sends `ZIP_SOURCE_FREE`.
  static func make(_ source: any ByteSource) throws(CheckpointError) -> OpaquePointer {
    let box = Unmanaged.passRetained(LibzipSourceBox(source)).toOpaque()
    var error = zip_error_t()
    ptv_zip_error_init(&error)
    guard let made = ptv_zip_source_function_create(libzipSourceCallback, box, &error) else {
      Unmanaged<LibzipSourceBox>.fromOpaque(box).release()
      throw CheckpointError(.io, "libzip: \(String(cString: ptv_zip_error_strerror(&error)))")
    }
    return made
  }
}

private let commands: [zip_source_cmd_t] = [
  ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR,
  ZIP_SOURCE_FREE, ZIP_SOURCE_SEEK, ZIP_SOURCE_TELL, ZIP_SOURCE_SUPPORTS,
]

/// libzip's callback: one command at a time, on the thread that called into libzip.
private func libzipSourceCallback(
  _ user: UnsafeMutableRawPointer?, _ data: UnsafeMutableRawPointer?, _ length: zip_uint64_t,
  _ command: zip_source_cmd_t
) -> zip_int64_t {
  guard let user else { return -1 }
  let box = Unmanaged<LibzipSourceBox>.fromOpaque(user).takeUnretainedValue()
  switch command {
  case ZIP_SOURCE_OPEN:
    box.position = 0
    return 0
  case ZIP_SOURCE_CLOSE:
    return 0
  case ZIP_SOURCE_READ:
    guard let data else { return -1 }
    let wanted = Int(min(length, zip_uint64_t(max(0, box.source.size - box.position))))
    if wanted == 0 { return 0 }
    let bytes: [UInt8]
    do { bytes = try box.source.read(at: box.position, count: wanted) } catch {
      ptv_zip_error_set(&box.error, ZIP_ER_READ, 5)  // EIO
      return -1
    }
    bytes.withUnsafeBytes { data.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    box.position += Int64(bytes.count)
    return zip_int64_t(bytes.count)
  case ZIP_SOURCE_STAT:
    guard let data, length >= zip_uint64_t(MemoryLayout<zip_stat_t>.size) else { return -1 }
    let stat = data.assumingMemoryBound(to: zip_stat_t.self)
    ptv_zip_stat_init(stat)
    stat.pointee.size = zip_uint64_t(box.source.size)
    stat.pointee.valid |= zip_uint64_t(ZIP_STAT_SIZE)
    return zip_int64_t(MemoryLayout<zip_stat_t>.size)
  case ZIP_SOURCE_ERROR:
    guard let data else { return -1 }
    return ptv_zip_error_to_data(&box.error, data, length)
  case ZIP_SOURCE_FREE:
    Unmanaged<LibzipSourceBox>.fromOpaque(user).release()
    return 0
  case ZIP_SOURCE_SEEK:
    guard let data else { return -1 }
    let offset = ptv_zip_source_seek_compute_offset(
      zip_uint64_t(box.position), zip_uint64_t(box.source.size), data, length, &box.error)
    if offset < 0 { return -1 }
    box.position = Int64(offset)
    return 0
  case ZIP_SOURCE_TELL:
    return zip_int64_t(box.position)
  case ZIP_SOURCE_SUPPORTS:
    return commands.reduce(zip_int64_t(0)) { $0 | (zip_int64_t(1) << zip_int64_t($1.rawValue)) }
  default:
    ptv_zip_error_set(&box.error, ZIP_ER_OPNOTSUPP, 0)
    return -1
  }
}
