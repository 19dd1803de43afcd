import CSystemShims
public import PTViewCore
import PTViewEdit
import PTViewValues

#if canImport(Glibc)
  import Glibc
#endif

/// Writes one safetensors file of an export: the header, then each tensor's bytes, copied by
/// the kernel where they already sit row-major and little-endian in the input, gathered
/// through a bounded buffer otherwise. Atomic like every write: a temporary file beside the
/// destination, synced, renamed.
public enum ExportWriter {
  /// Bytes gathered before they are written (views, big-endian storages).
  static let gatherBuffer = 4 << 20

  /// Writes `header` and `tensors` (in that order, as the header lays them out) to
  /// `destination`.
  /// - Throws: `WriteError`; nothing is left behind.
  public static func write(
    header: [UInt8], tensors: [ExportTensor], reader: TensorValues, input: any ByteSource,
    to destination: String, mode: UInt32, progress: AtomicOutput.Progress? = nil
  ) throws(WriteError) {
    try write(
      header: header, tensors: tensors, inputs: [ExportInput(reader: reader, source: input)],
      to: destination, mode: mode, progress: progress)
  }

  /// Writes `header` and `tensors`, each read from `inputs[tensor.origin]` (a folder's
  /// shards written as one file, or re-sharded).
  public static func write(
    header: [UInt8], tensors: [ExportTensor], inputs: [ExportInput],
    to destination: String, mode: UInt32, progress: AtomicOutput.Progress? = nil
  ) throws(WriteError) {
    let total = Int64(header.count) + tensors.reduce(0) { $0 + $1.layout.byteCount }
    try AtomicOutput.writeStreaming(to: destination, mode: mode) { (fd) throws(WriteError) in
      var done: Int64 = 0
      var flushed: Int64 = 0
      func startWriteback(upTo end: Int64) {
        guard end - flushed >= AtomicOutput.writebackStep else { return }
        _ = ptv_start_writeback(fd, off_t(flushed), off_t(end - flushed))
        flushed = end
      }
      var failure: WriteError?
      header.withUnsafeBytes { raw in
        do throws(WriteError) {
          try AtomicOutput.writeAll(fd: fd, raw, destination: destination)
        } catch {
          failure = error
        }
      }
      if let failure { throw failure }
      done += Int64(header.count)
      var buffer: UnsafeMutableRawPointer?
      defer { buffer?.deallocate() }
      // Small copies are read into a batch and written together: a checkpoint of 80,000
      // tiny tensors would otherwise cost two system calls per tensor for a few bytes each.
      var batch: UnsafeMutableRawPointer?
      defer { batch?.deallocate() }
      var batched = 0
      func flushBatch() throws(WriteError) {
        guard batched > 0, let batch else { return }
        try AtomicOutput.writeAll(
          fd: fd, UnsafeRawBufferPointer(start: batch, count: batched), destination: destination)
        batched = 0
      }
      for tensor in tensors {
        guard inputs.indices.contains(tensor.origin) else {
          throw WriteError("\(tensor.layout.key): no input \(tensor.origin)")
        }
        let input = inputs[tensor.origin].source
        let reader = inputs[tensor.origin].reader
        switch tensor.bytes {
        case .copy(let offset, let length) where length <= smallCopy:
          if batch == nil {
            batch = UnsafeMutableRawPointer.allocate(byteCount: gatherBuffer, alignment: 64)
          }
          if batched + Int(length) > gatherBuffer { try flushBatch() }
          try readAll(input, at: offset, count: Int(length), into: batch! + batched)
          batched += Int(length)
          done += length
        case .copy(let offset, let length):
          try flushBatch()
          if let file = input as? FileSource {
            try AtomicOutput.copyRange(
              from: file.descriptor, offset: offset, length: length, to: fd,
              destination: destination
            ) {
              progress?(done + $0, total)
              startWriteback(upTo: done + $0)
            }
          } else {
            // A remote input: streamed through in bounded pieces, one request each.
            _ = try AtomicOutput.streamRange(
              from: input, offset: offset, length: length, nil, to: fd, destination: destination
            ) {
              progress?(done + $0, total)
              startWriteback(upTo: done + $0)
            }
          }
          done += length
        case .convert(let offset, let length, let conversion):
          try flushBatch()
          if buffer == nil {
            buffer = UnsafeMutableRawPointer.allocate(byteCount: gatherBuffer, alignment: 64)
          }
          let written = try convert(
            input, offset: offset, length: length, conversion, buffer: buffer!, to: fd,
            destination: destination)
          guard written == tensor.layout.byteCount else {
            throw WriteError(
              "\(tensor.layout.key): converted \(written) bytes, expected \(tensor.layout.byteCount)"
            )
          }
          done += written
          progress?(done, total)
          startWriteback(upTo: done)
        case .gather(let stored, let transform):
          try flushBatch()
          if buffer == nil {
            buffer = UnsafeMutableRawPointer.allocate(byteCount: gatherBuffer, alignment: 64)
          }
          let written = try gather(
            stored, transform: transform, reader: reader, buffer: buffer!, to: fd,
            destination: destination)
          guard written == tensor.layout.byteCount else {
            throw WriteError(
              "\(tensor.layout.key): gathered \(written) bytes, expected \(tensor.layout.byteCount)"
            )
          }
          done += written
          progress?(done, total)
        }
        if batched == 0 { startWriteback(upTo: done) }
      }
      try flushBatch()
      progress?(done, total)
    }
  }

  /// Copies up to this many bytes go through the batch instead of `copy_file_range`.
  static let smallCopy: Int64 = 64 << 10

  /// Reads exactly `count` bytes at `offset` of `input` into `pointer`.
  static func readAll(
    _ input: any ByteSource, at offset: Int64, count: Int, into pointer: UnsafeMutableRawPointer
  ) throws(WriteError) {
    guard let input = input as? FileSource else {
      let bytes: [UInt8]
      do { bytes = try input.readExactly(at: offset, count: count) } catch {
        throw WriteError("cannot read the input at byte \(offset): \(error.message)")
      }
      bytes.withUnsafeBytes { pointer.copyMemory(from: $0.baseAddress!, byteCount: count) }
      return
    }
    var got = 0
    while got < count {
      let n = pread(input.descriptor, pointer + got, count - got, off_t(offset) + off_t(got))
      if n < 0 && errno == EINTR { continue }
      if n <= 0 {
        throw WriteError(
          n < 0
            ? "cannot read the input at byte \(offset + Int64(got)): \(String(cString: strerror(errno)))"
            : "the input ended at byte \(offset + Int64(got)) (it changed while reading?)")
      }
      got += n
    }
  }

  /// Converts `length` bytes at `offset` of `input` (little-endian, as safetensors stores
  /// them) and writes the result; returns the bytes written. The buffer's first half holds
  /// what is read, its second half what is written.
  static func convert(
    _ input: any ByteSource, offset: Int64, length: Int64, _ conversion: Conversion,
    buffer: UnsafeMutableRawPointer, to fd: Int32, destination: String
  ) throws(WriteError) -> Int64 {
    let inWidth = conversion.inputElementSize
    let outWidth = conversion.outputElementSize
    let half = gatherBuffer / 2
    let step = Int64(half / max(inWidth, outWidth) * inWidth)
    var at: Int64 = 0
    var written: Int64 = 0
    while at < length {
      let n = Int(min(step, length - at))
      try readAll(input, at: offset + at, count: n, into: buffer)
      let count = n / inWidth
      let output = buffer + half
      conversion.apply(
        UnsafeRawBufferPointer(start: buffer, count: n),
        into: UnsafeMutableRawBufferPointer(start: output, count: half), count: count)
      try AtomicOutput.writeAll(
        fd: fd, UnsafeRawBufferPointer(start: output, count: count * outWidth),
        destination: destination)
      written += Int64(count * outWidth)
      at += Int64(n)
    }
    return written
  }

  /// Writes `stored`'s elements in row-major order, transformed; returns the bytes written.
  static func gather(
    _ stored: StoredTensor, transform: ElementTransform, reader: TensorValues,
    buffer: UnsafeMutableRawPointer, to fd: Int32, destination: String
  ) throws(WriteError) -> Int64 {
    let width = stored.encoding.byteWidth
    var filled = 0
    var written: Int64 = 0
    func flush() throws(WriteError) {
      guard filled > 0 else { return }
      transform.apply(buffer, count: filled / width)
      try AtomicOutput.writeAll(
        fd: fd, UnsafeRawBufferPointer(start: buffer, count: filled), destination: destination)
      written += Int64(filled)
      filled = 0
    }
    var failure: WriteError?
    do throws(CheckpointError) {
      try reader.forEachPiece(of: stored) { (pointer, piece) throws(CheckpointError) in
        for run in piece.runs {
          var remaining = run.count
          var at = run.firstByte
          while remaining > 0 {
            if filled + width > gatherBuffer {
              do throws(WriteError) { try flush() } catch {
                failure = error
                throw CheckpointError(.io, error.message)
              }
            }
            let room = (gatherBuffer - filled) / width
            let n = min(room, remaining)
            if run.step == 1 {
              (buffer + filled).copyMemory(from: pointer + at, byteCount: n * width)
              at += n * width
            } else {
              for k in 0..<n {
                (buffer + filled + k * width).copyMemory(from: pointer + at, byteCount: width)
                at += run.step * width
              }
            }
            filled += n * width
            remaining -= n
          }
        }
      }
    } catch {
      if let failure { throw failure }
      throw WriteError(error.description)
    }
    try flush()
    return written
  }
}
