public import PTViewCore
public import PTViewEdit
public import PTViewPickle

/// A checkpoint folder as the explorer shows it: several files (the shards of a Hugging Face
/// model, the model-states files of a DeepSpeed folder, the `.distcp` files of a
/// torch.distributed.checkpoint folder) merged into one tree, each tensor carrying its file.
///
/// Every shard keeps its own `Checkpoint` (graph, storages, records): the values pane, the
/// NaN/Inf check and the graph view work on the selected tensor's shard, and a write plans
/// and writes each shard as `ptview remap FOLDER` does. The merged entries the tree is built
/// from name their storages `FILE<US>record` and their pickle nodes shifted past the previous
/// shards' graphs, so two shards' `data/0` or node #12 never count as one tensor; plans are
/// merged the same way, so the tree reads moves and casts exactly as for one file.
public struct FolderShards: Sendable {
  /// One file read as a checkpoint.
  public struct Shard: Sendable {
    /// Its name in the folder (`pytorch_model-00001-of-00002.bin`).
    public var name: String
    /// Its pickles and tensors.
    public var checkpoint: Checkpoint
    /// Its size in bytes.
    public var size: Int64
    /// Whether its tensors are part of the model's state_dict (a shard or the weights
    /// file; not an optimizer or RNG file): key edits are planned over these files' keys.
    public var isWeights: Bool

    /// Creates a shard.
    public init(name: String, checkpoint: Checkpoint, size: Int64, isWeights: Bool = true) {
      self.name = name
      self.checkpoint = checkpoint
      self.size = size
      self.isWeights = isWeights
    }
  }

  /// The folder's name (no parent folders).
  public var name: String
  /// What the header calls it: `2 shards`, `dcp 4 files`.
  public var format: String
  /// The files read as checkpoints, in folder order (empty for a DCP folder).
  public var shards: [Shard]
  /// Bytes of every file of the folder.
  public var totalBytes: Int64
  /// Every tensor, shard after shard, with storages and nodes made distinct (see above).
  public var entries: [TensorEntry]
  /// Per merged entry: its shard (an index into `shards`; -1 when it has none, DCP).
  public var entryShard: [Int32]
  /// Per merged entry: its index in its shard's `entries`.
  public var entryLocal: [Int32]
  /// The file names the FILE column shows, each once, in order.
  public var fileNames: [String]
  /// Per merged entry: its index into `fileNames`.
  public var entryFile: [Int32]
  /// Per merged entry: the number of chunks it is saved in (DCP only; empty otherwise).
  public var chunks: [Int32] = []
  /// Why edits and writes do not apply (DCP), or nil.
  public var readOnly: String?
  /// Per shard: the amount added to its pickle node ids in the merged entries.
  var nodeOffset: [Int32]

  /// The separator between a shard's name and a record in merged storage names.
  static let separator: Character = "\u{1F}"

  /// Merges `shards` of the folder `name`; `totalBytes` counts every file of the folder.
  public init(name: String, format: String, shards: [Shard], totalBytes: Int64) {
    self.name = name
    self.format = format
    self.shards = shards
    self.totalBytes = totalBytes
    var entries: [TensorEntry] = []
    var entryShard: [Int32] = []
    var entryLocal: [Int32] = []
    var offsets: [Int32] = []
    var offset: Int32 = 0
    for (s, shard) in shards.enumerated() {
      offsets.append(offset)
      let prefix = shard.name + String(Self.separator)
      for (i, original) in shard.checkpoint.entries.enumerated() {
        var entry = original
        entry.file = shard.name
        entry.tensor = Self.shifted(entry.tensor, prefix: prefix, by: offset)
        entries.append(entry)
        entryShard.append(Int32(s))
        entryLocal.append(Int32(i))
      }
      offset &+= Int32(clamping: shard.checkpoint.graph.count)
    }
    self.entries = entries
    self.entryShard = entryShard
    self.entryLocal = entryLocal
    nodeOffset = offsets
    fileNames = shards.map(\.name)
    entryFile = entryShard
  }

  /// A torch.distributed.checkpoint folder: one row per tensor of its `.metadata`, with its
  /// dtype, global shape, chunks and files. Read-only: the metadata records no devices.
  public init(name: String, distributed metadata: DistributedMetadata, totalBytes: Int64) {
    self.name = name
    shards = []
    self.totalBytes = totalBytes
    var entries: [TensorEntry] = []
    var files: [String] = []
    var codes: [String: Int32] = [:]
    var entryFile: [Int32] = []
    var chunks: [Int32] = []
    for item in metadata.items {
      guard case .tensor(let dtype, let shape, let pieces) = item.kind else { continue }
      let names = Array(Set(pieces.map(\.storage.file))).sorted()
      let label =
        names.isEmpty ? "" : names.count == 1 ? names[0] : names[0] + " +\(names.count - 1)"
      let code: Int32
      if let known = codes[label] {
        code = known
      } else {
        code = Int32(files.count)
        files.append(label)
        codes[label] = code
      }
      let tensor = TensorInfo(
        dtype: dtype, shape: shape, stride: nil, offset: 0, device: "", storage: nil,
        requiresGrad: false, isParameter: false, layout: nil, rebuild: "dcp")
      var path: [String] = []
      for part in item.path {
        switch part {
        case .key(let key): path.append(key)
        case .index(let index): path.append(String(index))
        }
      }
      entries.append(
        TensorEntry(path: path.isEmpty ? [item.fqn] : path, tensor: tensor, file: label))
      entryFile.append(code)
      chunks.append(Int32(clamping: pieces.count))
    }
    format = "dcp \(metadata.files.count) file\(metadata.files.count == 1 ? "" : "s")"
    self.entries = entries
    entryShard = Array(repeating: -1, count: entries.count)
    entryLocal = Array(repeating: -1, count: entries.count)
    fileNames = files
    self.entryFile = entryFile
    self.chunks = chunks
    nodeOffset = []
    readOnly =
      "a torch.distributed.checkpoint folder is read-only here: its .metadata records no devices to remap"
  }

  /// The merged entry of each of `keys` (-1 for a key no row has): how the values of a DCP
  /// folder, read from its assembled archive (in torch's nesting order, not the
  /// `.metadata`'s), find their rows. Matched by key, never by position.
  public func entries(forKeys keys: [String]) -> [Int32] {
    var row: [String: Int32] = [:]
    for (i, entry) in entries.enumerated() where row[entry.key] == nil {
      row[entry.key] = Int32(i)
    }
    return keys.map { row[$0] ?? -1 }
  }

  /// `tensor` with its storage records prefixed and its nodes shifted.
  static func shifted(_ tensor: TensorInfo, prefix: String, by offset: Int32) -> TensorInfo {
    var out = tensor
    if let storage = out.storage { out.storage = shifted(storage, prefix: prefix, by: offset) }
    if !out.components.isEmpty {
      out.components = out.components.map { shifted($0, prefix: prefix, by: offset) }
    }
    if let node = out.node { out.node = ValueID(node.index &+ offset) }
    if let node = out.deviceNode { out.deviceNode = ValueID(node.index &+ offset) }
    return out
  }

  static func shifted(_ storage: StorageRef, prefix: String, by offset: Int32) -> StorageRef {
    var out = storage
    out.record = prefix + storage.record
    out.pidNode = ValueID(storage.pidNode.index &+ offset)
    out.locationNode = ValueID(storage.locationNode.index &+ offset)
    return out
  }

  /// The shard and the local entry of merged entry `entry`, when it has one.
  public func locate(_ entry: Int32) -> (shard: Int, local: Int32)? {
    guard entry >= 0, Int(entry) < entryShard.count, entryShard[Int(entry)] >= 0 else {
      return nil
    }
    return (Int(entryShard[Int(entry)]), entryLocal[Int(entry)])
  }

  /// The shard's node for a merged node id.
  public func localNode(_ node: ValueID, shard: Int) -> ValueID {
    ValueID(node.index &- nodeOffset[shard])
  }

  // MARK: Planning

  /// Plans `operations` as `ptview edit FOLDER` / `ptview remap FOLDER` write them
  /// (`FolderEdit.write`): key edits checked once over the keys of every weights file
  /// (`FolderKeyPlan`), then each torch shard planned with the edits that touch its own
  /// keys, and each safetensors shard with its keys and casts (`SafetensorsEditPlan`); the
  /// plans merged so that their records and nodes name the merged entries.
  public func plan(_ operations: [EditOperation]) throws(EditRefusal) -> EditPlan {
    if let readOnly { throw EditRefusal(readOnly) }
    if let refusal = Self.refusal(operations) { throw EditRefusal(refusal) }
    let ordered = FolderKeyPlan.ordered(operations)
    let keyEdits = FolderKeyPlan.changesKeys(ordered)
    func keys(_ shard: Shard) -> [String] {
      guard keyEdits, shard.isWeights else { return [] }
      return shard.checkpoint.entries.filter(\.inStateDict).map(\.key)
    }
    var keyPlan: FolderKeyPlan?
    if keyEdits { keyPlan = try FolderKeyPlan.plan(keys: shards.flatMap(keys), ordered) }
    var merged: EditPlan?
    for (s, shard) in shards.enumerated() {
      var plan: EditPlan
      if Self.isPlanned(shard.checkpoint) {
        let mine =
          keyPlan?.operations(forFile: keys(shard), weights: shard.isWeights, ordered) ?? ordered
        if mine.isEmpty { continue }
        do { plan = try EditPlanner.plan(shard.checkpoint, mine) } catch {
          throw EditRefusal("\(shard.name): \(error.message)")
        }
        plan = shifted(plan, shard: s)
      } else if shard.checkpoint.format == .safetensors, shard.isWeights,
        let one = SafetensorsEditPlan.plan(
          shard.checkpoint, file: shard.name, keyPlan: keyPlan, operations: ordered)
      {
        plan = one
      } else {
        continue
      }
      if var sum = merged {
        sum.edits += plan.edits
        sum.remap.edits += plan.remap.edits
        sum.remap.moves += plan.remap.moves
        sum.remap.deviceArguments += plan.remap.deviceArguments
        sum.remap.leftAlone += plan.remap.leftAlone
        sum.remap.sharedWithUnselected += plan.remap.sharedWithUnselected
        sum.renamed += plan.renamed
        sum.dropped += plan.dropped
        sum.casts += plan.casts
        sum.unusedStorages += plan.unusedStorages
        for prefix in plan.detectedPrefixes where !sum.detectedPrefixes.contains(prefix) {
          sum.detectedPrefixes.append(prefix)
        }
        if let keys = plan.outputKeys { sum.outputKeys = (sum.outputKeys ?? []) + keys }
        merged = sum
      } else {
        merged = plan
      }
    }
    guard let merged else {
      throw EditRefusal(
        hasSafetensors
          ? "safetensors shards store no device (they load where from_pretrained puts them): nothing to move"
          : "no shard of this folder is a torch file to rewrite")
    }
    return merged
  }

  /// Whether the folder writer rewrites this shard (a torch file whose tensors were read);
  /// others are copied as they are.
  static func isPlanned(_ checkpoint: Checkpoint) -> Bool {
    checkpoint.format != .safetensors && checkpoint.format != .pickle
      && checkpoint.problem == nil
  }

  var hasSafetensors: Bool { shards.contains { $0.checkpoint.format == .safetensors } }

  /// Why the folder writer refuses `operations`, or nil: the same rules as `FolderEdit`
  /// (a new root is chosen per file's pickle: not on folders).
  public static func refusal(_ operations: [EditOperation]) -> String? {
    if operations.contains(where: {
      switch $0 {
      case .extract, .fromError, .stateDict: true
      default: false
      }
    }) {
      return "extract and state_dict work on single files only (not yet on folders)"
    }
    return nil
  }

  /// `plan` of shard `s` with its records and nodes named as in the merged entries.
  func shifted(_ plan: EditPlan, shard s: Int) -> EditPlan {
    let prefix = shards[s].name + String(Self.separator)
    let offset = nodeOffset[s]
    func node(_ id: ValueID) -> ValueID { ValueID(id.index &+ offset) }
    func edit(_ e: Edit) -> Edit {
      switch e {
      case .moveStorage(let record, let to): return .moveStorage(record: prefix + record, to: to)
      case .setDeviceArgument(let n, let to): return .setDeviceArgument(node: node(n), to: to)
      case .rewriteCode: return e
      case .newRoot(let n): return .newRoot(node: node(n))
      case .newStateDict(var items):
        items.items = items.items.map {
          StateDictItems.Item(key: $0.key, value: node($0.value), detach: $0.detach)
        }
        items.metadata = items.metadata.map(node)
        return .newStateDict(items)
      case .renameKey(let c, let item, let to):
        return .renameKey(container: node(c), item: item, to: to)
      case .dropItem(let c, let item): return .dropItem(container: node(c), item: item)
      case .castStorage(let record, let from, let to):
        return .castStorage(record: prefix + record, from: from, to: to)
      }
    }
    var out = plan
    out.edits = plan.edits.map(edit)
    out.remap.edits = plan.remap.edits.map(edit)
    out.remap.moves = plan.remap.moves.map {
      var m = $0
      m.record = prefix + m.record
      return m
    }
    out.casts = plan.casts.map { (prefix + $0.record, $0.from, $0.to, $0.bytes) }
    out.unusedStorages = plan.unusedStorages.map { (prefix + $0.record, $0.bytes) }
    return out
  }

  // MARK: The FILE column

  /// The names of `fileNames` shortened to fit `width` cells, each still telling the files
  /// apart: the whole name; without the extension they share; the `00001-of-00002` part of
  /// Hugging Face shard names; `1/2`; else the end of each name (where shard names differ).
  public func shortNames(width: Int) -> [String] {
    let names = fileNames
    func fits(_ list: [String]) -> Bool {
      list.allSatisfy { TextWidth.width($0) <= width } && Set(list).count == list.count
    }
    if fits(names) { return names }
    // The extension every name has (`.bin`, `.distcp`), wherever it is in the name.
    var stems = names
    if let first = names.first, let dot = first.lastIndex(of: "."), dot != first.startIndex {
      let ext = String(first[dot...].prefix { $0 != " " })
      if ext.count > 1, names.allSatisfy({ $0.contains(ext) }) {
        stems = names.map { Self.removing(ext, from: $0) }
      }
    }
    if fits(stems) { return stems }
    // Each name without its own extension (a Trainer folder: `model`, `optimizer`).
    let own = names.map { name -> String in
      guard let dot = name.lastIndex(of: "."), dot != name.startIndex,
        !name[dot...].contains(" ")
      else { return name }
      return String(name[..<dot])
    }
    if Set(own).count == own.count && own.allSatisfy({ TextWidth.width($0) <= width }) {
      return own
    }
    let parts = stems.map(Self.shardNumber)
    if parts.allSatisfy({ $0 != nil }) {
      let long = parts.map { "\($0!.index)-of-\($0!.total)" }
      if fits(long) { return long }
      let short = parts.map { "\(Int($0!.index) ?? 0)/\(Int($0!.total) ?? 0)" }
      if fits(short) { return short }
    }
    // Without the folder they share (DeepSpeed's `global_step2/`) and the words every name
    // has (`mp_rank_00_…_states`): `model`, `zero_pp_0_optim`.
    var short = stems
    if let slash = short.first?.lastIndex(of: "/") {
      let folder = String(short[0][...slash])
      if short.allSatisfy({ $0.hasPrefix(folder) }) {
        short = short.map { String($0.dropFirst(folder.count)) }
      }
    }
    if fits(short) { return short }
    let words = short.map { $0.split(whereSeparator: { $0 == "_" || $0 == "-" }).map(String.init) }
    if words.count > 1 {
      let common = words.dropFirst().reduce(Set(words[0])) { $0.intersection($1) }
      let kept = words.map { $0.filter { !common.contains($0) }.joined(separator: "_") }
      if !kept.contains(where: \.isEmpty), Set(kept).count == kept.count { short = kept }
    }
    if fits(short) { return short }
    // The end of each name, else its start, whichever still tells them apart.
    let ends = short.map { name in
      TextWidth.width(name) <= width ? name : "…" + String(name.suffix(max(1, width - 1)))
    }
    if Set(ends).count == ends.count { return ends }
    return short.map { TextWidth.truncate($0, to: width) }
  }

  /// `name` without its first `text`.
  static func removing(_ text: String, from name: String) -> String {
    var i = name.startIndex
    while i < name.endIndex {
      if name[i...].hasPrefix(text) {
        return String(name[..<i]) + String(name[name.index(i, offsetBy: text.count)...])
      }
      i = name.index(after: i)
    }
    return name
  }

  /// `("00001", "00002")` for `model-00001-of-00002`.
  static func shardNumber(_ stem: String) -> (index: String, total: String)? {
    let parts = stem.split(separator: "-")
    guard parts.count >= 3, parts[parts.count - 2] == "of" else { return nil }
    let index = parts[parts.count - 3]
    let total = parts[parts.count - 1]
    guard !index.isEmpty, !total.isEmpty, index.allSatisfy(\.isNumber), total.allSatisfy(\.isNumber)
    else { return nil }
    return (String(index), String(total))
  }
}
