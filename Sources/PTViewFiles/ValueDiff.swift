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
    // Jobs of at most `jobElements` elements on `workers` threads; each row's parts merge by
    // max, so the result does not depend on the scheduling.
    var total: Int64 = 0
    for pair in pairs {
      let count = pair.a.layout.count ?? 0
      let width = Int64(pair.a.encoding.byteWidth + pair.b.encoding.byteWidth)
      total = total.addingSaturated(count.multipliedReportingOverflow(by: width).partialValue)
    }
    let parallel = ParallelJobs(
      counts: pairs.map { $0.a.layout.count ?? 0 }, size: jobElements)
    // Progress never passes 100% (the estimate counts elements, the reads whole pieces).
    let estimate = total
    var bytes: (@Sendable (Int64) -> Void)?
    if let progress { bytes = { done in progress(min(done, estimate), estimate) } }
    let (a, b) = (self.a, self.b)
    let results = parallel.run(workers: workers, empty: ValueComparison(), progress: bytes) {
      job, report in
      let pair = pairs[job.item]
      var reported: Int64 = 0
      return Result { () throws(ComparisonFailure) in
        try a.compare(pair.a, with: pair.b, in: b, from: job.from, to: job.to) { done in
          report(done - reported)
          reported = done
        }
      }
    }
    var outcomes = [ValueComparison](repeating: ValueComparison(), count: pairs.count)
    for (job, result) in zip(parallel.jobs, results) {
      switch result {
      case .success(let part): outcomes[job.item].merge(part)
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
