import Dispatch
import PTViewCore
import PTViewFiles
import PTViewRemote
import PTViewZip

/// What a path given to a verb is: one checkpoint file, or a checkpoint folder (a Hugging
/// Face sharded model, a Trainer/accelerate/DeepSpeed folder) read as one checkpoint.
enum Opened {
  case file(Checkpoint, any ByteSource)
  case folder(OpenedFolder)
}

/// A folder as listed: its files and their roles, and the index, none of them read yet.
struct ListedFolder {
  /// The folder's path as given (without a trailing slash).
  var path: String
  var layout: FolderLayout
  var index: ShardIndex?

  /// The path of a member.
  func path(of name: String) -> String { path + "/" + name }
}

/// A folder as read: the merged view and a source for every file read as a checkpoint.
struct OpenedFolder {
  /// The folder's path as given (without a trailing slash); for a remote folder, the URL or
  /// `s3://` location of its index without the index's name.
  var path: String
  var checkpoint: ShardedCheckpoint
  /// Sources by member name.
  var sources: [String: any ByteSource]
  /// True for a remote sharded checkpoint (`RemoteFolderLoading`): its members exist only as
  /// the sources above, never as local paths.
  var isRemote = false

  /// The path of a member.
  func path(of name: String) -> String { path + "/" + name }
}

extension Loading {
  /// The folder `path` opens as, and the index it names: FOLDER itself, or the folder of an
  /// `X.index.json` given as the file. Nil for anything else (and for DCP folders, which keep
  /// their named error in `source`).
  static func folderTarget(_ path: String) -> (folder: String, index: String?)? {
    // A URL naming an index is no local folder: `remoteIndex` reads it.
    if RemoteLocation.isRemote(path) { return nil }
    if Folder.isDirectory(path, followingLinks: true) {
      if let names = Folder.list(path), names.contains(".metadata"),
        names.contains(where: { $0.hasSuffix(".distcp") })
      {
        return nil
      }
      var folder = path
      while folder.count > 1 && folder.hasSuffix("/") { folder.removeLast() }
      return (folder, nil)
    }
    guard FolderLayout.isIndex(path) else { return nil }
    let parts = path.split(separator: "/", omittingEmptySubsequences: false)
    let name = String(parts.last ?? "")
    let folder = parts.count > 1 ? parts.dropLast().joined(separator: "/") : "."
    return (folder.isEmpty ? "/" : folder, name)
  }

  /// Opens `path` as a file or a folder, or exits 2 with a one-line reason. `rowsOnly`: the
  /// verb reads only the tensor rows, so a folder's shards drop their graphs once read.
  static func openFileOrFolder(_ path: String, strict: Bool = true, rowsOnly: Bool = false)
    throws -> Opened
  {
    if let index = remoteIndex(path) {
      return .folder(remoteFolder(index, strict: strict, rowsOnly: rowsOnly))
    }
    if let target = folderTarget(path) {
      return .folder(
        try folder(target.folder, index: target.index, strict: strict, rowsOnly: rowsOnly))
    }
    let (checkpoint, source) = try checkpoint(path, strict: strict)
    return .file(checkpoint, source)
  }

  /// Lists a checkpoint folder and reads its index, reading no other file: what a folder
  /// write starts from (it reads the files one at a time), and what `folder` reads from.
  /// Exits 2 with a one-line reason when it is no checkpoint folder. `keys: false` (the folder
  /// writes) keeps only the index's shard names, not its weight map: a pair of strings per
  /// tensor of the whole folder would grow the write's memory with every shard.
  static func listFolder(_ path: String, index indexName: String?, keys: Bool = true)
    -> ListedFolder
  {
    guard let top = Folder.list(path) else {
      Diagnostics.fail(path, CheckpointError(.io, "cannot list the folder"))
    }
    var names = top.filter { isRegularFile(path + "/" + $0) }
    // DeepSpeed's outer folder: `latest` names the tag folder holding the checkpoint.
    if names.contains("latest"), let tag = readSmallText(path + "/latest"),
      ShardIndex.isPlainFileName(tag), let inner = Folder.list(path + "/" + tag)
    {
      names += inner.filter { isRegularFile(path + "/" + tag + "/" + $0) }.map { tag + "/" + $0 }
    }
    var index: ShardIndex?
    let chosen =
      indexName
      ?? ["model.safetensors.index.json", "pytorch_model.bin.index.json"].first(
        where: names.contains)
      ?? names.sorted().first(where: FolderLayout.isIndex)
    if let chosen {
      let indexPath = path + "/" + chosen
      guard let bytes = readSmallFile(indexPath, limit: 256 << 20) else {
        Diagnostics.fail(indexPath, CheckpointError(.io, "cannot read the index"))
      }
      do { index = try ShardIndex.parse(bytes, name: chosen, keys: keys) } catch {
        Diagnostics.fail(indexPath, error)
      }
    }
    let layout = FolderLayout.recognise(names, indexShards: index?.shards ?? [])
    guard layout.files.contains(where: { $0.reading != .other }) || index != nil else {
      Diagnostics.fail(
        path, CheckpointError(.io, "is a directory with no checkpoint files or shard index"))
    }
    return ListedFolder(path: path, layout: layout, index: index)
  }

  /// Reads a checkpoint folder: lists it, reads the index, then every torch file's pickles
  /// (two at a time; never a tensor's bytes). A weights file that cannot be read ends the
  /// command with its one-line error, as a single file would; other files keep their problem.
  /// `rowsOnly`: each file keeps its tensor rows but drops its graph as soon as it is read
  /// (`Checkpoint.dropGraph`), so memory holds at most two graphs, not one per shard.
  static func folder(
    _ path: String, index indexName: String?, strict: Bool = true, rowsOnly: Bool = false
  ) throws -> OpenedFolder {
    let listed = listFolder(path, index: indexName)
    let (layout, index) = (listed.layout, listed.index)
    let files = layout.files
    let slots = MemberSlots(count: files.count)
    // Two workers take the next unread file as they finish one. Not a concurrentPerform: a
    // file's own reading splits over two cores (directory beside pickle, interpretation beside
    // the walk), which a nested concurrentPerform would run on one; this way the last shard,
    // read while the other worker has nothing left, still gets both cores.
    let work = { @Sendable in
      while let i = slots.claim() {
        var read = readMember(files[i], at: path + "/" + files[i].name, strict: strict)
        if rowsOnly { read.checkpoint?.dropGraph() }
        slots.set(i, read)
      }
    }
    let group = DispatchGroup()
    DispatchQueue.global().async(group: group, execute: work)
    work()
    group.wait()
    var members: [ShardedCheckpoint.Member] = []
    var sources: [String: any ByteSource] = [:]
    for (i, file) in files.enumerated() {
      let read = slots.get(i)
      if let error = read.error, file.isWeights {
        Diagnostics.fail(path + "/" + file.name, error)
      }
      if let source = read.source, read.checkpoint != nil { sources[file.name] = source }
      members.append(
        ShardedCheckpoint.Member(
          file: file, size: read.size, checkpoint: read.checkpoint,
          problem: read.problem ?? read.error.map(\.description)))
    }
    return OpenedFolder(
      path: path, checkpoint: ShardedCheckpoint(layout: layout, index: index, members: members),
      sources: sources)
  }

  /// What reading one member gave.
  struct MemberRead: @unchecked Sendable {
    var size: Int64 = 0
    var checkpoint: Checkpoint?
    var source: (any ByteSource)?
    var problem: String?
    var error: CheckpointError?
  }

  /// Reads one file of a folder by how the layout says to read it.
  static func readMember(_ file: FolderLayout.File, at path: String, strict: Bool) -> MemberRead {
    let source: FileSource
    do { source = try FileSource(path: path) } catch {
      var read = MemberRead()
      read.error = CheckpointError(.io, error.message)
      return read
    }
    return readMember(file, source: source, at: path, strict: strict)
  }

  /// Reads one file of a folder, local or remote, from its source. The one place a new
  /// reader plugs in.
  static func readMember(
    _ file: FolderLayout.File, source: any ByteSource, at path: String, strict: Bool
  ) -> MemberRead {
    var read = MemberRead()
    read.size = source.size
    switch file.reading {
    case .other:
      return read
    case .safetensors:
      // Its header only: the tensors, each a byte range of the file.
      do {
        read.checkpoint = try SafetensorsReader.read(source)
        read.source = source
      } catch {
        read.error = error
      }
      return read
    case .torch:
      var reader = CheckpointReader(decompressor: decompressor(path, source))
      // Weights are read as a single file would be; the other files (optimizer, RNG state,
      // pickled arguments) are listed as far as they can be interpreted.
      reader.strict = strict && file.isWeights
      do {
        read.checkpoint = try reader.read(source)
        read.source = source
      } catch {
        read.error = error
      }
      return read
    }
  }

  private static func isRegularFile(_ path: String) -> Bool { Folder.isRegularFile(path) }

  /// A small file's bytes (nil when unreadable or over `limit`).
  static func readSmallFile(_ path: String, limit: Int64) -> [UInt8]? {
    guard Folder.isRegularFile(path), let source = try? FileSource(path: path),
      source.size <= limit
    else { return nil }
    return try? source.readExactly(at: 0, count: Int(source.size))
  }

  private static func readSmallText(_ path: String) -> String? {
    guard let bytes = readSmallFile(path, limit: 4096) else { return nil }
    let text = String(decoding: bytes, as: UTF8.self)
    return String(text.filter { !$0.isWhitespace })
  }
}

/// Results of the member reads, one slot per file, each written by one worker.
final class MemberSlots: @unchecked Sendable {
  private var slots: [Loading.MemberRead]
  private var claimed = 0
  private let lock = DispatchQueue(label: "ptview.folder.slots")
  init(count: Int) { slots = Array(repeating: Loading.MemberRead(), count: count) }
  /// The next file no worker has taken, or nil when all are taken.
  func claim() -> Int? {
    lock.sync {
      guard claimed < slots.count else { return nil }
      claimed += 1
      return claimed - 1
    }
  }
  func set(_ i: Int, _ value: Loading.MemberRead) { lock.sync { slots[i] = value } }
  func get(_ i: Int) -> Loading.MemberRead { lock.sync { slots[i] } }
}

/// Lines on standard error about a folder that a listing alone would hide.
enum FolderNotes {
  /// Files not read and index disagreements.
  static func warn(_ folder: OpenedFolder) {
    let unread = folder.checkpoint.members.filter { $0.problem != nil && $0.file.reading != .other }
    for member in unread.prefix(4) {
      Diagnostics.stderr("ptview: \(folder.path(of: member.file.name)): \(member.problem!)")
    }
    if unread.count > 4 {
      Diagnostics.stderr("ptview: and \(unread.count - 4) more files not read")
    }
    for line in FolderReport.findingLines(folder.checkpoint.findings, limit: 5) {
      Diagnostics.stderr("ptview: \(folder.path): index: \(line)")
    }
  }
}
