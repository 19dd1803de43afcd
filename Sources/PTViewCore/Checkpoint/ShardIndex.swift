/// Sharded checkpoints (`pytorch_model.bin.index.json`, `model.safetensors.index.json`): an
/// index mapping each parameter to a shard file. Named, with its shards, not read as one model.
enum ShardIndex {
  /// The error that explains what the JSON file is.
  static func describe(_ source: any ByteSource) -> CheckpointError {
    guard source.size <= 64 << 20,
      let bytes = try? source.readExactly(at: 0, count: Int(source.size)),
      let json = try? JSONParser.parse(bytes)
    else {
      return CheckpointError(
        .unsupportedFormat, "this is a JSON document, not a PyTorch checkpoint")
    }
    guard case .object(let map)? = json["weight_map"] else {
      return CheckpointError(
        .unsupportedFormat, "this is a JSON document, not a PyTorch checkpoint")
    }
    var shards: [String] = []
    for (_, value) in map {
      if let shard = value.stringValue, !shards.contains(shard) { shards.append(shard) }
    }
    let list = shards.prefix(4).joined(separator: ", ") + (shards.count > 4 ? ", …" : "")
    return CheckpointError(
      .unsupportedFormat,
      "this is a sharded checkpoint index (\(map.count) tensors in \(shards.count) shards: \(list)); run ptview on each shard file"
    )
  }
}
