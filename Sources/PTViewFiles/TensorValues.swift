public import PTViewCore
public import PTViewValues

#if canImport(Glibc)
  import Glibc
#endif

/// Whether a tensor has values to read, and where.
public enum ValueAvailability: Sendable, Equatable {
  /// Stored in the file: read with `TensorValues`.
  case stored(StoredTensor)
  /// No values to read, and why (a meta tensor, a sparse layout, a dtype without values).
  case none(String)
}

/// Reads tensor values from a checkpoint's storage records on demand: piece by piece with
/// `pread`, in bounded memory, never the whole file. The pure parts (`StridedLayout`,
/// `ReadPlanner`, `ElementDecoder`, `ValueStatistics`) decide what to read and what it means;
/// this type only finds the records and reads them.
public final class TensorValues: @unchecked Sendable {
  /// The checkpoint.
  public let checkpoint: Checkpoint
  /// Its bytes.
  public let source: any ByteSource
  private let descriptor: Int32?
  private var dataOffsets: [String: Int64] = [:]

  /// Bytes per read: small enough to stay in a core's L2 cache while it is decoded.
  public static let pieceSize = 256 << 10
  /// Elements decoded at a time into float64 for statistics.
  static let blockElements = 8192
  /// Elements per job when statistics are split between cores.
  static let jobElements: Int64 = 4 << 20
  /// The most elements statistics visit for a view whose elements overlap (after expanded
  /// dimensions are counted as repeats); above it a view of a small storage could take hours.
  public static let overlapVisitLimit: Int64 = 1 << 32

  /// A reader over `checkpoint`, whose bytes are `source`.
  public init(checkpoint: Checkpoint, source: any ByteSource) {
    self.checkpoint = checkpoint
    self.source = source
    descriptor = (source as? FileSource)?.descriptor
  }

  // MARK: - Where values are

  /// Where `tensor`'s values are, or why it has none.
  /// - Throws: `CheckpointError` naming the record and byte offset when the values should be
  ///   there and are not (a missing or compressed record, a view past its storage, a
  ///   truncated file).
  public func locate(_ tensor: TensorInfo) throws(CheckpointError) -> ValueAvailability {
    if tensor.device == "meta" && tensor.storage == nil {
      return .none("meta tensor: it has no values")
    }
    if let layout = tensor.layout {
      return .none("\(layout) tensor: its values are not read")
    }
    guard let storage = tensor.storage else {
      if let start = tensor.dataOffset { return try locateRange(tensor, at: start) }
      return .none("no stored values (\(tensor.rebuild))")
    }
    let encoding: ValueEncoding
    switch try self.encoding(of: tensor) {
    case .success(let found): encoding = found
    case .failure(let reason): return .none(reason.description)
    }
    guard let stride = tensor.stride else { return .none("no strides") }
    let record = storage.view?.key ?? storage.record
    let viewOffset = storage.view?.offset ?? 0
    guard let extent = checkpoint.storages[record] else {
      throw CheckpointError(.malformed, record: record, "storage record is missing")
    }
    if extent.compressed {
      throw CheckpointError(
        .unsupportedFormat, record: record,
        "the record is compressed; ptview reads values only from stored (uncompressed) records")
    }
    let start = try dataOffset(of: extent)
    let width = Int64(encoding.byteWidth)
    let base = start + viewOffset * width
    let elements = max(0, extent.size / width - viewOffset)
    guard base >= 0, base <= source.size, elements <= (source.size - base) / width else {
      throw CheckpointError(
        .malformed, record: record, offset: base,
        "storage data (\(elements * width) bytes) runs past the end of the file (\(source.size) bytes)"
      )
    }
    let layout = StridedLayout(shape: tensor.shape, strides: stride, offset: tensor.offset)
    do { try layout.validate(storageElements: elements) } catch {
      throw CheckpointError(.malformed, record: record, offset: base, error.message)
    }
    return .stored(
      StoredTensor(
        record: record, dataOffset: base, storageElements: elements, layout: layout,
        encoding: encoding,
        bigEndian: swapsBytes(storage),
        negated: tensor.negated, conjugated: tensor.conjugated))
  }

  /// A tensor stored as one byte range of its own (safetensors: little-endian, row-major,
  /// contiguous, starting at `start`); its elements are exactly the range's.
  private func locateRange(_ tensor: TensorInfo, at start: Int64) throws(CheckpointError)
    -> ValueAvailability
  {
    let encoding: ValueEncoding
    switch try self.encoding(of: tensor) {
    case .success(let found): encoding = found
    case .failure(let reason): return .none(reason.description)
    }
    let record = "safetensors data"
    guard let stride = tensor.stride else { return .none("no strides") }
    let width = Int64(encoding.byteWidth)
    let elements = tensor.numel
    let (bytes, overflow) = elements.multipliedReportingOverflow(by: width)
    guard start >= 0, start <= source.size, !overflow, bytes <= source.size - start else {
      throw CheckpointError(
        .malformed, record: record, offset: start,
        "tensor data (\(elements) elements of \(width) bytes) runs past the end of the file (\(source.size) bytes)"
      )
    }
    let layout = StridedLayout(shape: tensor.shape, strides: stride, offset: 0)
    do { try layout.validate(storageElements: elements) } catch {
      throw CheckpointError(.malformed, record: record, offset: start, error.message)
    }
    return .stored(
      StoredTensor(
        record: record, dataOffset: start, storageElements: elements, layout: layout,
        encoding: encoding, bigEndian: false))
  }

  /// Whether torch.load byte-swaps this storage: only in a zip whose `byteorder` record says
  /// `big`, and only typed storages (torch swaps by the storage's dtype, and an
  /// `UntypedStorage`'s is bytes: float8, uint16/32/64 and complex32 tensors come back
  /// unswapped, so ptview reads them unswapped too). Legacy files are always little-endian.
  private func swapsBytes(_ storage: StorageRef) -> Bool {
    checkpoint.byteorder == "big" && checkpoint.format != .legacy
      && storage.storageDType != DType.untyped
  }

  private func encoding(of tensor: TensorInfo) throws(CheckpointError) -> Result<
    ValueEncoding, Reason
  > {
    let name = tensor.dtype.name
    if name == "quint4x2" || name == "quint2x4" {
      return .failure(Reason("packed quantized values are not read"))
    }
    guard name.hasPrefix("qint") || name.hasPrefix("quint") else {
      guard let encoding = ValueEncoding(torchName: name) else {
        return .failure(Reason("torch computes no values for this dtype"))
      }
      return .success(encoding)
    }
    guard let quantizer = tensor.quantizer else {
      return .failure(Reason("\(name) without a quantizer"))
    }
    let scheme: Dequantization.Scheme
    if quantizer.isPerChannel {
      guard tensor.components.count >= 2, let axis = quantizer.axis, axis >= 0,
        axis < tensor.shape.count
      else { return .failure(Reason("per-channel quantizer without scales, zero points or axis")) }
      let scales = try smallValues(tensor.components[0])
      let zeroPoints = try smallValues(tensor.components[1])
      let channels = Int(tensor.shape[Int(axis)])
      guard scales.count >= channels, zeroPoints.count >= channels else {
        return .failure(Reason("per-channel quantizer has fewer scales than channels"))
      }
      // torch pickles every per-channel scheme as per_channel_affine; float zero points are
      // what makes `_rebuild_qtensor` build a float-qparams quantizer again.
      if tensor.components[1].dtype.name.hasPrefix("float") {
        scheme = .perChannelFloat(
          axis: Int(axis), scales: scales.map { Float($0.real) },
          zeroPoints: zeroPoints.map { Float($0.real) })
      } else {
        scheme = .perChannel(
          axis: Int(axis), scales: scales.map(\.real), zeroPoints: zeroPoints.map(\.integer))
      }
    } else {
      guard let scale = quantizer.scale, let zeroPoint = quantizer.zeroPoint else {
        return .failure(Reason("quantizer without scale or zero point"))
      }
      scheme = .perTensor(scale: scale, zeroPoint: zeroPoint)
    }
    guard let dequantization = Dequantization(torchName: name, scheme: scheme) else {
      return .failure(Reason("\(name): not a quantized dtype ptview reads"))
    }
    return .success(.quantized(dequantization))
  }

  /// Why a tensor has no values (a `Result` failure).
  private struct Reason: Error, CustomStringConvertible {
    var description: String
    init(_ text: String) { description = text }
  }

  /// All values of a small tensor (a per-channel quantizer's scales), at most a million.
  private func smallValues(_ tensor: TensorInfo) throws(CheckpointError) -> [ElementValue] {
    guard case .stored(let stored) = try locate(tensor) else {
      throw CheckpointError(
        .malformed, record: tensor.storageRecord, "quantizer scales or zero points are not stored")
    }
    let count = stored.layout.count ?? 0
    guard count <= 1 << 20 else {
      throw CheckpointError(
        .malformed, record: stored.record, "\(count) quantizer scales are too many")
    }
    return try values(of: stored, from: 0, count: Int(count))
  }

  /// File offset of a record's first data byte (legacy extents know it; zip records need
  /// their local header, read once per record).
  private func dataOffset(of extent: Checkpoint.StorageExtent) throws(CheckpointError) -> Int64 {
    if let offset = extent.dataOffset { return offset }
    if let known = dataOffsets[extent.record] { return known }
    let name = (checkpoint.archiveRoot.map { $0 + "/" } ?? "") + extent.record
    guard let entry = checkpoint.directory?.entry(named: name) else {
      throw CheckpointError(
        .malformed, record: extent.record, "storage record is not in the archive")
    }
    do {
      let header = try ZipDirectory.localHeader(of: entry, in: source)
      dataOffsets[extent.record] = header.dataOffset
      return header.dataOffset
    } catch {
      throw CheckpointError(.malformed, record: extent.record, offset: error.offset, error.message)
    }
  }

  // MARK: - Reading

  /// Reads `piece` of `stored` into `buffer` (which has room for it).
  func read(
    _ piece: ReadPiece, of stored: StoredTensor, into buffer: UnsafeMutableRawPointer
  ) throws(CheckpointError) {
    let at = stored.dataOffset + piece.byteOffset
    if let fd = descriptor {
      var got = 0
      while got < piece.byteCount {
        let n = pread(fd, buffer + got, piece.byteCount - got, off_t(at) + off_t(got))
        if n < 0 && errno == EINTR { continue }
        if n <= 0 {
          throw CheckpointError(
            .io, record: stored.record, offset: at + Int64(got),
            n < 0
              ? "cannot read: \(String(cString: strerror(errno)))"
              : "the file ends here (truncated, or changed while reading)")
        }
        got += n
      }
      return
    }
    let bytes: [UInt8]
    do { bytes = try source.readExactly(at: at, count: piece.byteCount) } catch {
      throw CheckpointError(.io, record: stored.record, offset: at, error.message)
    }
    bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
  }

  /// Calls `body` with each piece of `stored`'s runs from logical element `from` to `to`
  /// (pieces of at most `pieceSize` bytes, read into one reused buffer).
  public func forEachPiece(
    of stored: StoredTensor, layout: StridedLayout? = nil, from: Int64 = 0, to: Int64? = nil,
    body: (UnsafeRawPointer, ReadPiece) throws(CheckpointError) -> Void
  ) throws(CheckpointError) {
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: Self.pieceSize, alignment: 64)
    defer { buffer.deallocate() }
    var planner = ReadPlanner(width: stored.encoding.byteWidth, pieceSize: Self.pieceSize)
    let emit = { (piece: ReadPiece) throws(CheckpointError) -> Void in
      try self.read(piece, of: stored, into: buffer)
      try body(UnsafeRawPointer(buffer), piece)
    }
    for run in (layout ?? stored.layout).runs(from: from, to: to) {
      try planner.add(run, emit: emit)
    }
    try planner.finish(emit: emit)
  }

  /// `count` values in logical (row-major) order from element `from`, as torch would index
  /// `t.reshape(-1)[from:from+count]` (negative and conjugate bits applied).
  public func values(of stored: StoredTensor, from: Int64, count: Int) throws(CheckpointError)
    -> [ElementValue]
  {
    let decoder = ElementDecoder(
      encoding: stored.encoding, bigEndian: stored.bigEndian, negated: stored.negated,
      conjugated: stored.conjugated, shape: stored.layout.shape)
    var out: [ElementValue] = []
    out.reserveCapacity(min(count, 1 << 20))
    try forEachPiece(of: stored, from: from, to: from + Int64(count)) { pointer, piece in
      for run in piece.runs { decoder.values(pointer, run: run, into: &out) }
    }
    return out
  }

  // MARK: - Statistics

  /// Statistics of each tensor, computed on every core: each tensor's elements are split
  /// into jobs (`ParallelJobs`), each job run with a piece buffer of its own on a few worker
  /// threads, and each tensor's parts are merged in job order (so the result does not depend
  /// on scheduling).
  /// `progress(bytesDone)` is called from worker threads, never concurrently. Raising `cancel`
  /// stops every worker at its next piece; the call then throws `TensorValues.cancelled`.
  public func statistics(
    of tensors: [StoredTensor], workers: Int = 2,
    progress: (@Sendable (Int64) -> Void)? = nil, cancel: CancellationFlag? = nil
  ) throws(CheckpointError) -> [ValueStatistics] {
    var plans: [(layout: StridedLayout, multiplicity: Int64)] = []
    for stored in tensors {
      var plan = (layout: stored.layout, multiplicity: Int64(1))
      if case .quantized(let d) = stored.encoding, d.axis != nil {
        // Per-channel values depend on each element's index: keep the logical order.
      } else {
        plan = stored.layout.orderFree()
      }
      let count = plan.layout.count ?? 0
      if !plan.layout.isNonOverlapping && count > Self.overlapVisitLimit {
        throw CheckpointError(
          .unsupportedFormat, record: stored.record, offset: stored.dataOffset,
          "a view of \(count) overlapping elements (shape \(stored.layout.shape), stride \(stored.layout.strides)); ptview stops at \(Self.overlapVisitLimit)"
        )
      }
      plans.append(plan)
    }
    let parallel = ParallelJobs(
      counts: plans.map { $0.layout.count ?? 0 }, size: Self.jobElements)
    let results = parallel.run(workers: workers, empty: ValueStatistics(), progress: progress) {
      job, report in
      let stored = tensors[job.item]
      let buffer = UnsafeMutablePointer<Double>.allocate(capacity: 2 * Self.blockElements)
      defer { buffer.deallocate() }
      return Result { () throws(CheckpointError) in
        try self.statistics(
          of: stored, layout: plans[job.item].layout, from: job.from, to: job.to, buffer: buffer
        ) { bytes throws(CheckpointError) in
          if let cancel, cancel.isRaised { throw TensorValues.cancelled(stored) }
          report(bytes)
        }
      }
    }
    var out = [ValueStatistics](repeating: ValueStatistics(), count: tensors.count)
    for (job, result) in zip(parallel.jobs, results) {
      switch result {
      case .success(let part): out[job.item].merge(part)
      case .failure(let error): throw error
      }
    }
    for index in out.indices {
      out[index] = out[index].repeated(plans[index].multiplicity)
    }
    return out
  }

  /// Statistics of logical elements `from..<to` of `layout` over `stored`'s storage.
  private func statistics(
    of stored: StoredTensor, layout: StridedLayout, from: Int64, to: Int64,
    buffer: UnsafeMutablePointer<Double>,
    reported: (Int64) throws(CheckpointError) -> Void
  ) throws(CheckpointError) -> ValueStatistics {
    let decoder = ElementDecoder(
      encoding: stored.encoding, bigEndian: stored.bigEndian, negated: stored.negated,
      conjugated: stored.conjugated, shape: stored.layout.shape)
    var statistics = ValueStatistics()
    let block = Self.blockElements
    let complex = stored.encoding.isComplex
    try forEachPiece(of: stored, layout: layout, from: from, to: to) {
      pointer, piece throws(CheckpointError) in
      for run in piece.runs {
        if run.step == 0 && run.count > 1 {
          // The same element `count` times: decode it once.
          var one = ValueStatistics()
          if complex {
            decoder.complexParts(
              pointer, run: run, first: 0, count: 1, real: buffer, imaginary: buffer + block)
            one.add(real: buffer, imaginary: buffer + block, count: 1)
          } else {
            decoder.reals(pointer, run: run, first: 0, count: 1, into: buffer)
            one.add(reals: buffer, count: 1)
          }
          statistics.merge(one.repeated(Int64(run.count)))
          continue
        }
        var done = 0
        while done < run.count {
          let n = min(block, run.count - done)
          if complex {
            decoder.complexParts(
              pointer, run: run, first: done, count: n, real: buffer, imaginary: buffer + block)
            statistics.add(real: buffer, imaginary: buffer + block, count: n)
          } else {
            decoder.reals(pointer, run: run, first: done, count: n, into: buffer)
            statistics.add(reals: buffer, count: n)
          }
          done += n
        }
      }
      try reported(Int64(piece.byteCount))
    }
    return statistics
  }
}

extension ElementValue {
  /// The value as a float64 (integers converted, booleans 0 or 1, complex: the real part).
  var real: Double {
    switch self {
    case .float(let v): v
    case .int(let v): Double(v)
    case .uint(let v): Double(v)
    case .bool(let b): b ? 1 : 0
    case .complex(let re, _): re
    }
  }

  /// The value as an integer (floats truncated toward zero when finite).
  var integer: Int64 {
    switch self {
    case .float(let v), .complex(let v, _):
      v.isFinite && abs(v) < 9.2e18 ? Int64(v) : 0
    case .int(let v): v
    case .uint(let v): Int64(truncatingIfNeeded: v)
    case .bool(let b): b ? 1 : 0
    }
  }
}
