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

  /// Reads the header of the safetensors file in `source`.
  public static func read(_ source: any ByteSource) throws(CheckpointError) -> Checkpoint {
    let head: [UInt8]
    do { head = try source.readExactly(at: 0, count: 8) } catch {
      throw CheckpointError(.malformed, offset: 0, "safetensors header length is missing")
    }
    let n = head.u64(0)
    guard n <= 100_000_000, n <= source.size - 8 else {
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
    var entries: [TensorEntry] = []
    var metadata: [(String, String)] = []
    var ranges: [(Int64, Int64, String)] = []
    for (name, value) in members {
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
      guard let (torchName, bits) = dtypes[code], let dtype = DType.named(torchName) else {
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
      ranges.append((begin, end, name))
      var stride = [Int64](repeating: 1, count: shape.count)
      var running: Int64 = 1
      for i in shape.indices.reversed() {
        stride[i] = running
        running = running &* max(shape[i], 1)
      }
      let info = TensorInfo(
        dtype: dtype,
        shape: bits == 4
          ? shape.enumerated().map { $0.offset == shape.count - 1 ? $0.element / 2 : $0.element }
          : shape,
        stride: stride, offset: 0, device: "cpu", storage: nil,
        requiresGrad: false, isParameter: false, layout: nil, rebuild: "safetensors", node: nil)
      entries.append(TensorEntry(path: [name], tensor: info))
    }
    ranges.sort { $0.0 < $1.0 }
    var cursor: Int64 = 0
    for (begin, end, name) in ranges {
      guard begin == cursor else {
        throw CheckpointError(
          .malformed, record: name, offset: dataStart + begin,
          "tensor data is not contiguous (gap or overlap before it)")
      }
      cursor = end
    }
    guard dataStart + cursor == source.size else {
      throw CheckpointError(
        .malformed, offset: dataStart + cursor,
        "data section ends at \(dataStart + cursor) but the file has \(source.size) bytes")
    }
    return Checkpoint(
      format: .safetensors, fileSize: source.size, archiveRoot: nil, directory: nil, pickles: [],
      graph: ValueGraph(), root: nil, tensors: [:], entries: entries, storages: [:],
      byteorder: "little",
      version: nil, storageAlignment: nil,
      notes: ["safetensors stores no device; tensors are listed as cpu"],
      metadata: metadata, problem: nil)
  }
}
