import PTViewCore
import PTViewFiles
import PTViewZip

/// Opens files for the commands and turns failures into the one-line error and exit code 2.
enum Loading {
  /// A decompressor that opens libzip on the file only when a compressed record needs it.
  final class LazyLibzip: RecordDecompressor, @unchecked Sendable {
    let path: String
    private var archive: LibzipArchive?
    init(path: String) { self.path = path }
    func decompress(_ entry: ZipEntry) throws(CheckpointError) -> [UInt8] {
      if archive == nil { archive = try LibzipArchive(path: path) }
      return try archive!.decompress(entry)
    }
  }

  /// Opens `path` as a byte source, or exits 2 with the reason.
  static func source(_ path: String) throws -> FileSource {
    do { return try FileSource(path: path) } catch {
      Diagnostics.fail(path, CheckpointError(.io, error.message))
    }
  }

  /// Reads the checkpoint at `path`, or exits 2 with a one-line reason.
  static func checkpoint(_ path: String, strict: Bool = true) throws -> (Checkpoint, FileSource) {
    let source = try source(path)
    var reader = CheckpointReader(decompressor: LazyLibzip(path: path))
    reader.strict = strict
    do {
      return (try reader.read(source), source)
    } catch {
      Diagnostics.fail(path, error)
    }
  }
}
