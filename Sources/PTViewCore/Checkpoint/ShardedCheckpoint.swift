/// A checkpoint folder read as one checkpoint: its torch files' pickles, the index, and the
/// merged list of tensors, each carrying the file it lives in.
///
/// Not one fake pickle: every file keeps its own `Checkpoint` (its graph, its storages, its
/// zip directory), so each verb works per file where files are separate on disk (values are
/// read from the right file, a remap writes each shard as it writes one file) and merged
/// where the user sees one model (`ls`, `info`, the explorer's rows). Built from what the
/// shell read; no I/O here.
public struct ShardedCheckpoint: Sendable {
  /// One file of the folder.
  public struct Member: Sendable {
    /// Its name and role.
    public var file: FolderLayout.File
    /// Its size in bytes.
    public var size: Int64
    /// Its pickles, for files read as torch files.
    public var checkpoint: Checkpoint?
    /// Why it holds no tensors here (not read yet, unreadable), or nil.
    public var problem: String?

    /// Creates a member.
    public init(file: FolderLayout.File, size: Int64, checkpoint: Checkpoint?, problem: String?) {
      self.file = file
      self.size = size
      self.checkpoint = checkpoint
      self.problem = problem
    }
  }

  /// What the folder is.
  public var layout: FolderLayout
  /// The shard index, when the folder has one.
  public var index: ShardIndex?
  /// Every file, in name order.
  public var members: [Member]
  /// Every tensor of every read file, file by file, each with `file` set.
  public var entries: [TensorEntry]
  /// Where the index and the shards disagree.
  public var findings: [ShardIndex.Finding]

  /// Merges what was read. `listings`: the index's `listings()`, when already built.
  public init(
    layout: FolderLayout, index: ShardIndex?, members: [Member],
    listings: ShardIndex.Listings? = nil
  ) {
    self.layout = layout
    self.index = index
    self.members = members
    var entries: [TensorEntry] = []
    entries.reserveCapacity(members.reduce(0) { $0 + ($1.checkpoint?.entries.count ?? 0) })
    // Each weights file's keys as its rows list them, for the index check (which finds each
    // row's listing by one lookup, so no set of keys is built per shard), taken in the same
    // pass that gives every row its file.
    var held: [(shard: String, keys: [String])] = []
    for member in members {
      guard let checkpoint = member.checkpoint else { continue }
      let name = member.file.name
      let weights = index != nil && member.file.isWeights
      var keys: [String] = []
      if weights { keys.reserveCapacity(checkpoint.entries.count) }
      for var entry in checkpoint.entries {
        if weights && entry.inStateDict { keys.append(entry.key) }
        entry.file = name
        entries.append(entry)
      }
      if weights { held.append((name, keys)) }
    }
    self.entries = entries
    if let index {
      findings = index.check(
        held: held, present: Set(members.map(\.file.name)), listings: listings)
    } else {
      findings = []
    }
  }

  /// The members read as torch files, with their checkpoints.
  public var readMembers: [(member: Member, checkpoint: Checkpoint)] {
    members.compactMap { m in m.checkpoint.map { (m, $0) } }
  }
}
