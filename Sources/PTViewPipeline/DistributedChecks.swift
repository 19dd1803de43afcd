public import PTViewCore
import PTViewFiles
import PTViewZip

/// What `doctor` and `remap` check in a torch.distributed.checkpoint folder beyond its
/// `.metadata` (which `DistributedMetadataReader` has already checked: files present, byte
/// ranges inside them, chunks tiling every tensor without overlap or gap).
public enum DistributedChecks {
  /// One problem: the file it is in and a one-line message (with the byte offset).
  public struct Problem: Sendable, Equatable {
    public init(file: String, message: String) {
      self.file = file
      self.message = message
    }
    public var file: String
    public var message: String
  }

  /// Opens every chunk and pickled value as DCP's loader would: each storage range must hold
  /// one torch.save archive; a chunk must be one contiguous tensor of the metadata's dtype and
  /// its chunk shape, with all its bytes in the range; a value's archive must parse. Each key
  /// is checked apart, so every broken key is listed, not only the first.
  public static func problems(_ metadata: DistributedMetadata, folder: String) -> [Problem] {
    var out: [Problem] = []
    for item in metadata.items {
      do {
        _ = try ExportPipeline.distributedArchive(
          metadata: DistributedMetadata(items: [item]), folder: folder, root: "archive",
          mode: .view)
      } catch {
        // Messages name `folder/file: ...`; keep the file apart for the report.
        var message = error.message
        var file = item.fqn
        if message.hasPrefix(folder + "/") {
          message.removeFirst(folder.count + 1)
          if let colon = message.firstIndex(of: ":") {
            file = String(message[..<colon])
            message = String(message[colon...].dropFirst(2))
          }
        }
        out.append(Problem(file: file, message: message))
      }
    }
    return out
  }

  /// A pickled value that holds tensors, and the storage locations its pickle records.
  public struct ValueDevices: Sendable, Equatable {
    public var fqn: String
    public var file: String
    /// Byte offset of the value's archive in `file`.
    public var offset: Int64
    /// Locations, sorted (`cpu`, `cuda:0`...).
    public var devices: [String]
  }

  /// The pickled values that hold tensors. DCP saves tensors of the state_dict after moving
  /// them to the CPU and loads them with map_location="cpu": their metadata records no
  /// device. A pickled value is loaded with a plain torch.load (no map_location), so tensors
  /// inside one (a tuple of tensors, an object holding one) come back where they were saved.
  /// Values that cannot be read are left to `problems`.
  public static func valueDevices(_ metadata: DistributedMetadata, folder: String)
    -> [ValueDevices]
  {
    var out: [ValueDevices] = []
    var sources: [String: FileSource] = [:]
    for item in metadata.items {
      guard case .bytes(let storage) = item.kind else { continue }
      if sources[storage.file] == nil {
        sources[storage.file] = try? FileSource(path: folder + "/" + storage.file)
      }
      guard let file = sources[storage.file] else { continue }
      let slice = SliceSource(file, start: storage.offset, size: storage.length)
      let reader = CheckpointReader(decompressor: LazyLibzip(source: slice, name: storage.file))
      guard let saved = try? reader.read(slice), !saved.entries.isEmpty else { continue }
      let devices = Set(saved.entries.map(\.tensor.device)).sorted()
      out.append(
        ValueDevices(fqn: item.fqn, file: storage.file, offset: storage.offset, devices: devices))
    }
    return out
  }
}
