import PTViewCore
import PTViewFiles
import PTViewRemote

/// `cat` of a Hugging Face sharded checkpoint (FOLDER, its `X.index.json`, or an index URL or
/// `s3://` key): the index says which shard holds each key, so only that shard is opened (its
/// safetensors header, or its zip's directory and pickle) and only the printed elements of the
/// tensor are read. A remote model of many gigabytes costs the index, one shard's header and
/// the tensor's bytes, not a read of every shard.
struct ShardedCat {
  /// Where the index and its shards are, as paths or URLs the loaders open.
  var name: String
  var index: ShardIndex
  /// The path or URL of each shard, by the name the index gives it.
  var shardPaths: [String: String]

  /// The sharded checkpoint `path` names, or nil when `path` is a file, a DCP folder, or a
  /// local folder without an index (those keep the single-file reading and its errors).
  /// Exits 2 with one line when the index is unreadable or names a shard outside its folder.
  static func open(_ path: String) -> ShardedCat? {
    if let location = Loading.remoteIndex(path) {
      let (index, _, shards) = Loading.remoteShards(location)
      return ShardedCat(
        name: path, index: index,
        shardPaths: Dictionary(
          shards.map { ($0.name, $0.location.text) }, uniquingKeysWith: { first, _ in first }))
    }
    guard let target = Loading.folderTarget(path) else { return nil }
    let listed = Loading.listFolder(target.folder, index: target.index)
    guard let index = listed.index else { return nil }
    var paths: [String: String] = [:]
    for shard in index.shards {
      guard ShardIndex.isPlainFileName(shard) else {
        Diagnostics.fail(
          path,
          CheckpointError(
            .malformed, record: index.name, "\(JSONWriter.quoted(shard)) is not a file name"))
      }
      paths[shard] = listed.path(of: shard)
    }
    return ShardedCat(name: path, index: index, shardPaths: paths)
  }

  /// The shard the index puts each key in (a repeated key: the last entry counts, as
  /// json.load keeps it), and the keys in the index's order, each once.
  func shardsByKey() -> (byKey: [String: String], keys: [String]) {
    var byKey: [String: String] = [:]
    var keys: [String] = []
    for (key, shard) in index.weightMap {
      if byKey.updateValue(shard, forKey: key) == nil { keys.append(key) }
    }
    return (byKey, keys)
  }
}
