import ArgumentParser
import PTViewCore
import PTViewFiles
import PTViewPipeline

/// Opens torch.distributed.checkpoint (DCP) folders: a `.metadata` pickle and `.distcp` files.
enum DistributedLoading {
  /// Whether `path` is a DCP folder.
  static func isDistributed(_ path: String) -> Bool {
    guard Folder.isDirectory(path, followingLinks: true), let names = Folder.list(path) else {
      return false
    }
    return names.contains(".metadata") && names.contains(where: { $0.hasSuffix(".distcp") })
  }

  /// Reads the folder's `.metadata`, checked against the sizes of its files, or exits 2.
  static func open(_ path: String) throws -> DistributedMetadata {
    var folder = path
    while folder.count > 1 && folder.hasSuffix("/") { folder.removeLast() }
    do { return try read(folder) } catch { Diagnostics.fail(error.path, error.error) }
  }

  /// A failure to read a DCP folder's metadata, with the path it concerns.
  struct Failure: Error {
    var path: String
    var error: CheckpointError
  }

  /// The folder's `.metadata`, checked against the sizes of its `.distcp` files.
  static func read(_ folder: String) throws(Failure) -> DistributedMetadata {
    let names = Folder.list(folder) ?? []
    var sizes: [String: Int64] = [:]
    for name in names where name.hasSuffix(".distcp") {
      if let source = try? FileSource(path: folder + "/" + name) { sizes[name] = source.size }
    }
    let metadataPath = folder + "/.metadata"
    do {
      let source = try FileSource(path: metadataPath)
      guard source.size <= 1 << 30 else {
        throw CheckpointError(.malformed, record: ".metadata", "is \(source.size) bytes")
      }
      let bytes = try source.readExactly(at: 0, count: Int(source.size))
      return try DistributedMetadataReader.read(bytes, fileSizes: sizes)
    } catch let error as CheckpointError {
      throw Failure(path: folder, error: error)
    } catch let error as SourceError {
      throw Failure(path: metadataPath, error: CheckpointError(.io, error.message))
    } catch {
      throw Failure(path: metadataPath, error: CheckpointError(.io, "\(error)"))
    }
  }
}

extension DistributedLoading {
  /// The DCP folder at `path` read in place as the torch.save archive `dcp_to_torch_save`
  /// would write (tensors assembled from their chunks by byte range, keys nested as torch
  /// nests them, tensors inside pickled tuples read as in a single file), for the verbs that
  /// read values; exits 2 when it cannot be read. Pickled values ptview does not re-create
  /// (a set, a user class) stand as None; a note names them.
  static func values(_ path: String) throws -> (Checkpoint, any ByteSource) {
    var folder = path
    while folder.count > 1 && folder.hasSuffix("/") { folder.removeLast() }
    let metadata = try open(folder)
    switch assembled(metadata, folder: folder) {
    case .success(let read):
      if let note = read.note { Diagnostics.stderr("ptview: \(folder): note: \(note)") }
      return (read.checkpoint, read.source)
    case .failure(let failure):
      Diagnostics.stderr("ptview: \(failure.message)")
      throw ExitCode(2)
    }
  }

  /// The DCP folder's tensors as `values` reads them, or why they cannot be (a message for
  /// the explorer, which stays open on the folder's metadata).
  struct Assembled {
    var checkpoint: Checkpoint
    var source: any ByteSource
    /// Names the pickled values that stand as None, when some do.
    var note: String?
  }

  /// A failure to assemble the archive, as one line.
  struct AssemblyFailure: Error {
    var message: String
  }

  /// `metadata`'s folder assembled in place (nothing is read but the `.metadata` and the
  /// pickled values: tensor bytes are read when asked for).
  static func assembled(_ metadata: DistributedMetadata, folder: String)
    -> Result<Assembled, AssemblyFailure>
  {
    let archive: DistributedArchive
    do {
      archive = try ExportPipeline.distributedArchive(
        metadata: metadata, folder: folder, root: "archive", mode: .view)
    } catch {
      return .failure(AssemblyFailure(message: error.message))
    }
    var note: String?
    if !archive.replaced.isEmpty {
      let names = archive.replaced.prefix(5).joined(separator: ", ")
      note =
        "\(archive.replaced.count) pickled value\(archive.replaced.count == 1 ? "" : "s") (\(names)\(archive.replaced.count > 5 ? ", ..." : "")) not rebuilt (only plain values and containers of tensors are); tensors inside them are not read"
    }
    let source = archive.source
    do {
      return .success(
        Assembled(checkpoint: try CheckpointReader().read(source), source: source, note: note))
    } catch {
      return .failure(AssemblyFailure(message: "\(folder): \(error.description)"))
    }
  }
}
