import Dispatch
import PTViewCore
import PTViewFiles
import PTViewRemote

/// Remote sharded checkpoints: `ls|info|tree|stats|doctor|scan URL` where URL names a
/// Hugging Face index (`…/model.safetensors.index.json`, `…/pytorch_model.bin.index.json`,
/// `s3://BUCKET/PREFIX/X.index.json`), or an S3 prefix (`s3://BUCKET/PREFIX/`) whose listing
/// holds one.
///
/// The index is read whole; each shard it names is read beside it by range requests, as a
/// local folder's files are read: a safetensors header, a zip's directory and pickles, never
/// the tensor data. The shards are opened several at a time over the process's shared
/// transport (its pooled handles), because each costs round trips, not processor time.
extension Loading {
  /// Shards opened at once: enough to hide a round trip's latency behind the others', few
  /// enough to stay polite to one server (and to the libcurl handles each holds).
  static let remoteShardConcurrency = 8

  /// The most bytes an index may have (as for a local one).
  static let maxIndexBytes: Int64 = 256 << 20

  /// Whether `path` names a remote folder (an index URL or an S3 prefix), from its text
  /// alone: what the write verbs refuse without a request.
  static func namesRemoteFolder(_ path: String) -> Bool {
    guard let location = try? RemoteLocation.parse(path) else { return false }
    return location.isFolder || FolderLayout.isIndex(location.lastName)
  }

  /// The one line a write verb gives for a remote folder: writing one (each shard streamed
  /// into a local folder) is not done yet.
  static func remoteFolderWriteNotYet(_ verb: String) -> String {
    "not yet: \(verb) does not read remote folders; download the folder (`hf download`, `aws s3 sync`) and \(verb) the copy"
  }

  /// The index of the remote sharded checkpoint `path` names, or nil when `path` is local or
  /// names one remote file. An S3 prefix ending with `/` is listed (one request) to find the
  /// index; exits 2 with one line when that finds none, or `path` is an HTTP folder (HTTP has
  /// no listing): the user names the index file then.
  static func remoteIndex(_ path: String) -> RemoteLocation? {
    guard RemoteLocation.isRemote(path) else { return nil }
    let location: RemoteLocation
    do {
      guard let parsed = try RemoteLocation.parse(path) else { return nil }
      location = parsed
    } catch {
      Diagnostics.fail(path, CheckpointError(.io, error.message))
    }
    if !location.isFolder {
      return FolderLayout.isIndex(location.lastName) ? location : nil
    }
    let example = location.text + "model.safetensors.index.json"
    guard case .s3 = location else {
      Diagnostics.fail(
        path,
        CheckpointError(
          .io, "an HTTP server cannot list a folder: name the index file (\(example))"))
    }
    let listed: (files: [RemoteLocation], truncated: Bool)
    do {
      listed = try Remote.list(location, environment: environment(), anonymous: anonymous)
    } catch {
      Diagnostics.fail(
        path,
        CheckpointError(
          .io, "cannot list the prefix (\(error.message)): name the index file (\(example))"))
    }
    let byName = Dictionary(
      listed.files.map { ($0.lastName, $0) }, uniquingKeysWith: { first, _ in first })
    let preferred = ["model.safetensors.index.json", "pytorch_model.bin.index.json"]
    let chosen =
      preferred.first { byName[$0] != nil }
      ?? byName.keys.sorted().first(where: FolderLayout.isIndex)
    guard let chosen, let index = byName[chosen] else {
      let more = listed.truncated ? " in the first \(listed.files.count) files" : ""
      Diagnostics.fail(
        path,
        CheckpointError(
          .io,
          "no *.index.json directly under this prefix\(more): name the index file (\(example))"))
    }
    return index
  }

  /// The index at `location` and the location of every shard it names, in the index's order.
  /// Exits 2 with one line when the index cannot be read or names a shard that is not a
  /// plain file name beside it (a hostile index).
  static func remoteShards(_ location: RemoteLocation) -> (
    index: ShardIndex, indexSize: Int64, shards: [(name: String, location: RemoteLocation)]
  ) {
    let bytes: [UInt8]
    let size: Int64
    do {
      let source = try Remote.open(location, environment: environment(), anonymous: anonymous)
      size = source.size
      guard size <= maxIndexBytes else {
        Diagnostics.fail(
          location.text,
          CheckpointError(.io, "the index is \(size) bytes, more than \(maxIndexBytes)"))
      }
      bytes = try source.readExactly(at: 0, count: Int(size))
    } catch {
      Diagnostics.fail(location.text, CheckpointError(.io, error.message))
    }
    let index: ShardIndex
    do { index = try ShardIndex.parse(bytes, name: location.lastName) } catch {
      Diagnostics.fail(location.text, error)
    }
    // A query is for the object it was written for: a presigned S3 or GCS URL signs one key,
    // so carried to a sibling it would be refused; huggingface.co's `?download=true` changes
    // nothing the shards need. Dropped, and said once so a refusal is not a mystery.
    if location.hasQuery {
      Diagnostics.stderr(
        "ptview: \(location.text): note: the URL's query is not carried to the shards (a signed query names one file); they are fetched without it"
      )
    }
    var shards: [(name: String, location: RemoteLocation)] = []
    for name in index.shards {
      do { shards.append((name, try location.sibling(name))) } catch {
        Diagnostics.fail(location.text, CheckpointError(.malformed, error.message))
      }
    }
    return (index, size, shards)
  }

  /// Reads the remote sharded checkpoint whose index is at `location`: the index, then every
  /// shard's header or pickles, `remoteShardConcurrency` at a time. A shard that cannot be
  /// fetched or read ends the command with one line naming its URL (with the HTTP status).
  static func remoteFolder(_ location: RemoteLocation, strict: Bool = true, rowsOnly: Bool = false)
    -> OpenedFolder
  {
    let (index, indexSize, shards) = remoteShards(location)
    let layout = FolderLayout.recognise(
      [index.name] + shards.map(\.name), indexShards: shards.map(\.name))
    let locations = Dictionary(
      shards.map { ($0.name, $0.location) }, uniquingKeysWith: { first, _ in first })
    let files = layout.files
    let slots = MemberSlots(count: files.count)
    let environment = environment()
    let anonymous = anonymous
    // The first failure stops the claiming: a hostile index naming thousands of absent
    // shards costs the requests already under way, not one per name.
    let failed = CancellationFlag()
    let work = { @Sendable in
      while !failed.isRaised, let job = slots.claim(), let i = job {
        let file = files[i]
        guard let shard = locations[file.name], file.reading != .other else {
          var read = MemberRead()
          read.size = file.name == index.name ? indexSize : 0
          slots.set(i, read)
          continue
        }
        let source: RemoteSource
        do throws(SourceError) {
          source = try Remote.open(
            shard, environment: environment, anonymous: anonymous,
            opening: file.reading == .safetensors ? .head : .tail)
        } catch {
          var read = MemberRead()
          read.error = CheckpointError(.io, error.message)
          failed.raise()
          slots.set(i, read)
          continue
        }
        var read = readMember(file, source: source, at: shard.text, strict: strict)
        if rowsOnly { read.checkpoint?.dropGraph() }
        if read.error != nil { failed.raise() }
        slots.set(i, read)
      }
    }
    let group = DispatchGroup()
    for _ in 1..<min(remoteShardConcurrency, max(1, shards.count)) {
      DispatchQueue.global().async(group: group, execute: work)
    }
    work()
    group.wait()
    var members: [ShardedCheckpoint.Member] = []
    var sources: [String: any ByteSource] = [:]
    // Shards are claimed in order, so the first failure in order is the one reported.
    for (i, file) in files.enumerated() {
      if let error = slots.get(i).error {
        Diagnostics.fail(locations[file.name]?.text ?? location.text, error)
      }
    }
    for (i, file) in files.enumerated() {
      let read = slots.get(i)
      if let source = read.source, read.checkpoint != nil { sources[file.name] = source }
      members.append(
        ShardedCheckpoint.Member(
          file: file, size: read.size, checkpoint: read.checkpoint, problem: read.problem))
    }
    return OpenedFolder(
      path: location.folderText,
      checkpoint: ShardedCheckpoint(layout: layout, index: index, members: members),
      sources: sources, isRemote: true)
  }
}
