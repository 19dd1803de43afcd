/// A tensor's values as they sit in a file: which bytes hold its storage, how its elements are
/// laid out there and how each one decodes. Everything a reader needs, nothing it must open.
public struct StoredTensor: Sendable, Equatable {
  /// The record holding the storage (`data/0`; the key for legacy files), for messages.
  public var record: String
  /// File offset of the storage's element 0.
  public var dataOffset: Int64
  /// Elements the storage holds (what the record really has, not what the pickle claims).
  public var storageElements: Int64
  /// Where the tensor's elements are in the storage.
  public var layout: StridedLayout
  /// How each element decodes.
  public var encoding: ValueEncoding
  /// Whether the record is big-endian (the archive's `byteorder` record says `big`).
  public var bigEndian: Bool
  /// torch's negative bit: the values are the stored ones negated.
  public var negated: Bool
  /// torch's conjugate bit: complex values are the stored ones conjugated.
  public var conjugated: Bool

  /// Describes a stored tensor.
  public init(
    record: String, dataOffset: Int64, storageElements: Int64, layout: StridedLayout,
    encoding: ValueEncoding, bigEndian: Bool, negated: Bool = false, conjugated: Bool = false
  ) {
    self.conjugated = conjugated
    self.record = record
    self.dataOffset = dataOffset
    self.storageElements = storageElements
    self.layout = layout
    self.encoding = encoding
    self.bigEndian = bigEndian
    self.negated = negated
  }
}

/// One read of a storage: `byteCount` bytes from `byteOffset` (relative to the storage's
/// element 0), and the element runs inside them.
public struct ReadPiece: Sendable, Equatable {
  /// First byte, relative to the storage.
  public var byteOffset: Int64
  /// Bytes to read.
  public var byteCount: Int
  /// The runs the piece holds, in logical order.
  public var runs: [PieceRun]
}

/// Elements inside a read piece: the first at byte `firstByte` of the piece, then every
/// `step` elements (0: the same element again).
public struct PieceRun: Sendable, Equatable {
  /// Byte of the first element within the piece.
  public var firstByte: Int
  /// Number of elements.
  public var count: Int
  /// Distance between elements, in elements.
  public var step: Int
  /// Row-major index of the first element in the tensor.
  public var logicalStart: Int64

  /// Creates a run.
  public init(firstByte: Int, count: Int, step: Int, logicalStart: Int64) {
    self.firstByte = firstByte
    self.count = count
    self.step = step
    self.logicalStart = logicalStart
  }
}

/// Groups element runs into reads of at most `pieceSize` bytes, in order: a run that starts
/// within `maxGap` bytes after the current piece (and fits in it) joins it, a longer run is
/// split, anything else starts a new piece. Reading a small gap costs less than another
/// system call; reading a big one costs more.
public struct ReadPlanner: Sendable {
  /// Bytes per element.
  public let width: Int
  /// Largest read.
  public let pieceSize: Int
  /// Largest gap of unused bytes read to join two runs into one piece.
  public let maxGap: Int
  /// Most runs in one piece (a heavily overlapping view would pile up runs on few bytes).
  public let maxRuns: Int
  private var pending: ReadPiece?

  /// A planner for elements of `width` bytes.
  public init(width: Int, pieceSize: Int = 256 << 10, maxGap: Int = 4096, maxRuns: Int = 8192) {
    self.width = width
    self.pieceSize = max(pieceSize, width)
    self.maxGap = maxGap
    self.maxRuns = maxRuns
  }

  /// Adds a run; calls `emit` for each piece that is complete.
  public mutating func add<E: Error>(
    _ run: ElementRun, emit: (ReadPiece) throws(E) -> Void
  ) throws(E) {
    guard run.count > 0 else { return }
    if run.step == 0 {
      try place(
        start: run.start, count: run.count, step: 0, logical: run.logicalStart, emit: emit)
      return
    }
    // Elements per sub-run so that one sub-run spans at most a piece.
    let perPiece = Int64((pieceSize / width - 1)) / run.step + 1
    var done: Int64 = 0
    while done < run.count {
      let n = min(perPiece, run.count - done)
      try place(
        start: run.start + done * run.step, count: n, step: run.step,
        logical: run.logicalStart + done, emit: emit)
      done += n
    }
  }

  /// Emits the last piece.
  public mutating func finish<E: Error>(emit: (ReadPiece) throws(E) -> Void) throws(E) {
    if let piece = pending { try emit(piece) }
    pending = nil
  }

  private mutating func place<E: Error>(
    start: Int64, count: Int64, step: Int64, logical: Int64, emit: (ReadPiece) throws(E) -> Void
  ) throws(E) {
    let first = start * Int64(width)
    let end = (start + (step == 0 ? 0 : (count - 1) * step) + 1) * Int64(width)
    if var piece = pending {
      let pieceEnd = piece.byteOffset + Int64(piece.byteCount)
      if first >= piece.byteOffset, first <= pieceEnd + Int64(maxGap),
        end - piece.byteOffset <= Int64(pieceSize), piece.runs.count < maxRuns
      {
        piece.byteCount = Int(max(pieceEnd, end) - piece.byteOffset)
        piece.runs.append(
          PieceRun(
            firstByte: Int(first - piece.byteOffset), count: Int(count), step: Int(step),
            logicalStart: logical))
        pending = piece
        return
      }
      try emit(piece)
    }
    pending = ReadPiece(
      byteOffset: first, byteCount: Int(end - first),
      runs: [PieceRun(firstByte: 0, count: Int(count), step: Int(step), logicalStart: logical)])
  }
}
