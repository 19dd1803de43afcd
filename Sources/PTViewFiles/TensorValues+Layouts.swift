public import PTViewCore
public import PTViewValues

/// What the statistics of a tensor are made of: stored values, plus zeros no record holds.
public struct StatisticsSource: Sendable, Equatable {
  /// The values read.
  public var stored: StoredTensor
  /// Elements that are zero without being stored (a sparse tensor's unspecified elements).
  public var implicitZeros: Int64
  /// For quint4x2 and quint2x4: `stored` is the packed bytes, and this says how to unpack
  /// them (`TensorValues.packedStatistics`).
  public var packed: PackedValues?

  /// A source.
  public init(stored: StoredTensor, implicitZeros: Int64 = 0, packed: PackedValues? = nil) {
    self.stored = stored
    self.implicitZeros = implicitZeros
    self.packed = packed
  }
}

/// Packed quantized values: `count` unsigned integers of `bits` bits, lowest bits of each byte
/// first (torch's quint4x2 and quint2x4), dequantized per tensor.
public struct PackedValues: Sendable, Equatable {
  /// Bits per value (4 or 2).
  public var bits: Int
  /// Values.
  public var count: Int64
  /// `(q - zero_point) * scale` in float32, as `dequantize()` computes it.
  public var dequantization: Dequantization
}

extension ValueStatistics {
  /// `count` zeros: the unspecified elements of a sparse tensor, as `to_dense()` fills them.
  public static func zeros(_ count: Int64) -> ValueStatistics {
    var out = ValueStatistics()
    guard count > 0 else { return out }
    out.count = count
    out.zeros = count
    out.finite = count
    out.minimum = 0
    out.maximum = 0
    return out
  }
}

extension ValueStatistics {
  /// Adds `count` unstored zeros (complex tensors count them only, as they count everything).
  public mutating func addImplicitZeros(_ count: Int64, complex: Bool) {
    if complex {
      self.count += count
      zeros += count
    } else {
      merge(.zeros(count))
    }
  }
}

extension TensorValues {
  /// Where the statistics of `tensor` come from, as torch would compute them on the dense
  /// tensor: a strided tensor's own values; a nested tensor's buffer (its components laid out
  /// one after another, which is what `torch.cat([c.reshape(-1) for c in t.unbind()])`
  /// holds); a sparse COO or CSR tensor's stored values plus its unspecified elements as
  /// zeros (`t.to_dense()`), when no element is stored twice (a duplicate is summed by
  /// `to_dense`, which the values alone cannot tell). Anything else has no values, and why.
  public func statisticsSource(_ tensor: TensorInfo) throws(CheckpointError) -> Result<
    StatisticsSource, NoValues
  > {
    switch tensor.layout {
    case "nested":
      return try nestedSource(tensor)
    case "sparse_coo":
      return try cooSource(tensor)
    case "sparse_csr":
      return try csrSource(tensor)
    default:
      if tensor.dtype.name == "quint4x2" || tensor.dtype.name == "quint2x4" {
        return try packedSource(tensor)
      }
      switch try locate(tensor) {
      case .stored(let stored): return .success(StatisticsSource(stored: stored))
      case .none(let why): return .failure(NoValues(why))
      }
    }
  }

  /// A packed tensor's bytes, read as uint8: only contiguous from element 0 with one scale
  /// (torch itself reads views of packed tensors at the wrong bytes).
  private func packedSource(_ tensor: TensorInfo) throws(CheckpointError) -> Result<
    StatisticsSource, NoValues
  > {
    let bits = tensor.dtype.name == "quint4x2" ? 4 : 2
    guard let quantizer = tensor.quantizer, !quantizer.isPerChannel,
      let scale = quantizer.scale, let zeroPoint = quantizer.zeroPoint,
      let dequantization = Dequantization(
        torchName: "quint8", scheme: .perTensor(scale: scale, zeroPoint: zeroPoint))
    else { return .failure(NoValues("packed quantized tensor without a per-tensor scale")) }
    guard tensor.isContiguous, tensor.offset == 0, tensor.storage != nil,
      let uint8 = DType.named("uint8")
    else { return .failure(NoValues("packed quantized values are read only when contiguous")) }
    let count = tensor.numel
    var bytes = tensor
    bytes.dtype = uint8
    bytes.shape = [(count * Int64(bits) + 7) / 8]
    bytes.stride = [1]
    bytes.quantizer = nil
    bytes.negated = false
    switch try locate(bytes) {
    case .stored(let stored):
      return .success(
        StatisticsSource(
          stored: stored,
          packed: PackedValues(bits: bits, count: count, dequantization: dequantization)))
    case .none(let why):
      return .failure(NoValues(why))
    }
  }

  /// The statistics of a packed tensor's dequantized values (one thread; these tensors are
  /// small: torch packs embedding tables this way, not models).
  public func packedStatistics(
    _ source: StatisticsSource, cancel: CancellationFlag? = nil
  ) throws(CheckpointError) -> ValueStatistics {
    guard let packed = source.packed else { return ValueStatistics() }
    let perByte = 8 / packed.bits
    let mask = UInt64((1 << packed.bits) - 1)
    var statistics = ValueStatistics()
    let chunk = 1 << 16
    var reals = [Double](repeating: 0, count: chunk * perByte)
    var byte: Int64 = 0
    let total = source.stored.layout.count ?? 0
    var done: Int64 = 0
    while byte < total {
      if let cancel, cancel.isRaised { throw Self.cancelled(source.stored) }
      let n = Int(min(Int64(chunk), total - byte))
      let raw = try values(of: source.stored, from: byte, count: n)
      var filled = 0
      for value in raw {
        let b = UInt64(bitPattern: value.integer)
        for k in 0..<perByte where done < packed.count {
          let q = Int64((b >> UInt64(k * packed.bits)) & mask)
          reals[filled] = Double(packed.dequantization.value(q, channel: 0))
          filled += 1
          done += 1
        }
      }
      reals.withUnsafeBufferPointer { statistics.add(reals: $0.baseAddress!, count: filled) }
      byte += Int64(n)
    }
    return statistics
  }

  /// Why a tensor has no values to count.
  public struct NoValues: Error, Equatable, CustomStringConvertible {
    public var description: String
    init(_ text: String) { description = text }
  }

  /// The stored, strided values of a component, or why not.
  private func component(_ tensor: TensorInfo) throws(CheckpointError) -> Result<
    StoredTensor, NoValues
  > {
    switch try locate(tensor) {
    case .stored(let stored): return .success(stored)
    case .none(let why): return .failure(NoValues(why))
    }
  }

  /// A small integer component read whole (indices, sizes), at most `limit` elements.
  private func integers(_ stored: StoredTensor, limit: Int64) throws(CheckpointError) -> [Int64]? {
    guard let count = stored.layout.count, count <= limit else { return nil }
    return try values(of: stored, from: 0, count: Int(count)).map(\.integer)
  }

  private func nestedSource(_ tensor: TensorInfo) throws(CheckpointError) -> Result<
    StatisticsSource, NoValues
  > {
    let parts = tensor.components
    guard parts.count >= 4 else { return .failure(NoValues("nested tensor without its metadata")) }
    let buffer: StoredTensor
    switch try component(parts[0]) {
    case .success(let found): buffer = found
    case .failure(let why): return .failure(why)
    }
    guard case .success(let sizes) = try component(parts[1]),
      case .success(let strides) = try component(parts[2]),
      case .success(let offsets) = try component(parts[3]),
      let s = try integers(sizes, limit: 1 << 22), let st = try integers(strides, limit: 1 << 22),
      let off = try integers(offsets, limit: 1 << 20)
    else { return .failure(NoValues("nested tensor metadata is not readable")) }
    // Components one after another, each contiguous: the buffer holds exactly the values.
    let n = off.count
    let rank = n > 0 ? s.count / n : 0
    guard s.count == n * rank, st.count == s.count, buffer.layout.shape.count == 1 else {
      return .failure(NoValues("nested tensor metadata does not match its buffer"))
    }
    var next: Int64 = 0
    for i in 0..<n {
      let shape = Array(s[(i * rank)..<((i + 1) * rank)])
      let strides = Array(st[(i * rank)..<((i + 1) * rank)])
      var expected: Int64 = 1
      for d in stride(from: rank - 1, through: 0, by: -1) {
        if shape[d] > 1 && strides[d] != expected {
          return .failure(NoValues("nested tensor with non-contiguous components: not read"))
        }
        expected = expected &* shape[d]
      }
      guard off[i] == next else {
        return .failure(NoValues("nested tensor with gaps in its buffer: not read"))
      }
      next += expected
    }
    guard next == buffer.layout.shape[0] else {
      return .failure(NoValues("nested tensor whose buffer is not exactly its values: not read"))
    }
    return .success(StatisticsSource(stored: buffer))
  }

  private func cooSource(_ tensor: TensorInfo) throws(CheckpointError) -> Result<
    StatisticsSource, NoValues
  > {
    guard tensor.components.count >= 2,
      case .success(let indices) = try component(tensor.components[0]),
      case .success(let values) = try component(tensor.components[1]),
      indices.layout.shape.count == 2
    else { return .failure(NoValues("sparse tensor without readable indices and values")) }
    let sparseDims = Int(indices.layout.shape[0])
    let nnz = indices.layout.shape[1]
    let shape = tensor.shape
    guard sparseDims <= shape.count, values.layout.shape.first == nnz else {
      return .failure(NoValues("sparse tensor whose indices do not match its values"))
    }
    // No index twice: the linear indices strictly increase (as a coalesced tensor's do).
    var previous: Int64 = -1
    let chunk: Int64 = 1 << 14
    var start: Int64 = 0
    while start < nnz {
      let count = min(chunk, nnz - start)
      var linear = [Int64](repeating: 0, count: Int(count))
      for d in 0..<sparseDims {
        let row = try self.values(of: indices, from: Int64(d) * nnz + start, count: Int(count))
        for (j, v) in row.enumerated() {
          let index = v.integer
          guard index >= 0, index < shape[d] else {
            return .failure(NoValues("sparse tensor with an index out of its size"))
          }
          linear[j] = linear[j] &* shape[d] &+ index
        }
      }
      for l in linear {
        guard l > previous else {
          return .failure(
            NoValues("uncoalesced sparse tensor (an index may repeat; to_dense sums): not read"))
        }
        previous = l
      }
      start += count
    }
    return implicit(values, dense: shape)
  }

  private func csrSource(_ tensor: TensorInfo) throws(CheckpointError) -> Result<
    StatisticsSource, NoValues
  > {
    guard tensor.components.count >= 3, tensor.shape.count == 2,
      case .success(let rows) = try component(tensor.components[0]),
      case .success(let columns) = try component(tensor.components[1]),
      case .success(let values) = try component(tensor.components[2]),
      rows.layout.shape.count == 1, columns.layout.shape.count == 1
    else { return .failure(NoValues("sparse_csr tensor not read (batched, or unreadable parts)")) }
    let nnz = columns.layout.shape[0]
    guard rows.layout.shape[0] == tensor.shape[0] + 1, values.layout.shape.first == nnz,
      let pointers = try integers(rows, limit: 1 << 24)
    else { return .failure(NoValues("sparse_csr tensor whose parts do not match")) }
    guard pointers.first == 0, pointers.last == nnz else {
      return .failure(NoValues("sparse_csr row pointers do not span its values"))
    }
    // Within each row, column indices strictly increase (no element twice).
    var row = 0
    var previous: Int64 = -1
    let chunk: Int64 = 1 << 14
    var start: Int64 = 0
    while start < nnz {
      let count = min(chunk, nnz - start)
      let part = try self.values(of: columns, from: start, count: Int(count))
      for (j, v) in part.enumerated() {
        let at = start + Int64(j)
        while row + 1 < pointers.count && pointers[row + 1] <= at {
          row += 1
          previous = -1
        }
        let column = v.integer
        guard column > previous, column < tensor.shape[1] else {
          return .failure(
            NoValues(
              "sparse_csr tensor with unsorted or repeated columns (to_dense sums): not read"))
        }
        previous = column
      }
      start += count
    }
    return implicit(values, dense: tensor.shape)
  }

  /// The stored values, and the dense tensor's other elements as zeros.
  private func implicit(_ values: StoredTensor, dense shape: [Int64]) -> Result<
    StatisticsSource, NoValues
  > {
    var total: Int64 = 1
    for size in shape {
      let (p, overflow) = total.multipliedReportingOverflow(by: size)
      guard !overflow else { return .failure(NoValues("sparse tensor too large to count")) }
      total = p
    }
    let stored = values.layout.count ?? 0
    guard stored <= total else {
      return .failure(NoValues("sparse tensor with more values than elements"))
    }
    return .success(StatisticsSource(stored: values, implicitZeros: total - stored))
  }
}
