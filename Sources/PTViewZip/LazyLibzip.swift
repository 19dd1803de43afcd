public import PTViewCore

/// A decompressor that opens libzip on the file only when a compressed record needs it
/// (TorchScript code); torch.save's own records are stored, so most reads never open it.
public final class LazyLibzip: RecordDecompressor, @unchecked Sendable {
  /// The archive's path (or URL, for messages).
  public let path: String
  /// Where to read a remote archive from; nil for a local path.
  private let source: (any ByteSource)?
  private var archive: LibzipArchive?

  /// A decompressor for the archive at `path`.
  public init(path: String) {
    self.path = path
    self.source = nil
  }

  /// A decompressor for an archive read through `source` (a remote object named `name`).
  public init(source: any ByteSource, name: String) {
    self.path = name
    self.source = source
  }

  public func decompress(_ entry: ZipEntry) throws(CheckpointError) -> [UInt8] {
    if archive == nil {
      do throws(CheckpointError) {
        try LibzipArchive.loadLibrary()
      } catch {
        // Which record needed it, so the one line says why a listing that works elsewhere
        // fails here.
        throw CheckpointError(error.kind, record: entry.name, error.message)
      }
      if let source {
        archive = try LibzipArchive(source: source, name: path)
      } else {
        archive = try LibzipArchive(path: path)
      }
    }
    guard let archive else { throw CheckpointError(.io, "cannot open \(path) with libzip") }
    return try archive.decompress(entry)
  }
}
