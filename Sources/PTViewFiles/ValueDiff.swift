import Dispatch
public import PTViewCore
import PTViewValues

#if canImport(Glibc)
  import Glibc
#endif

/// Fills in the value comparisons of a `DiffReport`: the one place `ptview diff` and its
/// explorer view (and their tests) get value changes from.
public struct ValueDiff {
  /// Elements per job when comparisons are split between cores.
  public var jobElements: Int64 = 4 << 20
  /// Worker threads.
  public var workers = 2
  /// Reader of the first file.
  public let a: TensorValues
  /// Reader of the second file.
  public let b: TensorValues

  public init(a: TensorValues, b: TensorValues) {
    self.a = a
    self.b = b
  }

  /// Compares the values of every row `report.needsValues` names. Plain tensors stream their
  /// elements (`TensorValues.compare`); sparse and nested tensors of one layout compare their
  /// parts, dtypes torch computes nothing with their bits (a change without a max |a-b|);
  /// meta tensors have nothing to compare; anything else gets a note saying why not.
  /// `progress(done, total)` counts the bytes of the plain tensors read from both files; it is
  /// called from the worker threads, never concurrently.
  public func fill(
    _ report: inout DiffReport, progress: (@Sendable (Int64, Int64) -> Void)? = nil
  )
    throws(ComparisonFailure)
  {
    var pairs: [(row: Int, a: StoredTensor, b: StoredTensor)] = []
    for index in report.needsValues {
      guard let x = report.rows[index].a, let y = report.rows[index].b else { continue }
      switch (try locate(x, inB: false), try locate(y, inB: true)) {
      case (.stored(let storedA), .stored(let storedB)):
        pairs.append((index, storedA, storedB))
      case (.none(let reason), _), (_, .none(let reason)):
        if Self.isMeta(x) && Self.isMeta(y) { continue }  // no values on either side
        var changed = try compareParts(x, y)
        if changed == nil { changed = try compareBits(x, y) }
        if let changed {
          if changed { report.setValuesChanged(index) }
        } else {
          report.rows[index].note = "values not compared: \(reason)"
        }
      }
    }
    // Jobs of at most `jobElements` elements, shared by two workers (the reads are preads
    // and the comparisons pure, so threads need no more than a job counter); each row's parts
    // merge by max, so the result does not depend on the scheduling.
    struct Job {
      var pair: Int
      var from: Int64
      var to: Int64
    }
    var jobs: [Job] = []
    var total: Int64 = 0
    for (index, pair) in pairs.enumerated() {
      let count = pair.a.layout.count ?? 0
      let width = Int64(pair.a.encoding.byteWidth + pair.b.encoding.byteWidth)
      total = total.addingSaturated(count.multipliedReportingOverflow(by: width).partialValue)
      var from: Int64 = 0
      repeat {
        let to = min(count, from + jobElements)
        jobs.append(Job(pair: index, from: from, to: to))
        from = to
      } while from < count
    }
    let shared = DiffRun(jobCount: jobs.count, total: total, progress: progress)
    let results = UnsafeMutableBufferPointer<Result<ValueComparison, ComparisonFailure>>
      .allocate(capacity: jobs.count)
    results.initialize(repeating: .success(ValueComparison()))
    defer {
      _ = results.deinitialize()
      results.deallocate()
    }
    let work = { (_: Int) in
      while let index = shared.nextJob() {
        let job = jobs[index]
        let pair = pairs[job.pair]
        var reported: Int64 = 0
        results[index] = Result { () throws(ComparisonFailure) in
          try a.compare(pair.a, with: pair.b, in: b, from: job.from, to: job.to) { done in
            shared.report(done - reported)
            reported = done
          }
        }
        if case .failure = results[index] { shared.stop() }
      }
    }
    let threads = max(1, min(workers, jobs.count))
    withoutActuallyEscaping(work) { work in
      let box = DiffWorkBox(work)
      DispatchQueue.concurrentPerform(iterations: threads) { box.work($0) }
    }
    var outcomes = [ValueComparison](repeating: ValueComparison(), count: pairs.count)
    for (index, job) in jobs.enumerated() {
      switch results[index] {
      case .success(let part): outcomes[job.pair].merge(part)
      case .failure(let error): throw error
      }
    }
    for (index, pair) in pairs.enumerated() {
      report.setValues(
        pair.row, changed: outcomes[index].changed, maxAbsDiff: outcomes[index].maxAbsDiff)
    }
  }

  static func isMeta(_ tensor: TensorInfo) -> Bool {
    tensor.storage == nil && tensor.device == "meta"
  }

  private func locate(_ tensor: TensorInfo, inB: Bool) throws(ComparisonFailure)
    -> ValueAvailability
  {
    do { return try (inB ? b : a).locate(tensor) } catch {
      throw ComparisonFailure(inB: inB, error: error)
    }
  }

  /// Whether two tensors' values differ; nil when either has no values.
  private func compareLocated(_ x: TensorInfo, _ y: TensorInfo) throws(ComparisonFailure)
    -> Bool?
  {
    guard case .stored(let storedA) = try locate(x, inB: false),
      case .stored(let storedB) = try locate(y, inB: true)
    else { return nil }
    return try a.compare(storedA, with: storedB, in: b).changed
  }

  /// Sparse and nested tensors of the same layout compare by their parts (indices and values,
  /// nested buffers): whether any part differs, or nil when the parts cannot be compared.
  private func compareParts(_ x: TensorInfo, _ y: TensorInfo) throws(ComparisonFailure) -> Bool? {
    guard x.layout != nil, x.layout == y.layout, !x.components.isEmpty,
      x.components.count == y.components.count
    else { return nil }
    for (partA, partB) in zip(x.components, y.components) {
      if partA.dtype != partB.dtype || partA.shape != partB.shape { return true }
      guard let changed = try compareLocated(partA, partB) else { return nil }
      if changed { return true }
    }
    return false
  }

  /// Tensors of a dtype torch computes nothing with (bits8, float4_e2m1fn_x2, uint1..7...)
  /// compare by their bits, one unsigned integer per element: whether any differs, or nil
  /// when the dtype is packed (quint4x2) or the tensors are not stored.
  private func compareBits(_ x: TensorInfo, _ y: TensorInfo) throws(ComparisonFailure) -> Bool? {
    guard x.layout == nil, y.layout == nil, x.dtype == y.dtype, x.dtype.valuesPerByte == 1,
      ValueEncoding(torchName: x.dtype.name) == nil, !x.dtype.name.hasPrefix("q"),
      let bits = DType.named("uint\(x.dtype.elementSize * 8)")
    else { return nil }
    var rawA = x
    var rawB = y
    rawA.dtype = bits
    rawB.dtype = bits
    return try compareLocated(rawA, rawB)
  }
}

/// The state the comparison workers share: the next job, a stop flag, bytes done.
private final class DiffRun: @unchecked Sendable {
  private var lock = pthread_mutex_t()
  private var next = 0
  private let jobCount: Int
  private var stopped = false
  private var bytes: Int64 = 0
  private let total: Int64
  private let progress: (@Sendable (Int64, Int64) -> Void)?

  init(jobCount: Int, total: Int64, progress: (@Sendable (Int64, Int64) -> Void)?) {
    self.jobCount = jobCount
    self.total = total
    self.progress = progress
    pthread_mutex_init(&lock, nil)
  }

  deinit { pthread_mutex_destroy(&lock) }

  func nextJob() -> Int? {
    pthread_mutex_lock(&lock)
    defer { pthread_mutex_unlock(&lock) }
    guard !stopped, next < jobCount else { return nil }
    next += 1
    return next - 1
  }

  func stop() {
    pthread_mutex_lock(&lock)
    stopped = true
    pthread_mutex_unlock(&lock)
  }

  /// Adds bytes read and reports the total so far (calls never overlap; never past 100%).
  func report(_ more: Int64) {
    pthread_mutex_lock(&lock)
    bytes += more
    progress?(min(bytes, total), total)
    pthread_mutex_unlock(&lock)
  }
}

/// Carries the worker closure into `concurrentPerform`.
private final class DiffWorkBox: @unchecked Sendable {
  let work: (Int) -> Void
  init(_ work: @escaping (Int) -> Void) { self.work = work }
}
