/// Number and size formatting shared by the reports and the explorer.
public enum Format {
  /// Bytes with a binary unit: `864 B`, `1.20 GiB`.
  public static func bytes(_ n: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    var value = Double(n)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
      value /= 1024
      unit += 1
    }
    if unit == 0 { return "\(n) B" }
    return fixed(value, digits: value >= 100 ? 0 : value >= 10 ? 1 : 2) + " " + units[unit]
  }

  /// A count with a metric suffix: `412`, `305.4M`, `1.2B`.
  public static func count(_ n: Int64) -> String {
    let units: [(Double, String)] = [(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")]
    for (scale, suffix) in units where Double(n) >= scale {
      let v = Double(n) / scale
      return fixed(v, digits: v >= 100 ? 0 : 1) + suffix
    }
    return String(n)
  }

  /// `value` with `digits` decimals, rounded half away from zero.
  public static func fixed(_ value: Double, digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (value * scale).rounded(.toNearestOrAwayFromZero)
    guard rounded.isFinite, abs(rounded) < 9e18 else { return String(value) }
    let whole = Int64(rounded)
    if digits == 0 { return String(whole) }
    let sign = whole < 0 ? "-" : ""
    let magnitude = abs(whole)
    let divisor = Int64(scale)
    let fraction = String(magnitude % divisor)
    return sign + String(magnitude / divisor) + "."
      + String(repeating: "0", count: digits - fraction.count) + fraction
  }

  /// `[8, 3, 3, 3]`.
  public static func shape(_ dims: [Int64]) -> String {
    "[" + dims.map(String.init).joined(separator: ", ") + "]"
  }

  /// Compact shape for tables: `[8,3,3,3]`.
  public static func compactShape(_ dims: [Int64]) -> String {
    "[" + dims.map(String.init).joined(separator: ",") + "]"
  }
}

extension Int64 {
  /// `self + other`, clamped to `Int64.max` (sizes from hostile files may be absurd; totals
  /// must not trap).
  public func addingSaturated(_ other: Int64) -> Int64 {
    let (sum, overflow) = addingReportingOverflow(other)
    return overflow ? (other > 0 ? .max : .min) : sum
  }
}
