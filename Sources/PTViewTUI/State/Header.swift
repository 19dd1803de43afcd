public import PTViewCore
import PTViewPickle

/// The facts the header line shows, computed once when the file is opened.
public struct HeaderFacts: Hashable, Sendable {
  /// The file's name (no folder).
  public var fileName: String
  /// `zip v3`, `legacy`, `torchscript`, `safetensors`.
  public var format: String
  /// Size of the file.
  public var fileSize: Int64
  /// Distinct tensors.
  public var tensors: Int
  /// Elements of the distinct tensors.
  public var parameters: Int64
  /// Distinct tensors per device, most bytes first.
  public var devices: [DeviceCount]

  /// One device's tensor count.
  public struct DeviceCount: Hashable, Sendable {
    /// The device.
    public var device: String
    /// Its tensors.
    public var tensors: Int
  }

  /// The facts of `checkpoint` opened from `path`, whose tree is `tree`. Counted like
  /// `ptview info` (a tensor reachable under two keys counts once), in one pass.
  public init(checkpoint: Checkpoint, tree: Tree, path: String) {
    fileName = path.split(separator: "/").last.map(String.init) ?? path
    switch checkpoint.format {
    case .zip:
      if let v = checkpoint.version, !v.isEmpty, v.count <= 4 {
        format = "zip v" + v
      } else {
        format = "zip"
      }
    default:
      format = checkpoint.format.rawValue
    }
    fileSize = checkpoint.fileSize
    (tensors, parameters, devices) = Self.census(tree)
  }

  /// The facts of a folder: its name, what it is (`2 shards`), the bytes of all its files,
  /// and the tensors of all its shards.
  public init(folder: FolderShards, tree: Tree) {
    fileName = folder.name
    format = folder.format
    fileSize = folder.totalBytes
    (tensors, parameters, devices) = Self.census(tree)
    // DCP rows have no device.
    devices.removeAll { $0.device.isEmpty }
  }

  /// Distinct tensors, their elements, and tensors per device, most bytes first.
  static func census(_ tree: Tree) -> (Int, Int64, [DeviceCount]) {
    // Device codes come from the tree, so each tensor costs an array index, not a hash.
    var seen: Set<Int32> = []
    seen.reserveCapacity(tree.entries.count)
    var count = 0
    var elements: Int64 = 0
    var perDevice = Array(repeating: (tensors: 0, bytes: Int64(0)), count: tree.devices.count)
    for e in tree.entries.indices {
      if let node = tree.entries[e].tensor.node, !seen.insert(node.index).inserted { continue }
      let id = tree.entryNode[e]
      guard id > 0 else { continue }
      count += 1
      elements = TreeBuilder.add(elements, tree[id].elements)
      let code = Int(tree[id].device)
      guard code >= 0 && code < perDevice.count else { continue }
      perDevice[code].tensors += 1
      perDevice[code].bytes = TreeBuilder.add(perDevice[code].bytes, tree[id].bytes)
    }
    let order = tree.devices.indices.filter { perDevice[$0].tensors > 0 }
    let devices = order.sorted { a, b in
      perDevice[a].bytes != perDevice[b].bytes
        ? perDevice[a].bytes > perDevice[b].bytes : tree.devices[a] < tree.devices[b]
    }.map { DeviceCount(device: tree.devices[$0], tensors: perDevice[$0].tensors) }
    return (count, elements, devices)
  }
}
