public import PTViewCore

/// A decompressor that opens libzip on the file only when a compressed record needs it
/// (TorchScript code); torch.save's own records are stored, so most reads never open it.
public final class LazyLibzip: RecordDecompressor, @unchecked Sendable {
  /// The archive's path.
  public let path: String
  private var archive: LibzipArchive?

  /// A decompressor for the archive at `path`.
  public init(path: String) { self.path = path }

  public func decompress(_ entry: ZipEntry) throws(CheckpointError) -> [UInt8] {
    if archive == nil { archive = try LibzipArchive(path: path) }
    guard let archive else { throw CheckpointError(.io, "cannot open \(path) with libzip") }
    return try archive.decompress(entry)
  }
}
