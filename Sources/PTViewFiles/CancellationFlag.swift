public import PTViewCore
public import PTViewValues

#if canImport(Glibc)
  import Glibc
#endif

/// A flag one thread raises and readers of a long computation check between pieces: the
/// explorer raises it when the selection moves on or the pane closes, so a statistics pass
/// over a 100M-element tensor stops within one piece instead of running to its end.
public final class CancellationFlag: @unchecked Sendable {
  private var lock = pthread_mutex_t()
  private var raised = false

  /// A flag not yet raised.
  public init() { pthread_mutex_init(&lock, nil) }

  deinit { pthread_mutex_destroy(&lock) }

  /// Asks the computation to stop.
  public func raise() {
    pthread_mutex_lock(&lock)
    raised = true
    pthread_mutex_unlock(&lock)
  }

  /// Whether it was asked to stop.
  public var isRaised: Bool {
    pthread_mutex_lock(&lock)
    defer { pthread_mutex_unlock(&lock) }
    return raised
  }
}

extension TensorValues {
  /// The error a cancelled pass throws (the caller raised the flag, so it knows; the text is
  /// for logs).
  static func cancelled(_ stored: StoredTensor) -> CheckpointError {
    CheckpointError(.io, record: stored.record, "cancelled")
  }

  /// The histogram of `stored`'s finite values in `bins` equal bins over `low...high` (the
  /// minimum and maximum a statistics pass found): a second pass, on one thread, checking
  /// `cancel` at every piece.
  public func histogram(
    of stored: StoredTensor, low: Double, high: Double, bins: Int,
    cancel: CancellationFlag? = nil
  ) throws(CheckpointError) -> ValueHistogram {
    var histogram = ValueHistogram(low: low, high: high, bins: bins)
    guard !stored.encoding.isComplex else { return histogram }
    var layout = stored.layout
    var multiplicity: Int64 = 1
    if case .quantized(let d) = stored.encoding, d.axis != nil {
      // Per-channel values depend on each element's index: keep the logical order.
    } else {
      (layout, multiplicity) = stored.layout.orderFree()
    }
    let decoder = ElementDecoder(
      encoding: stored.encoding, bigEndian: stored.bigEndian, negated: stored.negated,
      conjugated: stored.conjugated, shape: stored.layout.shape)
    let block = Self.blockElements
    let buffer = UnsafeMutablePointer<Double>.allocate(capacity: block)
    defer { buffer.deallocate() }
    try forEachPiece(of: stored, layout: layout) { pointer, piece throws(CheckpointError) in
      if let cancel, cancel.isRaised { throw Self.cancelled(stored) }
      for run in piece.runs {
        if run.step == 0 && run.count > 1 {
          decoder.reals(pointer, run: run, first: 0, count: 1, into: buffer)
          var one = ValueHistogram(low: low, high: high, bins: bins)
          one.add(reals: buffer, count: 1)
          histogram.merge(one.repeated(Int64(run.count)))
          continue
        }
        var done = 0
        while done < run.count {
          let n = min(block, run.count - done)
          decoder.reals(pointer, run: run, first: done, count: n, into: buffer)
          histogram.add(reals: buffer, count: n)
          done += n
        }
      }
    }
    return histogram.repeated(multiplicity)
  }
}
