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
    let (names, chosen) = folderNames(path, index: indexName)
    var index: ShardIndex?
    if let chosen {
      switch readIndex(path, name: chosen, keys: keys) {
      case .success(let parsed): index = parsed
      case .failure(let failure): Diagnostics.fail(failure.path, failure.error)
      }
    }
    return listed(path, names: names, index: index)
  }

  /// The relative paths of a folder's regular files (DeepSpeed's tag folder included) and the
  /// index to read: `indexName`, or the one the folder has. Exits 2 when it cannot be listed.
  private static func folderNames(_ path: String, index indexName: String?) -> (
    names: [String], index: String?
  ) {
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
    let chosen =
      indexName
      ?? ["model.safetensors.index.json", "pytorch_model.bin.index.json"].first(
        where: names.contains)
      ?? names.sorted().first(where: FolderLayout.isIndex)
    return (names, chosen)
  }

  /// Why an index could not be read: its path and the error.
  struct IndexFailure: Error {
    var path: String
    var error: CheckpointError
  }

  /// Reads and parses the index `name` of the folder. A value, not an exit: it may run on a
  /// worker beside the shards.
  private static func readIndex(_ path: String, name: String, keys: Bool = true) -> Result<
    ShardIndex, IndexFailure
  > {
    let indexPath = path + "/" + name
    guard let bytes = readSmallFile(indexPath, limit: 256 << 20) else {
      return .failure(
        IndexFailure(path: indexPath, error: CheckpointError(.io, "cannot read the index")))
    }
    do { return .success(try ShardIndex.parse(bytes, name: name, keys: keys)) } catch {
      return .failure(IndexFailure(path: indexPath, error: error))
    }
  }

  /// The listed folder from its names and index; exits 2 when it holds no checkpoint.
  private static func listed(_ path: String, names: [String], index: ShardIndex?) -> ListedFolder {
    let layout = FolderLayout.recognise(names, indexShards: index?.shards ?? [])
    guard layout.files.contains(where: { $0.reading != .other }) || index != nil else {
      Diagnostics.fail(
        path, CheckpointError(.io, "is a directory with no checkpoint files or shard index"))
    }
    return ListedFolder(path: path, layout: layout, index: index)
  }

  /// Reads a checkpoint folder: lists it, then reads the index and every torch file's
  /// pickles (two at a time; never a tensor's bytes). A weights file that cannot be read ends
  /// the command with its one-line error, as a single file would; other files keep their
  /// problem. `rowsOnly`: each file keeps its tensor rows but drops its graph as soon as it
  /// is read (`Checkpoint.dropGraph`), so memory holds at most two graphs, not one per shard.
  ///
  /// The index is parsed beside the shards, not before them (for a 20,000-key index it was a
  /// tenth of a listing): how a file is read follows from its name alone; only which files
  /// are the weights, whose reading problems are errors, waits for the index. So every file
  /// is read leniently, and a weights file whose lenient read found a problem is read again
  /// strictly for the error a single file would give.
  static func folder(
    _ path: String, index indexName: String?, strict: Bool = true, rowsOnly: Bool = false
  ) throws -> OpenedFolder {
    let (names, chosen) = folderNames(path, index: indexName)
    let files = FolderLayout.recognise(names).files
    let parsed = IndexSlot()
    let slots = MemberSlots(count: files.count, first: chosen == nil ? 0 : 1)
    // Two workers take the next job as they finish one: the index first, then the files in
    // order. Not a concurrentPerform: a file's own reading splits over two cores (directory
    // beside pickle, interpretation beside the walk), which a nested concurrentPerform would
    // run on one; this way the last shard, read while the other worker has nothing left,
    // still gets both cores.
    let work = { @Sendable in
      while let job = slots.claim() {
        guard let i = job else {
          // The index, and where it lists each key, for the check once the shards are read.
          parsed.result = readIndex(path, name: chosen!).map { ($0, $0.listings()) }
          continue
        }
        var read = readMember(files[i], at: path + "/" + files[i].name, strict: false)
        if rowsOnly { read.checkpoint?.dropGraph() }
        slots.set(i, read)
      }
    }
    let group = DispatchGroup()
    DispatchQueue.global().async(group: group, execute: work)
    work()
    group.wait()
    var index: ShardIndex?
    var listings: ShardIndex.Listings?
    switch parsed.result {
    case .success(let value)?: (index, listings) = value
    case .failure(let failure)?: Diagnostics.fail(failure.path, failure.error)
    case nil: break
    }
    let layout = listed(path, names: names, index: index).layout
    var members: [ShardedCheckpoint.Member] = []
    var sources: [String: any ByteSource] = [:]
    for (i, file) in layout.files.enumerated() {
      var read = slots.get(i)
      if strict, file.isWeights, read.checkpoint?.problem != nil {
        read = readMember(file, at: path + "/" + file.name, strict: true)
        if rowsOnly { read.checkpoint?.dropGraph() }
      }
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
      path: path,
      checkpoint: ShardedCheckpoint(
        layout: layout, index: index, members: members, listings: listings),
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

/// The index as parsed by a worker (written once, read after the workers are done).
private final class IndexSlot: @unchecked Sendable {
  var result: Result<(ShardIndex, ShardIndex.Listings), Loading.IndexFailure>?
}

/// Results of the member reads, one slot per file, each written by one worker.
final class MemberSlots: @unchecked Sendable {
  private var slots: [Loading.MemberRead]
  /// Jobs handed out; the first `first` jobs are not files (the index).
  private var claimed = 0
  private let first: Int
  private let lock = DispatchQueue(label: "ptview.folder.slots")
  init(count: Int, first: Int = 0) {
    slots = Array(repeating: Loading.MemberRead(), count: count)
    self.first = first
  }
  /// The next job no worker has taken: `.some(nil)` for one of the first jobs, `.some(i)`
  /// for file `i`, nil when all are taken.
  func claim() -> Int?? {
    lock.sync {
      guard claimed < first + slots.count else { return nil }
      claimed += 1
      return claimed <= first ? .some(nil) : .some(claimed - 1 - first)
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
