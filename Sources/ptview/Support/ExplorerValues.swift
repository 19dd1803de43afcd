import Dispatch
import PTViewCore
import PTViewFiles
import PTViewPickle
import PTViewTUI
import PTViewValues

#if canImport(Glibc)
  import Glibc
#endif

/// The shell's side of the values pane and the full-file check: reads windows at once (a
/// few `pread`s), computes statistics and histograms on background threads, and posts the
/// answers to a mailbox the explorer's loop empties. Each background job has a cancellation
/// flag, raised when the pane moves on, so a pass over a huge tensor stops within one piece.
final class ExplorerValues: @unchecked Sendable {
  let checkpoint: Checkpoint
  let source: any ByteSource
  /// The reader of the loop's thread: windows and locating (its record offsets are cached
  /// unlocked, so background jobs only read through it, or use their own).
  private let reader: TensorValues
  let mailbox = ValuesMailbox()
  private var inspection: CancellationFlag?
  private var check: CancellationFlag?
  /// The located tensor of the current inspection, for windows.
  private var current: (generation: Int, entry: Int32, stored: StoredTensor)?

  init(checkpoint: Checkpoint, source: any ByteSource) {
    self.checkpoint = checkpoint
    self.source = source
    reader = TensorValues(checkpoint: checkpoint, source: source)
  }

  func run(_ request: ValuesRequest, send: (Message) -> Void) {
    switch request {
    case .inspect(let generation, let entry, let window, let bins):
      inspection?.raise()
      inspection = nil
      current = nil
      inspect(generation: generation, entry: entry, window: window, bins: bins, send: send)
    case .window(let generation, let entry, let window):
      guard let current, current.generation == generation, current.entry == entry else { return }
      send(reply(generation, read(window, of: current.stored)))
    case .stop:
      inspection?.raise()
      inspection = nil
      current = nil
    case .checkAll(let generation):
      check?.raise()
      let flag = CancellationFlag()
      check = flag
      let job = ValueCheckJob(checkpoint: checkpoint, source: source, mailbox: mailbox)
      DispatchQueue.global().async { job.run(generation: generation, cancel: flag) }
    case .stopCheck:
      check?.raise()
      check = nil
    }
  }

  private func reply(_ generation: Int, _ content: ValuesReply.Content) -> Message {
    .values(ValuesReply(generation: generation, content))
  }

  private func inspect(
    generation: Int, entry: Int32, window: [ValueRun], bins: Int, send: (Message) -> Void
  ) {
    guard entry >= 0, Int(entry) < checkpoint.entries.count else { return }
    let tensor = checkpoint.entries[Int(entry)].tensor
    let flag = CancellationFlag()
    let mailbox = self.mailbox
    do {
      switch try reader.locate(tensor) {
      case .stored(let stored):
        current = (generation, entry, stored)
        send(reply(generation, read(window, of: stored)))
        inspection = flag
        let reader = self.reader
        DispatchQueue.global().async {
          ExplorerValues.statistics(
            of: stored, implicitZeros: 0, reader: reader, generation: generation, bins: bins,
            cancel: flag, mailbox: mailbox)
        }
      case .none(let why):
        // Sparse and nested tensors have statistics (as `ptview stats` counts them), not a
        // grid. Finding their values reads a sparse tensor's indices: in the background,
        // with a reader of its own (locating caches record offsets without a lock).
        let packed = ["quint4x2", "quint2x4"].contains(tensor.dtype.name)
        guard tensor.layout != nil || packed else {
          send(reply(generation, .unavailable(why)))
          return
        }
        let grid =
          packed
          ? "\(tensor.dtype.name): statistics of the dequantized values; no grid"
          : tensor.layout == "nested"
            ? "nested tensor: statistics of its components; no grid"
            : "\(tensor.layout ?? "sparse") tensor: statistics of t.to_dense(); no grid"
        send(reply(generation, .noGrid(grid)))
        inspection = flag
        let own = TensorValues(checkpoint: checkpoint, source: source)
        DispatchQueue.global().async {
          do throws(CheckpointError) {
            switch try own.statisticsSource(tensor) {
            case .success(let found) where found.packed != nil:
              let statistics = try own.packedStatistics(found, cancel: flag)
              guard !flag.isRaised else { return }
              mailbox.post(ValuesReply(generation: generation, .statistics(statistics)))
            case .success(let found):
              ExplorerValues.statistics(
                of: found.stored, implicitZeros: found.implicitZeros, reader: own,
                generation: generation, bins: bins, cancel: flag, mailbox: mailbox)
            case .failure(let reason):
              mailbox.post(ValuesReply(generation: generation, .unavailable(reason.description)))
            }
          } catch {
            mailbox.post(ValuesReply(generation: generation, .failed(error.message)))
          }
        }
      }
    } catch {
      send(reply(generation, .failed(error.message)))
    }
  }

  /// The window's elements, or why they cannot be read.
  private func read(_ window: [ValueRun], of stored: StoredTensor) -> ValuesReply.Content {
    var values: [[ElementValue]] = []
    do {
      for run in window {
        values.append(try reader.values(of: stored, from: run.from, count: run.count))
      }
    } catch {
      return .failed(error.message)
    }
    return .window(runs: window, values: values)
  }

  /// The statistics pass, then the histogram pass, posting each result (and progress) unless
  /// the flag was raised.
  private static func statistics(
    of stored: StoredTensor, implicitZeros: Int64, reader: TensorValues, generation: Int,
    bins: Int,
    cancel: CancellationFlag, mailbox: ValuesMailbox
  ) {
    let total =
      stored.layout.orderFree().layout.count.map { $0 * Int64(stored.encoding.byteWidth) } ?? 0
    let throttle = ProgressThrottle()
    do {
      var statistics = try reader.statistics(
        of: [stored], workers: 2,
        progress: { done in
          if throttle.shouldReport(done, total) {
            mailbox.post(
              ValuesReply(generation: generation, .progress(done: min(done, total), total: total)),
              replacingProgress: true)
          }
        }, cancel: cancel)[0]
      guard !cancel.isRaised else { return }
      statistics.addImplicitZeros(implicitZeros, complex: stored.encoding.isComplex)
      mailbox.post(ValuesReply(generation: generation, .statistics(statistics)))
      guard let low = statistics.min, let high = statistics.max, !stored.encoding.isComplex
      else { return }
      var histogram = try reader.histogram(
        of: stored, low: low, high: high, bins: bins, cancel: cancel)
      histogram.addZeros(implicitZeros)
      guard !cancel.isRaised else { return }
      mailbox.post(ValuesReply(generation: generation, .histogram(histogram)))
    } catch {
      guard !cancel.isRaised else { return }
      mailbox.post(ValuesReply(generation: generation, .failed(error.message)))
    }
  }
}

/// `V`: statistics of every tensor (each storage view once), NaN and Inf per entry.
private struct ValueCheckJob: Sendable {
  let checkpoint: Checkpoint
  let source: any ByteSource
  let mailbox: ValuesMailbox

  func run(generation: Int, cancel: CancellationFlag) {
    // A reader of its own: locating caches record offsets without a lock.
    let reader = TensorValues(checkpoint: checkpoint, source: source)
    var stored: [StoredTensor] = []
    var slotOf: [Int32: Int] = [:]
    var byNode: [Int32: Int] = [:]
    var unreadable: [Int32: String] = [:]
    for (index, entry) in checkpoint.entries.enumerated() {
      let e = Int32(index)
      if let node = entry.tensor.node, let slot = byNode[node.index] {
        slotOf[e] = slot
        continue
      }
      do {
        switch try reader.statisticsSource(entry.tensor) {
        case .success(let source):
          slotOf[e] = stored.count
          if let node = entry.tensor.node { byNode[node.index] = stored.count }
          stored.append(source.stored)
        case .failure(let why):
          unreadable[e] = why.description
        }
      } catch {
        unreadable[e] = error.message
      }
    }
    let total = stored.reduce(Int64(0)) { sum, tensor in
      let (s, overflow) = sum.addingReportingOverflow(
        (tensor.layout.orderFree().layout.count ?? 0) * Int64(tensor.encoding.byteWidth))
      return overflow ? .max : s
    }
    let throttle = ProgressThrottle()
    let mailbox = self.mailbox
    do {
      let statistics = try reader.statistics(
        of: stored, workers: 2,
        progress: { done in
          if throttle.shouldReport(done, total) {
            mailbox.post(
              ValuesReply(
                generation: generation, .checkProgress(done: min(done, total), total: total)),
              replacingProgress: true)
          }
        }, cancel: cancel)
      guard !cancel.isRaised else { return }
      var nonFinite: [Int32: Bool] = [:]
      for (entry, slot) in slotOf {
        let s = statistics[slot]
        if s.nan > 0 {
          nonFinite[entry] = true
        } else if s.posinf > 0 || s.neginf > 0 {
          nonFinite[entry] = false
        }
      }
      mailbox.post(
        ValuesReply(
          generation: generation,
          .checked(
            ValueCheckResult(nonFinite: nonFinite, unreadable: unreadable, checked: slotOf.count))))
    } catch {
      guard !cancel.isRaised else { return }
      mailbox.post(ValuesReply(generation: generation, .failed(error.message)))
    }
  }
}

/// Reports progress at most once per percent.
private final class ProgressThrottle: @unchecked Sendable {
  private var last = -1

  /// Called from the statistics workers one at a time (they report under their lock).
  func shouldReport(_ done: Int64, _ total: Int64) -> Bool {
    let step = total > 0 ? Int(Double(min(done, total)) / Double(total) * 100) : 0
    guard step != last else { return false }
    last = step
    return true
  }
}

/// Answers from background jobs, in order, for the explorer's loop. A progress report
/// replaces an earlier one still waiting, so a slow loop never falls behind on progress.
final class ValuesMailbox: @unchecked Sendable {
  private var lock = pthread_mutex_t()
  private var queue: [ValuesReply] = []

  init() { pthread_mutex_init(&lock, nil) }

  func post(_ reply: ValuesReply, replacingProgress: Bool = false) {
    pthread_mutex_lock(&lock)
    defer { pthread_mutex_unlock(&lock) }
    if replacingProgress, let i = queue.firstIndex(where: { Self.sameProgress($0, reply) }) {
      queue[i] = reply
      return
    }
    queue.append(reply)
  }

  func take() -> ValuesReply? {
    pthread_mutex_lock(&lock)
    defer { pthread_mutex_unlock(&lock) }
    return queue.isEmpty ? nil : queue.removeFirst()
  }

  private static func sameProgress(_ a: ValuesReply, _ b: ValuesReply) -> Bool {
    guard a.generation == b.generation else { return false }
    switch (a.content, b.content) {
    case (.progress, .progress), (.checkProgress, .checkProgress): return true
    default: return false
    }
  }
}
