import PTViewPickle

/// Reads a safetensors header (never its data), checking it the way the reference reader does.
public enum SafetensorsReader {
  /// safetensors dtype names, their torch equivalents and bits per value.
  static let dtypes: [String: (name: String, bits: Int)] = [
    "BOOL": ("bool", 8), "U8": ("uint8", 8), "I8": ("int8", 8), "I16": ("int16", 16),
    "U16": ("uint16", 16), "F16": ("float16", 16), "BF16": ("bfloat16", 16), "I32": ("int32", 32),
    "U32": ("uint32", 32), "F32": ("float32", 32), "F64": ("float64", 64), "I64": ("int64", 64),
    "U64": ("uint64", 64), "C64": ("complex64", 64), "F8_E5M2": ("float8_e5m2", 8),
    "F8_E4M3": ("float8_e4m3fn", 8), "F8_E8M0": ("float8_e8m0fnu", 8),
    "F8_E4M3FNUZ": ("float8_e4m3fnuz", 8), "F8_E5M2FNUZ": ("float8_e5m2fnuz", 8),
    "F4": ("float4_e2m1fn_x2", 4),
  ]

  /// One tensor of a safetensors header, as the header says it (checked).
  public struct Entry: Sendable, Equatable {
    /// The key.
    public var name: String
    /// The safetensors dtype code (`F32`, `BF16`, ...).
    public var code: String
    /// The torch dtype it loads as.
    public var dtype: DType
    /// The shape as the header writes it (for `F4`, in 4-bit elements).
    public var shape: [Int64]
    /// Data offsets relative to the start of the data section.
    public var begin: Int64
    /// End of the data (exclusive), relative to the data section.
    public var end: Int64
  }

  /// A checked safetensors header: every tensor's place, the metadata, where data starts.
  public struct Header: Sendable {
    /// Tensors in header order.
    public var entries: [Entry]
    /// `__metadata__` string pairs.
    public var metadata: [(String, String)]
    /// File offset of the data section (8 + header length).
    public var dataStart: Int64
  }

  /// The header's JSON may not be longer than this (the reference reader's limit).
  public static let maxHeaderLength: Int64 = 100_000_000

  /// The torch dtype of a safetensors dtype code, and its bits per element.
  public static func dtype(code: String) -> (dtype: DType, bits: Int)? {
    guard let (name, bits) = dtypes[code], let dtype = DType.named(name) else { return nil }
    return (dtype, bits)
  }

  /// The safetensors dtype code for a torch dtype name, or nil when safetensors has none
  /// (complex128, complex32, quantized and bit dtypes).
  public static func code(forTorchName name: String) -> String? {
    codes[name]
  }

  private static let codes: [String: String] = {
    var out: [String: String] = [:]
    for (code, value) in dtypes { out[value.name] = code }
    return out
  }()

  /// Reads and checks the header of the safetensors file in `source`: the length within
  /// bounds, valid JSON, known dtypes, no repeated keys, offsets that match each shape and
  /// tile the data section exactly (no gap, no overlap, nothing past the end).
  public static func header(_ source: any ByteSource) throws(CheckpointError) -> Header {
    let head: [UInt8]
    do { head = try source.readExactly(at: 0, count: 8) } catch {
      throw CheckpointError(.malformed, offset: 0, "safetensors header length is missing")
    }
    let n = head.u64(0)
    guard n >= 0, n <= maxHeaderLength, n <= source.size - 8 else {
      throw CheckpointError(.malformed, offset: 0, "safetensors header length \(n) is out of range")
    }
    let text: [UInt8]
    do { text = try source.readExactly(at: 8, count: Int(n)) } catch {
      throw CheckpointError(.io, offset: 8, error.message)
    }
    let json: JSONValue
    do { json = try JSONParser.parse(text) } catch {
      throw CheckpointError(
        .malformed, record: "header", offset: 8 + Int64(error.offset), error.message)
    }
    guard case .object(let members) = json else {
      throw CheckpointError(.malformed, record: "header", offset: 8, "header is not a JSON object")
    }
    let dataStart = 8 + n
    var entries: [Entry] = []
    var metadata: [(String, String)] = []
    var seen: Set<String> = []
    for (name, value) in members {
      guard seen.insert(name).inserted else {
        throw CheckpointError(.malformed, record: name, offset: 8, "the header repeats this key")
      }
      if name == "__metadata__" {
        if case .object(let pairs) = value {
          metadata = pairs.compactMap { k, v in v.stringValue.map { (k, $0) } }
        }
        continue
      }
      guard let code = value["dtype"]?.stringValue, let shapeValues = value["shape"]?.arrayValue,
        let offsets = value["data_offsets"]?.arrayValue, offsets.count == 2,
        let begin = offsets[0].intValue, let end = offsets[1].intValue
      else {
        throw CheckpointError(
          .malformed, record: name, offset: 8, "tensor entry lacks dtype, shape or data_offsets")
      }
      var shape: [Int64] = []
      for v in shapeValues {
        guard let d = v.intValue, d >= 0 else {
          throw CheckpointError(
            .malformed, record: name, offset: 8, "shape has a negative or non-integer size")
        }
        shape.append(d)
      }
      guard let (dtype, bits) = Self.dtype(code: code) else {
        throw CheckpointError(
          .malformed, record: name, offset: 8, "unknown safetensors dtype \(code)")
      }
      var numel: Int64 = 1
      for d in shape {
        let (p, o) = numel.multipliedReportingOverflow(by: d)
        guard !o else {
          throw CheckpointError(.malformed, record: name, offset: 8, "shape overflows")
        }
        numel = p
      }
      let (totalBits, bitsOverflow) = numel.multipliedReportingOverflow(by: Int64(bits))
      guard begin >= 0, end >= begin, !bitsOverflow, totalBits % 8 == 0,
        end - begin == totalBits / 8
      else {
        throw CheckpointError(
          .malformed, record: name, offset: dataStart + min(max(0, begin), source.size),
          "data_offsets [\(begin), \(end)] do not match \(shape) \(code)")
      }
      entries.append(
        Entry(name: name, code: code, dtype: dtype, shape: shape, begin: begin, end: end))
    }
    let ranges = entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
    var cursor: Int64 = 0
    for entry in ranges {
      guard entry.begin == cursor else {
        throw CheckpointError(
          .malformed, record: entry.name, offset: dataStart + entry.begin,
          entry.begin < cursor
            ? "tensor data overlaps the tensor before it (which ends at \(dataStart + cursor))"
            : "tensor data leaves a gap after the tensor before it (from \(dataStart + cursor))")
      }
      cursor = entry.end
    }
    guard dataStart + cursor == source.size else {
      throw CheckpointError(
        .malformed, offset: dataStart + cursor,
        "data section ends at \(dataStart + cursor) but the file has \(source.size) bytes")
    }
    return Header(entries: entries, metadata: metadata, dataStart: dataStart)
  }

  /// Reads the header of the safetensors file in `source`.
  public static func read(_ source: any ByteSource) throws(CheckpointError) -> Checkpoint {
    let header = try header(source)
    var entries: [TensorEntry] = []
    for item in header.entries {
      // torch's shape: for F4 the last size counts bytes (two values each), and the
      // row-major strides are of that shape.
      var shape = item.shape
      if dtypes[item.code]?.bits == 4, let last = shape.indices.last { shape[last] /= 2 }
      var stride = [Int64](repeating: 1, count: shape.count)
      var running: Int64 = 1
      for i in shape.indices.reversed() {
        stride[i] = running
        running = running &* max(shape[i], 1)
      }
      let info = TensorInfo(
        dtype: item.dtype, shape: shape, stride: stride, offset: 0, device: "cpu", storage: nil,
        requiresGrad: false, isParameter: false, layout: nil, rebuild: "safetensors", node: nil,
        dataOffset: header.dataStart + item.begin)
      entries.append(TensorEntry(path: [item.name], tensor: info))
    }
    return Checkpoint(
      format: .safetensors, fileSize: source.size, archiveRoot: nil, directory: nil, pickles: [],
      graph: ValueGraph(), root: nil, tensors: [:], entries: entries, storages: [:],
      byteorder: "little",
      version: nil, storageAlignment: nil,
      notes: ["safetensors stores no device; tensors are listed as cpu"],
      metadata: header.metadata, problem: nil)
  }
}
