public import PTViewCore
public import PTViewEdit
import PTViewJudge

/// What the shell found at an output path.
public enum OutputStatus: Hashable, Sendable {
  /// Nothing there: write.
  case free
  /// A file is there: ask before replacing it.
  case exists
  /// It is the input file (same real path): refuse.
  case isInput
  /// It is a folder: refuse.
  case isDirectory
  /// Its folder does not exist: refuse.
  case missingFolder
}

/// The result of a write.
public enum WriteResult: Hashable, Sendable {
  /// Written and verified: the writer's one-line summary and the path.
  case saved(summary: String, path: String)
  /// Not written: why.
  case failed(String)
}

/// Everything `update` reacts to: input from the backend and replies from the shell.
public enum Message: Hashable, Sendable {
  /// A key.
  case key(KeyEvent)
  /// The terminal changed size.
  case resize(Size)
  /// A mouse event.
  case mouse(MouseEvent)
  /// The shell looked at an output path (reply to `Effect.checkOutput`).
  case outputChecked(path: String, OutputStatus)
  /// The writer reports progress.
  case writeProgress(done: Int64, total: Int64)
  /// The writer finished (reply to `Effect.write`).
  case writeFinished(WriteResult)
  /// The safety scan and the load prediction, made while the first screen was already up.
  case assessed(AssessmentDelivery)
  /// An answer to a `ValuesRequest` (the values pane's or the full-file check's).
  case values(ValuesReply)
}

/// A request to write the staged edits.
public struct WriteRequest: Hashable, Sendable {
  /// Output path.
  public var path: String
  /// The staged operations, device moves included: the shell plans them with the same
  /// planner (`EditPipeline.plan`) and writes the plan's edits.
  public var operations: [EditOperation]
  /// Whether replacing an existing file was confirmed.
  public var overwrite: Bool
}

/// Work that `update` asks the shell to do: the only way the pure core reaches the world.
public enum Effect: Hashable, Sendable {
  /// Look at an output path and reply with `Message.outputChecked`.
  case checkOutput(path: String)
  /// Write, reporting `Message.writeProgress` and replying with `Message.writeFinished`.
  case write(WriteRequest)
  /// Read values for the values pane or the full-file check; answers come as
  /// `Message.values`, some of them later, from the background.
  case values(ValuesRequest)
  /// Leave the explorer.
  case quit
}

/// The safety scan and the load prediction for the opened checkpoint, delivered to the loop
/// once the shell has made them. They take about as long as reading the file again, so the
/// explorer shows its first screen first and marks the tree when they arrive. Compared by
/// identity: one delivery per file.
public final class AssessmentDelivery: Hashable, Sendable {
  /// The checkpoint the explorer shows.
  public let checkpoint: Checkpoint
  /// What the scan and the doctor said (a folder: its worst file's verdicts).
  public let assessment: Assessment
  /// A folder's: each shard's own assessment, in the order of `FolderShards.shards` (nil
  /// where a shard was not assessed).
  public let shards: [Assessment?]?

  /// Wraps an assessment of `checkpoint`.
  public init(checkpoint: Checkpoint, assessment: Assessment, shards: [Assessment?]? = nil) {
    self.checkpoint = checkpoint
    self.assessment = assessment
    self.shards = shards
  }

  public static func == (a: AssessmentDelivery, b: AssessmentDelivery) -> Bool { a === b }
  public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}
