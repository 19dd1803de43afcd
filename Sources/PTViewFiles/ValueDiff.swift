public import PTViewCore
import PTViewValues

/// Fills in the value comparisons of a `DiffReport`: the one place `ptview diff` and its
/// explorer view (and their tests) get value changes from.
public struct ValueDiff {
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
  /// `progress(done, total)` counts the bytes of the plain tensors read from both files.
  public func fill(_ report: inout DiffReport, progress: (Int64, Int64) -> Void = { _, _ in })
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
    let size = { (pair: (row: Int, a: StoredTensor, b: StoredTensor)) -> Int64 in
      (pair.a.layout.count ?? 0).multipliedReportingOverflow(
        by: Int64(pair.a.encoding.byteWidth + pair.b.encoding.byteWidth)
      ).partialValue
    }
    let total = pairs.reduce(Int64(0)) { $0.addingSaturated(size($1)) }
    var before: Int64 = 0
    for pair in pairs {
      let outcome = try a.compare(pair.a, with: pair.b, in: b) { done in
        progress(min(before.addingSaturated(done), total), total)
      }
      before = before.addingSaturated(size(pair))
      report.setValues(pair.row, changed: outcome.changed, maxAbsDiff: outcome.maxAbsDiff)
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
