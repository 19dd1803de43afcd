import PTViewCore
import PTViewFiles

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
      Diagnostics.fail(folder, error)
    } catch let error as SourceError {
      Diagnostics.fail(metadataPath, CheckpointError(.io, error.message))
    } catch {
      Diagnostics.fail(metadataPath, CheckpointError(.io, "\(error)"))
    }
  }
}
