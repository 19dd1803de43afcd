/// Decodes stored elements of one encoding: to `ElementValue` (for printing, comparing,
/// exporting) or, for real dtypes, straight into float64 (for statistics), which is exact for
/// every floating and dequantized value and rounds 64-bit integers as torch's
/// `.to(torch.float64)` does.
public struct ElementDecoder: Sendable {
  /// The encoding.
  public let encoding: ValueEncoding
  /// Whether the bytes are in the other byte order than the machine's.
  public let swapsBytes: Bool
  /// torch's negative bit.
  public let negated: Bool
  /// torch's conjugate bit (complex values only).
  public let conjugated: Bool
  /// Per-channel dequantization: elements per step along the channel axis in row-major order
  /// (the product of the sizes after the axis) and the number of channels.
  public let channelBlock: Int64
  /// Number of channels (per-channel dequantization).
  public let channels: Int64
  /// float8 values by byte.
  private let table: [Double]

  /// A decoder for `encoding`. `shape` is the tensor's (it places per-channel scales).
  public init(
    encoding: ValueEncoding, bigEndian: Bool, negated: Bool = false, conjugated: Bool = false,
    shape: [Int64] = []
  ) {
    self.conjugated = conjugated
    self.encoding = encoding
    self.swapsBytes = bigEndian != ElementLoop.hostIsBigEndian
    self.negated = negated
    var block: Int64 = 1
    var channels: Int64 = 1
    if case .quantized(let d) = encoding, let axis = d.axis, axis >= 0, axis < shape.count {
      for size in shape[(axis + 1)...] { block = block &* max(size, 1) }
      channels = max(shape[axis], 1)
    }
    self.channelBlock = block
    self.channels = channels
    if case .float(let format) = encoding, format.byteWidth == 1 {
      table = (0...255).map { byte in
        Double(Float(bitPattern: Float8Decoding.float32(from: UInt8(byte), format: format)))
      }
    } else {
      table = []
    }
  }

  @inline(__always)
  private func load<T: FixedWidthInteger>(_ p: UnsafeRawPointer, _ at: Int, _: T.Type) -> T {
    let v = p.loadUnaligned(fromByteOffset: at, as: T.self)
    return swapsBytes ? v.byteSwapped : v
  }

  @inline(__always)
  private func float(_ format: FloatFormat, _ p: UnsafeRawPointer, _ at: Int) -> Double {
    switch format {
    case .float64: Double(bitPattern: load(p, at, UInt64.self))
    case .float32: Double(Float(bitPattern: load(p, at, UInt32.self)))
    case .float16:
      Double(Float(bitPattern: Widening.float32(fromFloat16: load(p, at, UInt16.self))))
    case .bfloat16:
      Double(Float(bitPattern: Widening.float32(fromBFloat16: load(p, at, UInt16.self))))
    case .float8_e4m3fn, .float8_e5m2, .float8_e4m3fnuz, .float8_e5m2fnuz, .float8_e8m0fnu:
      table[Int(p.load(fromByteOffset: at, as: UInt8.self))]
    }
  }

  @inline(__always)
  private func integer(signed: Bool, width: Int, _ p: UnsafeRawPointer, _ at: Int) -> Int64 {
    switch (signed, width) {
    case (true, 1): Int64(Int8(bitPattern: p.load(fromByteOffset: at, as: UInt8.self)))
    case (true, 2): Int64(Int16(bitPattern: load(p, at, UInt16.self)))
    case (true, 4): Int64(Int32(bitPattern: load(p, at, UInt32.self)))
    case (false, 1): Int64(p.load(fromByteOffset: at, as: UInt8.self))
    case (false, 2): Int64(load(p, at, UInt16.self))
    case (false, 4): Int64(load(p, at, UInt32.self))
    default: Int64(bitPattern: load(p, at, UInt64.self))
    }
  }

  /// The channel of the element at row-major index `logical`.
  @inline(__always)
  private func channel(_ logical: Int64) -> Int {
    Int((logical / channelBlock) % channels)
  }

  /// The element at byte `at` of `p`, the `logical`-th of its tensor.
  public func value(_ p: UnsafeRawPointer, at: Int, logical: Int64) -> ElementValue {
    switch encoding {
    case .float(let format):
      let v = float(format, p, at)
      return .float(negated ? -v : v)
    case .signed(let width):
      let v = integer(signed: true, width: width, p, at)
      return .int(negated ? 0 &- v : v)
    case .unsigned(let width):
      if width == 8 { return .uint(load(p, at, UInt64.self)) }
      return .uint(UInt64(integer(signed: false, width: width, p, at)))
    case .bool:
      return .bool(p.load(fromByteOffset: at, as: UInt8.self) != 0)
    case .complex(let component):
      let re = float(component, p, at)
      let im = float(component, p, at + component.byteWidth)
      return .complex(real: negated ? -re : re, imaginary: negated != conjugated ? -im : im)
    case .quantized(let d):
      let q = integer(signed: d.storedSigned, width: d.storedWidth, p, at)
      let v = Double(d.value(q, channel: channel(logical)))
      return .float(negated ? -v : v)
    }
  }

  /// Appends the values of `run` (within the piece at `p`) to `out`.
  public func values(_ p: UnsafeRawPointer, run: PieceRun, into out: inout [ElementValue]) {
    let width = encoding.byteWidth
    for i in 0..<run.count {
      out.append(
        value(p, at: run.firstByte + i * run.step * width, logical: run.logicalStart + Int64(i)))
    }
  }

  /// Writes `count` real values (elements `first`, `first + step`, ... of the run, counted
  /// from the run's start) to `out` as float64. Complex encodings write nothing (see
  /// `complexParts`).
  public func reals(
    _ p: UnsafeRawPointer, run: PieceRun, first: Int, count: Int,
    into out: UnsafeMutablePointer<Double>
  ) {
    let width = encoding.byteWidth
    let byteStep = run.step * width
    let base = run.firstByte + first * byteStep
    let logical = run.logicalStart + Int64(first)
    switch encoding {
    case .float(.float32) where byteStep == 4 && !swapsBytes:
      // The hot case: contiguous float32 in the machine's order, a loop the compiler vectorises.
      let source = p + base
      for i in 0..<count {
        out[i] = Double(source.loadUnaligned(fromByteOffset: 4 &* i, as: Float.self))
      }
    case .float(.bfloat16) where byteStep == 2 && !swapsBytes:
      let source = p + base
      for i in 0..<count {
        let bits = UInt32(source.loadUnaligned(fromByteOffset: 2 &* i, as: UInt16.self)) &<< 16
        out[i] = Double(Float(bitPattern: bits))
      }
    case .float(.float64) where byteStep == 8 && !swapsBytes:
      UnsafeMutableRawPointer(out).copyMemory(from: p + base, byteCount: count * 8)
    case .float(let format):
      for i in 0..<count { out[i] = float(format, p, base + i * byteStep) }
    case .signed(let width):
      for i in 0..<count {
        out[i] = Double(integer(signed: true, width: width, p, base + i * byteStep))
      }
    case .unsigned(let width):
      if width == 8 {
        for i in 0..<count { out[i] = Double(load(p, base + i * byteStep, UInt64.self)) }
      } else {
        for i in 0..<count {
          out[i] = Double(integer(signed: false, width: width, p, base + i * byteStep))
        }
      }
    case .bool:
      for i in 0..<count {
        out[i] = p.load(fromByteOffset: base + i * byteStep, as: UInt8.self) != 0 ? 1 : 0
      }
    case .complex:
      return
    case .quantized(let d):
      for i in 0..<count {
        let q = integer(signed: d.storedSigned, width: d.storedWidth, p, base + i * byteStep)
        let channel = d.axis == nil ? 0 : self.channel(logical + Int64(i))
        out[i] = Double(d.value(q, channel: channel))
      }
    }
    if negated {
      for i in 0..<count { out[i] = -out[i] }
    }
  }

  /// Writes `count` complex values of the run (from element `first`) as real and imaginary
  /// float64 parts.
  public func complexParts(
    _ p: UnsafeRawPointer, run: PieceRun, first: Int, count: Int,
    real: UnsafeMutablePointer<Double>, imaginary: UnsafeMutablePointer<Double>
  ) {
    guard case .complex(let component) = encoding else { return }
    let byteStep = run.step * encoding.byteWidth
    let base = run.firstByte + first * byteStep
    let realSign: Double = negated ? -1 : 1
    let imaginarySign: Double = negated != conjugated ? -1 : 1
    for i in 0..<count {
      real[i] = realSign * float(component, p, base + i * byteStep)
      imaginary[i] = imaginarySign * float(component, p, base + i * byteStep + component.byteWidth)
    }
  }
}
