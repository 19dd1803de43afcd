import PTViewCore
import PTViewFiles
import PTViewRemote
import PTViewZip
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Opens files for the commands and turns failures into the one-line error and exit code 2.
enum Loading {
  /// A decompressor that opens libzip only when a compressed record needs it.
  typealias LazyLibzip = PTViewZip.LazyLibzip

  /// `--no-sign-request`: S3 requests go unsigned (set once, before any command runs).
  nonisolated(unsafe) static var anonymous = false

  /// Opens `path` (a local file, or an `http(s)://` or `s3://` URL) as a byte source, or
  /// exits 2 with the reason. Folders are named: a distributed checkpoint (DCP) is a folder of
  /// `.distcp` files and a `.metadata` pickle.
  static func source(_ path: String) throws -> any ByteSource {
    do { return try open(path) } catch { Diagnostics.fail(path, error) }
  }

  /// Like `source`, but the failure is returned for the caller to report.
  static func open(_ path: String) throws(CheckpointError) -> any ByteSource {
    if RemoteLocation.isRemote(path) {
      let source: any ByteSource
      do { source = try openForScan(path) } catch { throw CheckpointError(.io, error.message) }
      if let remote = source as? RemoteSource, Diagnostics.isTerminal(2) {
        let bar = ProgressBar(enabled: true, label: "reading")
        remote.progress.withLock {
          $0 = { done, total in
            bar.update(done, total)
            if done >= total { bar.finish() }
          }
        }
      }
      return source
    }
    if let kind = FolderKind.of(path) { throw kind }
    do { return try FileSource(path: path) } catch {
      throw CheckpointError(.io, error.message)
    }
  }

  /// Opens `path` as `scan` does: any regular file or URL, folders not named (the scan
  /// expands them itself), errors as the system or the server gave them.
  static func openForScan(_ path: String) throws(SourceError) -> any ByteSource {
    guard RemoteLocation.isRemote(path) else { return try FileSource(path: path) }
    guard let location = try RemoteLocation.parse(path) else { throw SourceError("not a URL") }
    // A safetensors file keeps its header at the start: the first request reads there.
    let head = location.lastName.hasSuffix(".safetensors")
    return try Remote.open(
      location, environment: environment(), anonymous: anonymous, opening: head ? .head : .tail)
  }

  /// A decompressor for compressed records of the archive `source` holds.
  static func decompressor(_ path: String, _ source: any ByteSource) -> LazyLibzip {
    source is FileSource ? LazyLibzip(path: path) : LazyLibzip(source: source, name: path)
  }

  /// Reads the checkpoint at `path`, or exits 2 with a one-line reason.
  static func checkpoint(_ path: String, strict: Bool = true) throws -> (
    Checkpoint, any ByteSource
  ) {
    let source = try source(path)
    var reader = CheckpointReader(decompressor: decompressor(path, source))
    reader.strict = strict
    do {
      return (try reader.read(source), source)
    } catch {
      Diagnostics.fail(path, error)
    }
  }

  /// Reads the checkpoint at `path` for its values: a file as `checkpoint` does, a DCP
  /// folder as the archive dcp_to_torch_save would write (`DistributedLoading.values`).
  static func values(_ path: String) throws -> (Checkpoint, any ByteSource) {
    if DistributedLoading.isDistributed(path) { return try DistributedLoading.values(path) }
    return try checkpoint(path)
  }

  /// The process environment as a dictionary.
  static func environment() -> [String: String] {
    var out: [String: String] = [:]
    var entry = environ
    while let pointer = entry.pointee {
      let text = String(cString: pointer)
      if let equals = text.firstIndex(of: "=") {
        out[String(text[..<equals])] = String(text[text.index(after: equals)...])
      }
      entry += 1
    }
    return out
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
        "this is a torch.distributed checkpoint (DCP) folder: ls, info, tree, stats, cat, diff, doctor and scan read it; `ptview export DIR -o model.pt` converts it to one file for the other verbs"
      )
    }
    if let index = names.first(where: { $0.hasSuffix(".index.json") }) {
      return CheckpointError(
        .unsupportedFormat, "is a folder; its sharded checkpoint index is \(index)")
    }
    return CheckpointError(.io, "is a directory, not a checkpoint file")
  }
}
