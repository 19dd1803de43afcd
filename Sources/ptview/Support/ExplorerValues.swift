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
  /// One file the tensors are read from: the opened file, or a shard of a folder.
  struct Part: @unchecked Sendable {
    var checkpoint: Checkpoint
    var source: any ByteSource
    /// The index of its first entry among the explorer's entries (shards are merged one
    /// after the other).
    var base: Int32
    /// Its path (a folder's file), for the scan.
    var path = ""
    /// Per entry of `checkpoint`, the explorer's entry it is (-1: none), when they are not
    /// the run from `base` on: a DCP folder's rows follow its `.metadata`, the assembled
    /// archive nests its tensors as torch does, so the two are matched by key.
    var explorerEntries: [Int32]? = nil

    /// The explorer's entry of `local` (-1 when it has none).
    func explorerEntry(_ local: Int) -> Int32 {
      if let explorerEntries { return local < explorerEntries.count ? explorerEntries[local] : -1 }
      return base + Int32(local)
    }
  }

  let parts: [Part]
  /// The explorer's entries, for the rows a folder has without a file to read (DCP).
  let entryCount: Int
  /// Why rows without a part have no values (a DCP folder), shown in the pane.
  let noPart: String
  /// The readers of the loop's thread, one per part: windows and locating (their record
  /// offsets are cached unlocked, so background jobs only read through them, or use their own).
  private let readers: [TensorValues]
  let mailbox = ValuesMailbox()
  private var inspection: CancellationFlag?
  private var check: CancellationFlag?
  /// Explorer entry -> part and local entry, for parts matched by key (nil: every part is
  /// a run of entries from its `base`).
  private let mapped: [Int32: (part: Int, local: Int)]?
  /// The located tensor of the current inspection, for windows.
  private var current: (generation: Int, entry: Int32, part: Int, stored: StoredTensor)?

  convenience init(checkpoint: Checkpoint, source: any ByteSource) {
    self.init(
      parts: [Part(checkpoint: checkpoint, source: source, base: 0)],
      entryCount: checkpoint.entries.count, noPart: "")
  }

  init(parts: [Part], entryCount: Int, noPart: String) {
    self.parts = parts
    self.entryCount = entryCount
    self.noPart = noPart
    readers = parts.map { TensorValues(checkpoint: $0.checkpoint, source: $0.source) }
    if parts.contains(where: { $0.explorerEntries != nil }) {
      var map: [Int32: (part: Int, local: Int)] = [:]
      for (p, part) in parts.enumerated() {
        for local in part.checkpoint.entries.indices {
          let e = part.explorerEntry(local)
          if e >= 0, map[e] == nil { map[e] = (p, local) }
        }
      }
      mapped = map
    } else {
      mapped = nil
    }
  }

  /// The part and the local entry of explorer entry `entry`.
  func locate(_ entry: Int32) -> (part: Int, local: Int)? {
    guard entry >= 0 else { return nil }
    if let mapped { return mapped[entry] }
    for p in parts.indices.reversed() where parts[p].base <= entry {
      let local = Int(entry - parts[p].base)
      return local < parts[p].checkpoint.entries.count ? (p, local) : nil
    }
    return nil
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
      send(reply(generation, read(window, of: current.stored, part: current.part)))
    case .stop:
      inspection?.raise()
      inspection = nil
      current = nil
    case .checkAll(let generation):
      check?.raise()
      let flag = CancellationFlag()
      check = flag
      let job = ValueCheckJob(
        parts: parts, entryCount: entryCount, noPart: noPart, mailbox: mailbox)
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
    guard let (p, local) = locate(entry) else {
      if entry >= 0 && Int(entry) < entryCount && !noPart.isEmpty {
        send(reply(generation, .unavailable(noPart)))
      }
      return
    }
    let checkpoint = parts[p].checkpoint
    let source = parts[p].source
    let reader = readers[p]
    let tensor = checkpoint.entries[local].tensor
    let flag = CancellationFlag()
    let mailbox = self.mailbox
    do {
      switch try reader.locate(tensor) {
      case .stored(let stored):
        current = (generation, entry, p, stored)
        send(reply(generation, read(window, of: stored, part: p)))
        inspection = flag
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
  private func read(_ window: [ValueRun], of stored: StoredTensor, part: Int)
    -> ValuesReply.Content
  {
    var values: [[ElementValue]] = []
    do {
      for run in window {
        values.append(try readers[part].values(of: stored, from: run.from, count: run.count))
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

/// `V`: statistics of every tensor (each storage view once), NaN and Inf per entry, part
/// after part (the shards of a folder one by one, progress over all of them).
private struct ValueCheckJob: Sendable {
  let parts: [ExplorerValues.Part]
  let entryCount: Int
  let noPart: String
  let mailbox: ValuesMailbox

  func run(generation: Int, cancel: CancellationFlag) {
    var unreadable: [Int32: String] = [:]
    // Per part: a reader of its own (locating caches record offsets without a lock), the
    // tensors to read, and each entry's slot among them.
    var plans: [(reader: TensorValues, stored: [StoredTensor], slotOf: [Int32: Int])] = []
    var covered = 0
    for part in parts {
      let reader = TensorValues(checkpoint: part.checkpoint, source: part.source)
      var stored: [StoredTensor] = []
      var slotOf: [Int32: Int] = [:]
      var byNode: [Int32: Int] = [:]
      for (index, entry) in part.checkpoint.entries.enumerated() {
        let e = part.explorerEntry(index)
        guard e >= 0 else { continue }
        covered += 1
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
      plans.append((reader, stored, slotOf))
    }
    if covered < entryCount && !noPart.isEmpty {
      // Rows with no file to read (a DCP folder's tensors).
      for e in 0..<entryCount {
        let e32 = Int32(e)
        if unreadable[e32] == nil && !plans.contains(where: { $0.slotOf[e32] != nil }) {
          unreadable[e32] = noPart
        }
      }
    }
    func bytes(_ tensors: [StoredTensor]) -> Int64 {
      tensors.reduce(Int64(0)) { sum, tensor in
        let (s, overflow) = sum.addingReportingOverflow(
          (tensor.layout.orderFree().layout.count ?? 0) * Int64(tensor.encoding.byteWidth))
        return overflow ? .max : s
      }
    }
    let total = plans.reduce(Int64(0)) { $0.addingSaturated(bytes($1.stored)) }
    let throttle = ProgressThrottle()
    let mailbox = self.mailbox
    var before: Int64 = 0
    var nonFinite: [Int32: Bool] = [:]
    var checked = 0
    do {
      for plan in plans {
        let offset = before
        let statistics = try plan.reader.statistics(
          of: plan.stored, workers: 2,
          progress: { done in
            let all = min(offset.addingSaturated(done), total)
            if throttle.shouldReport(all, total) {
              mailbox.post(
                ValuesReply(generation: generation, .checkProgress(done: all, total: total)),
                replacingProgress: true)
            }
          }, cancel: cancel)
        guard !cancel.isRaised else { return }
        before = before.addingSaturated(bytes(plan.stored))
        for (entry, slot) in plan.slotOf {
          let s = statistics[slot]
          if s.nan > 0 {
            nonFinite[entry] = true
          } else if s.posinf > 0 || s.neginf > 0 {
            nonFinite[entry] = false
          }
        }
        checked += plan.slotOf.count
      }
      mailbox.post(
        ValuesReply(
          generation: generation,
          .checked(
            ValueCheckResult(nonFinite: nonFinite, unreadable: unreadable, checked: checked))))
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
