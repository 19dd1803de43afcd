/// What differs between the tensors of two checkpoints, key by key: the model behind
/// `ptview diff`'s JSON, its table and its explorer view. Building it from the two tensor
/// lists compares metadata only; value comparisons (which read the files) are filled in by
/// the caller for the rows `needsValues` names.
public struct DiffReport: Sendable, Equatable {
  /// What changed about a tensor present in both files, in the order they are listed.
  public enum Change: String, Sendable, CaseIterable {
    case dtype, shape, device, values
  }

  /// How a key compares.
  public enum Status: Sendable, Equatable {
    case onlyA, onlyB, changed, same
  }

  /// One key of either file.
  public struct Row: Sendable, Equatable {
    /// The dotted key (`ptview ls`).
    public var key: String
    /// The tensor in A and in B (nil where the key is missing).
    public var a: TensorInfo?
    public var b: TensorInfo?
    /// What changed (empty for unchanged and one-sided keys).
    public var changes: [Change] = []
    /// The largest float64 `|a - b|` over the elements when values changed; NaN when an
    /// element is NaN on one side only; nil when values were not compared or are equal.
    public var maxAbsDiff: Double?
    /// Why values were not compared although both sides have the key and shape (no values to
    /// read on one side), for the table; nil otherwise.
    public var note: String?

    public var status: Status {
      if a == nil { return .onlyB }
      if b == nil { return .onlyA }
      return changes.isEmpty ? .same : .changed
    }
  }

  /// Every key: A's in A's order, then those only in B in B's order.
  public var rows: [Row]

  /// Compares the keys and metadata of `a` and `b` (the first tensor of each key counts).
  public init(a: [TensorEntry], b: [TensorEntry]) {
    var inB: [String: TensorInfo] = [:]
    for entry in b where inB[entry.key] == nil { inB[entry.key] = entry.tensor }
    var seen = Set<String>()
    rows = []
    for entry in a where seen.insert(entry.key).inserted {
      var row = Row(key: entry.key, a: entry.tensor, b: inB[entry.key])
      if let other = row.b {
        let mine = entry.tensor
        if mine.dtype != other.dtype { row.changes.append(.dtype) }
        if mine.shape != other.shape { row.changes.append(.shape) }
        if mine.device != other.device { row.changes.append(.device) }
      }
      rows.append(row)
    }
    for entry in b where seen.insert(entry.key).inserted {
      rows.append(Row(key: entry.key, a: nil, b: entry.tensor))
    }
  }

  /// Indices of the rows whose values must be compared: present in both, same shape.
  public var needsValues: [Int] {
    rows.indices.filter { i in
      guard let a = rows[i].a, let b = rows[i].b else { return false }
      return a.shape == b.shape
    }
  }

  /// Records the outcome of comparing row `index`'s values: `changed` with its largest
  /// absolute difference (NaN for an element NaN on one side only).
  public mutating func setValues(_ index: Int, changed: Bool, maxAbsDiff: Double) {
    guard changed else { return }
    rows[index].changes.append(.values)
    rows[index].maxAbsDiff = maxAbsDiff
  }

  /// Records that row `index`'s values changed by an amount not measured (sparse and nested
  /// tensors, compared by their parts).
  public mutating func setValuesChanged(_ index: Int) {
    rows[index].changes.append(.values)
    rows[index].maxAbsDiff = nil
  }

  /// Keys only in A, only in B, changed, and the number of unchanged ones.
  public var onlyA: [String] { rows.filter { $0.status == .onlyA }.map(\.key) }
  public var onlyB: [String] { rows.filter { $0.status == .onlyB }.map(\.key) }
  public var changed: [Row] { rows.filter { $0.status == .changed } }
  public var identicalCount: Int { rows.filter { $0.status == .same }.count }
  /// Whether the files hold the same tensors with the same values.
  public var isIdentical: Bool { rows.allSatisfy { $0.status == .same } }

  /// `{"only_a": [...], "only_b": [...], "changed": [{"key", "changes", "max_abs_diff"}],
  /// "identical": N}`; `max_abs_diff` is null when values did not change or an element is NaN
  /// on one side only (JSON has no NaN), `1e999` when infinite.
  public var json: String {
    func list(_ keys: [String]) -> String {
      "[" + keys.map(JSONWriter.quoted).joined(separator: ",") + "]"
    }
    var out = "{\"only_a\":" + list(onlyA) + ",\"only_b\":" + list(onlyB) + ",\"changed\":["
    out += changed.map { row in
      "{\"key\":" + JSONWriter.quoted(row.key) + ",\"changes\":"
        + list(row.changes.map(\.rawValue)) + ",\"max_abs_diff\":"
        + Self.jsonNumber(row.maxAbsDiff) + "}"
    }.joined(separator: ",")
    return out + "],\"identical\":\(identicalCount)}\n"
  }

  static func jsonNumber(_ value: Double?) -> String {
    guard let value, !value.isNaN else { return "null" }
    if value.isInfinite { return value > 0 ? "1e999" : "-1e999" }
    return value.description
  }

  /// What changed about a row, for people: `dtype float32 -> float16, values (max |a-b| 0.5)`.
  public static func describe(_ row: Row) -> String {
    guard let a = row.a, let b = row.b else { return "" }
    var parts: [String] = []
    for change in row.changes {
      switch change {
      case .dtype: parts.append("dtype \(a.dtype.name) -> \(b.dtype.name)")
      case .shape:
        parts.append("shape \(Format.shape(a.shape)) -> \(Format.shape(b.shape))")
      case .device: parts.append("device \(a.device) -> \(b.device)")
      case .values:
        parts.append(
          row.maxAbsDiff.map { "values (max |a-b| \(difference($0)))" } ?? "values")
      }
    }
    if let note = row.note { parts.append(note) }
    return parts.joined(separator: ", ")
  }

  /// A difference in about 4 significant digits (`nan` when NaN met a number).
  public static func difference(_ value: Double?) -> String {
    guard let value else { return "-" }
    if value.isNaN { return "nan" }
    if value.isInfinite { return "inf" }
    if value == 0 { return "0" }
    if value >= 1e-3 && value < 1e5 {
      var digits = 4
      var m = value
      while m >= 10 && digits > 0 {
        m /= 10
        digits -= 1
      }
      var text = Format.fixed(value, digits: digits)
      while text.contains(".") && text.hasSuffix("0") { text.removeLast() }
      if text.hasSuffix(".") { text.removeLast() }
      return text
    }
    var exponent = 0
    var mantissa = value
    while mantissa >= 10 {
      mantissa /= 10
      exponent += 1
    }
    while mantissa < 1 {
      mantissa *= 10
      exponent -= 1
    }
    var text = Format.fixed(mantissa, digits: 3)
    if text.hasPrefix("10.") {
      text = "1.000"
      exponent += 1
    }
    return text + "e" + (exponent < 0 ? "-" : "+") + (abs(exponent) < 10 ? "0" : "")
      + String(abs(exponent))
  }

  /// The table for people: one line per key that differs, marked `-` (only in A), `+` (only
  /// in B) or `~` (changed), then a count line.
  public func text(nameA: String, nameB: String) -> String {
    var out = ""
    let width = rows.filter { $0.status != .same }.map { $0.key.count }.max() ?? 0
    for row in rows where row.status != .same {
      let pad = String(repeating: " ", count: width - row.key.count)
      switch row.status {
      case .onlyA: out += "- \(row.key)\(pad)  only in A\n"
      case .onlyB: out += "+ \(row.key)\(pad)  only in B\n"
      case .changed: out += "~ \(row.key)\(pad)  \(Self.describe(row))\n"
      case .same: break
      }
    }
    let notes = rows.filter { $0.status == .same && $0.note != nil }
    for row in notes { out += "  \(row.key): \(row.note ?? "")\n" }
    if isIdentical {
      out +=
        "identical: \(rows.count) tensor\(rows.count == 1 ? "" : "s") (A \(nameA), B \(nameB))\n"
    } else {
      out +=
        "A \(nameA), B \(nameB): \(onlyA.count) only in A, \(onlyB.count) only in B, \(changed.count) changed, \(identicalCount) identical\n"
    }
    return out
  }
}
