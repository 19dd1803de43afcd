import PTViewCore

/// How `--max-shard-size` splits an export into files, as `save_pretrained` does
/// (huggingface_hub's `split_torch_state_dict_into_shards`): tensors in key order fill the
/// current shard until the next one would pass the limit, which starts a new shard; a tensor
/// bigger than the limit gets a shard of its own, placed before the shard being filled.
public enum ShardPlan {
  /// The file name of shard `index` (0-based) of `count`: `model-00001-of-00003.safetensors`.
  /// One shard is `model.safetensors`, with no index, as `save_pretrained` writes it.
  public static func fileName(_ index: Int, of count: Int) -> String {
    guard count > 1 else { return "model.safetensors" }
    return "model-\(pad5(index + 1))-of-\(pad5(count)).safetensors"
  }

  /// The index file's name.
  public static let indexName = "model.safetensors.index.json"

  private static func pad5(_ n: Int) -> String {
    let text = String(n)
    return text.count >= 5 ? text : String(repeating: "0", count: 5 - text.count) + text
  }

  /// Splits tensors of `sizes` bytes (in key order) into shards of at most `limit` bytes;
  /// returns the indices of `sizes` in each shard, in order.
  public static func split(_ sizes: [Int64], limit: Int64) -> [[Int]] {
    var shards: [[Int]] = []
    var current: [Int] = []
    var currentSize: Int64 = 0
    for (index, size) in sizes.enumerated() {
      if size > limit {
        shards.append([index])
        continue
      }
      if currentSize + size > limit {
        shards.append(current)
        current = []
        currentSize = 0
      }
      current.append(index)
      currentSize += size
    }
    if !current.isEmpty { shards.append(current) }
    return shards
  }

  /// The index JSON of `indexJSON`, made piece by piece for a writer that streams it:
  /// `count` entries in key order, `entry(i)` the i-th, each piece about `pieceSize` bytes
  /// handed to `emit`. A folder of 100,000 tensors needs no 7 MB string.
  public static func streamIndexJSON<Failure: Error>(
    totalSize: Int64, count: Int, entry: (Int) -> (key: String, file: String),
    pieceSize: Int = 1 << 20, emit: ([UInt8]) throws(Failure) -> Void
  ) throws(Failure) {
    var piece: [UInt8] = []
    piece.reserveCapacity(pieceSize + 256)
    piece +=
      "{\n  \"metadata\": {\n    \"total_size\": \(totalSize)\n  },\n  \"weight_map\": {".utf8
    for i in 0..<count {
      let (key, file) = entry(i)
      piece += (i == 0 ? "\n" : ",\n").utf8
      piece += "    ".utf8
      piece += JSONWriter.quoted(key).utf8
      piece += ": ".utf8
      piece += JSONWriter.quoted(file).utf8
      if piece.count >= pieceSize {
        try emit(piece)
        piece.removeAll(keepingCapacity: true)
      }
    }
    piece += (count == 0 ? "}\n}\n" : "\n  }\n}\n").utf8
    try emit(piece)
  }

  /// The index JSON: `{"metadata": {"total_size": N}, "weight_map": {key: file}}`, keys in
  /// sorted order as `save_pretrained` writes them, indented by 2 like its `json.dumps`.
  public static func indexJSON(totalSize: Int64, weightMap: [(key: String, file: String)])
    -> String
  {
    var out = "{\n  \"metadata\": {\n    \"total_size\": \(totalSize)\n  },\n  \"weight_map\": {"
    let sorted = weightMap.sorted {
      Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8))
    }
    for (i, item) in sorted.enumerated() {
      out +=
        (i == 0 ? "\n" : ",\n") + "    " + JSONWriter.quoted(item.key) + ": "
        + JSONWriter.quoted(item.file)
    }
    out += sorted.isEmpty ? "}\n}\n" : "\n  }\n}\n"
    return out
  }
}

/// `--max-shard-size` values: a plain number of bytes, or a number with a unit: KB, MB, GB,
/// TB (powers of 1000, as huggingface_hub and transformers read them: "5GB" = 5,000,000,000)
/// or KiB, MiB, GiB, TiB (powers of 1024: "5GiB" = 5 * 2^30), case-insensitive; decimals
/// ("1.5GB") are accepted as huggingface_hub accepts them.
public enum ShardSize {
  /// The number of bytes `text` names, or nil when it is not a size (or not positive).
  public static func parse(_ text: String) -> Int64? {
    let trimmed = text.trimmingSpaces()
    guard !trimmed.isEmpty else { return nil }
    if trimmed.allSatisfy({ $0.isASCII && $0.isNumber }) {
      guard let n = Int64(trimmed), n > 0 else { return nil }
      return n
    }
    let units: [(String, Double)] = [
      ("KIB", 1024), ("MIB", 1_048_576), ("GIB", 1_073_741_824), ("TIB", 1_099_511_627_776),
      ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("B", 1),
    ]
    let upper = trimmed.uppercased()
    for (unit, multiplier) in units where upper.hasSuffix(unit) {
      let number = String(upper.dropLast(unit.count)).trimmingSpaces()
      guard !number.isEmpty,
        number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
        number.filter({ $0 == "." }).count <= 1, let value = Double(number)
      else { return nil }
      let bytes = (value * multiplier).rounded(.towardZero)
      guard bytes >= 1, bytes < 9.2e18 else { return nil }
      return Int64(bytes)
    }
    return nil
  }
}

extension String {
  fileprivate func trimmingSpaces() -> String {
    var s = Substring(self)
    while s.first == " " { s.removeFirst() }
    while s.last == " " { s.removeLast() }
    return String(s)
  }
}
