/// Dtype conversion of raw tensor bytes, bit for bit what PyTorch's CPU `tensor.to(dtype)`
/// writes for a contiguous tensor, so a checkpoint rewritten by ptview loads into the same
/// values torch would have made itself.
///
/// What torch does, measured with torch 2.15 on an AVX-512 machine (the vectors in
/// `Tests/Fixtures/cast` are its output, `Scripts/make_cast_vectors.py` the record):
/// - Rounding is to nearest even everywhere, with subnormals kept and overflow to infinity.
/// - float64 -> float16 and float64 -> bfloat16 round twice, to float32 first and then to the
///   target, because torch converts through `float`. That differs from rounding once when the
///   float64 lies just off a tie of the target (1 + 2^-8 + 2^-40 becomes bfloat16 1.0, not the
///   next value up).
/// - float32 and float64 -> bfloat16 turn every NaN into 0xFFFF; float16 and float8 ->
///   bfloat16 turn every NaN into 0x7FC0.
/// - Conversions to float16 and float64, and float16 -> float32, keep a NaN's sign and the
///   payload bits that fit and set the quiet bit (x86's F16C and SSE conversions);
///   bfloat16 -> float32 moves the bits unchanged, quiet bit or not.
///
/// torch runs a vectorized loop over most of a tensor and a scalar loop over the last few
/// elements (fewer than 16), and the two disagree on NaNs for float64 -> bfloat16 (scalar:
/// 0x7FC0) and float16 -> float32 (scalar: 0x7FFFFFFF). ptview writes the vectorized result for
/// every element: where torch's tail begins depends on its thread count, so no byte-exact
/// rule for it exists, and every non-NaN value is the same either way.
public enum FloatCast {
  /// Whether `to` is a format ptview can write (float64, float32, float16, bfloat16).
  public static func canTarget(_ to: FloatFormat) -> Bool {
    switch to {
    case .float64, .float32, .float16, .bfloat16: true
    case .float8_e4m3fn, .float8_e5m2, .float8_e4m3fnuz, .float8_e5m2fnuz, .float8_e8m0fnu:
      false
    }
  }

  /// Converts `count` elements. `source` holds count*from.byteWidth bytes, `destination` has room
  /// for count*to.byteWidth bytes. `bigEndian` says the byte order of BOTH buffers (torch files
  /// record a byteorder; big-endian files exist). Must be fast: this runs over gigabytes.
  ///
  /// The buffers must not overlap. Same-format conversion is a copy. Traps when `to` cannot be
  /// targeted or a buffer is too small.
  public static func convert(
    _ source: UnsafeRawBufferPointer, from: FloatFormat,
    into destination: UnsafeMutableRawBufferPointer, to: FloatFormat, count: Int, bigEndian: Bool
  ) {
    precondition(canTarget(to), "FloatCast cannot write \(to.rawValue)")
    precondition(count >= 0, "FloatCast: negative count \(count)")
    precondition(
      source.count / from.byteWidth >= count,
      "FloatCast: source holds \(source.count) bytes, fewer than \(count) \(from.rawValue)")
    precondition(
      destination.count / to.byteWidth >= count,
      "FloatCast: destination holds \(destination.count) bytes, fewer than \(count) \(to.rawValue)"
    )
    guard count > 0, let input = source.baseAddress, let output = destination.baseAddress else {
      return
    }
    if from == to {
      output.copyMemory(from: input, byteCount: count * from.byteWidth)
      return
    }
    let loop = ElementLoop(source: input, destination: output, count: count, bigEndian: bigEndian)
    switch from {
    case .float64: convertFloat64(loop, to: to)
    case .float32: convertFloat32(loop, to: to)
    case .float16: convertFloat16(loop, to: to)
    case .bfloat16: convertBFloat16(loop, to: to)
    case .float8_e4m3fn, .float8_e5m2, .float8_e4m3fnuz, .float8_e5m2fnuz, .float8_e8m0fnu:
      convertFloat8(loop, format: from, to: to)
    }
  }

  private static func convertFloat64(_ loop: ElementLoop, to: FloatFormat) {
    switch to {
    case .float32:
      loop.map { (bits: UInt64) in Narrowing.float32(fromFloat64: bits) }
    case .float16:
      loop.map { (bits: UInt64) in
        Narrowing.float16(fromFloat32: Narrowing.float32(fromFloat64: bits))
      }
    case .bfloat16:
      loop.map { (bits: UInt64) in
        Narrowing.bfloat16(
          fromFloat32: Narrowing.float32(fromFloat64: bits), nan: Narrowing.vectorizedBFloat16NaN)
      }
    default:
      preconditionFailure("FloatCast: no float64 -> \(to.rawValue)")
    }
  }

  private static func convertFloat32(_ loop: ElementLoop, to: FloatFormat) {
    switch to {
    case .float64:
      loop.map { (bits: UInt32) in Widening.float64(fromFloat32: bits) }
    case .float16:
      loop.map { (bits: UInt32) in Narrowing.float16(fromFloat32: bits) }
    case .bfloat16:
      loop.map { (bits: UInt32) in
        Narrowing.bfloat16(fromFloat32: bits, nan: Narrowing.vectorizedBFloat16NaN)
      }
    default:
      preconditionFailure("FloatCast: no float32 -> \(to.rawValue)")
    }
  }

  private static func convertFloat16(_ loop: ElementLoop, to: FloatFormat) {
    switch to {
    case .float64:
      loop.map { (bits: UInt16) in
        Widening.float64(fromFloat32: Widening.float32(fromFloat16: bits))
      }
    case .float32:
      loop.map { (bits: UInt16) in Widening.float32(fromFloat16: bits) }
    case .bfloat16:
      loop.map { (bits: UInt16) in
        Narrowing.bfloat16(
          fromFloat32: Widening.float32(fromFloat16: bits), nan: Narrowing.scalarBFloat16NaN)
      }
    default:
      preconditionFailure("FloatCast: no float16 -> \(to.rawValue)")
    }
  }

  private static func convertBFloat16(_ loop: ElementLoop, to: FloatFormat) {
    switch to {
    case .float64:
      loop.map { (bits: UInt16) in
        Widening.float64(fromFloat32: Widening.float32(fromBFloat16: bits))
      }
    case .float32:
      loop.map { (bits: UInt16) in Widening.float32(fromBFloat16: bits) }
    case .float16:
      loop.map { (bits: UInt16) in
        Narrowing.float16(fromFloat32: Widening.float32(fromBFloat16: bits))
      }
    default:
      preconditionFailure("FloatCast: no bfloat16 -> \(to.rawValue)")
    }
  }

  private static func convertFloat8(_ loop: ElementLoop, format: FloatFormat, to: FloatFormat) {
    switch to {
    case .float64:
      lookUp(loop, format: format) { Widening.float64(fromFloat32: $0) }
    case .float32:
      lookUp(loop, format: format) { $0 }
    case .float16:
      lookUp(loop, format: format) { Narrowing.float16(fromFloat32: $0) }
    case .bfloat16:
      lookUp(loop, format: format) {
        Narrowing.bfloat16(fromFloat32: $0, nan: Narrowing.scalarBFloat16NaN)
      }
    default:
      preconditionFailure("FloatCast: no \(format.rawValue) -> \(to.rawValue)")
    }
  }

  /// A float8 conversion: the 256 results made once, then one table read per element.
  private static func lookUp<Target: FixedWidthInteger>(
    _ loop: ElementLoop, format: FloatFormat, encode: (UInt32) -> Target
  ) {
    withUnsafeTemporaryAllocation(of: Target.self, capacity: 256) { table in
      Float8Table.fill(table, format: format, encode: encode)
      let entries = UnsafePointer(table.baseAddress!)
      loop.map { (byte: UInt8) in entries[Int(byte)] }
    }
  }
}
