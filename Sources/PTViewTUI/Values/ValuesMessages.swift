public import PTViewValues

/// Consecutive elements of a tensor in logical (row-major) order: `t.reshape(-1)[from:][:count]`.
/// A grid window is one run per visible row, so scrolling reads only what is on screen.
public struct ValueRun: Hashable, Sendable {
  /// The first element's flat index.
  public var from: Int64
  /// How many elements.
  public var count: Int

  /// A run of `count` elements from `from`.
  public init(from: Int64, count: Int) {
    self.from = from
    self.count = count
  }
}

/// What the values pane and the full-file check ask the shell to read. Every answer comes back
/// as `Message.values` tagged with the request's generation; the model drops answers for a
/// generation it has moved past, so a slow answer never lands on the wrong tensor.
public enum ValuesRequest: Hashable, Sendable {
  /// Start on tensor `entry` (an index into `Tree.entries`): stop any earlier inspection,
  /// read `window` at once, then the statistics and the histogram (`bins` bins) in the
  /// background, with progress.
  case inspect(generation: Int, entry: Int32, window: [ValueRun], bins: Int)
  /// Read another window of the tensor being inspected (the grid scrolled or resized).
  case window(generation: Int, entry: Int32, window: [ValueRun])
  /// Stop the inspection: the pane closed or the selection is not a tensor.
  case stop
  /// Count NaN and Inf in every tensor, in the background, with progress.
  case checkAll(generation: Int)
  /// Stop the full-file check.
  case stopCheck
}

/// Which tensors of the file hold NaN or Inf, as the full-file check found them.
public struct ValueCheckResult: Sendable, Hashable {
  /// Per tensor entry that holds a NaN: true; Inf only: false. Entries holding neither are
  /// absent.
  public var nonFinite: [Int32: Bool]
  /// Entries whose values could not be read, and why (meta, sparse, unreadable records).
  public var unreadable: [Int32: String]
  /// Tensors whose values were read.
  public var checked: Int

  /// A result.
  public init(nonFinite: [Int32: Bool], unreadable: [Int32: String], checked: Int) {
    self.nonFinite = nonFinite
    self.unreadable = unreadable
    self.checked = checked
  }
}

/// An answer from the shell to a `ValuesRequest`. Compared by identity (it carries element
/// values, which are not hashable): each answer is one message.
public final class ValuesReply: Hashable, Sendable {
  /// What arrived.
  public enum Content: Sendable {
    /// The tensor has no values to read, and why (meta, sparse, packed, a missing record).
    case unavailable(String)
    /// Reading failed (a truncated record): the one-line error.
    case failed(String)
    /// The tensor has statistics but no grid, and why (a sparse tensor's values are not its
    /// elements; a nested tensor has no single shape).
    case noGrid(String)
    /// The elements of `runs`, one array per run.
    case window(runs: [ValueRun], values: [[ElementValue]])
    /// Bytes of the statistics pass read so far.
    case progress(done: Int64, total: Int64)
    /// The statistics, as `ptview stats` computes them.
    case statistics(ValueStatistics)
    /// The histogram of the finite values over min...max.
    case histogram(ValueHistogram)
    /// Bytes the full-file check has read so far.
    case checkProgress(done: Int64, total: Int64)
    /// The full-file check finished.
    case checked(ValueCheckResult)
  }

  /// The generation of the request it answers (the pane's, or the check's).
  public let generation: Int
  /// What arrived.
  public let content: Content

  /// An answer to the request of `generation`.
  public init(generation: Int, _ content: Content) {
    self.generation = generation
    self.content = content
  }

  public static func == (a: ValuesReply, b: ValuesReply) -> Bool { a === b }
  public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}
