import PTViewCore
import PTViewFiles
import PTViewZip

/// Opens files for the commands and turns failures into the one-line error and exit code 2.
enum Loading {
  /// A decompressor that opens libzip only when a compressed record needs it.
  typealias LazyLibzip = PTViewZip.LazyLibzip

  /// Opens `path` as a byte source, or exits 2 with the reason. Folders are named: a
  /// distributed checkpoint (DCP) is a folder of `.distcp` files and a `.metadata` pickle.
  static func source(_ path: String) throws -> FileSource {
    if let kind = FolderKind.of(path) { Diagnostics.fail(path, kind) }
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

/// What a folder given as a checkpoint is.
enum FolderKind {
  /// An error naming the folder's kind, or nil when `path` is not a folder.
  static func of(_ path: String) -> CheckpointError? {
    guard let names = Folder.list(path) else { return nil }
    if names.contains(".metadata") && names.contains(where: { $0.hasSuffix(".distcp") }) {
      return CheckpointError(
        .unsupportedFormat,
        "this is a torch.distributed checkpoint (DCP) folder; ptview does not read it yet (torch.distributed.checkpoint.format_utils.dcp_to_torch_save converts it to one file)"
      )
    }
    if let index = names.first(where: { $0.hasSuffix(".index.json") }) {
      return CheckpointError(
        .unsupportedFormat, "is a folder; its sharded checkpoint index is \(index)")
    }
    return CheckpointError(.io, "is a directory, not a checkpoint file")
  }
}
