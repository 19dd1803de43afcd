import Dispatch
import PTViewEdit

#if canImport(Glibc)
  import Glibc
#endif

/// A storage converted block by block on a worker thread, handed to the writer in order.
///
/// Two slots: while the writer writes and checksums one, the worker reads and converts the
/// next, so on two cores the two halves of the work overlap (with the folding CRC-32 the
/// worker's reading and converting is the longer half). Each slot's state is touched by one
/// side at a time; the semaphores hand it over (and order the memory accesses).
final class ConvertedBlocks: @unchecked Sendable {
  /// One converted block, valid until `release`.
  struct Block {
    /// Converted bytes.
    var bytes: UnsafeRawBufferPointer
    /// Why the worker could not make it (the writer stops).
    var failure: String?
  }

  /// What one slot holds; owned by the worker between `free` and `filled`, by the writer
  /// between `filled` and `release`.
  struct Slot {
    var source: UnsafeMutableRawBufferPointer
    var output: UnsafeMutableRawBufferPointer
    var produced = 0
    var failure: String?
    var last = false
  }

  /// The two slots' buffers, allocated once per write and reused for every converted
  /// storage (allocating them per storage grew the heap by tens of MB over 200 storages).
  final class Buffers: @unchecked Sendable {
    /// Bytes per output buffer: one block handed to the writer.
    static let size = 4 << 20
    /// Input bytes read and converted at a time, well inside a core's L2 cache (1 MiB on the
    /// machines measured): converting a piece right after the kernel copied it in reads it
    /// from cache instead of from memory, which took the 1.2 GB benchmark cast from 0.74 s
    /// (whole 4 MB blocks) to 0.43 s together with the folding CRC-32.
    static let pieceSize = 256 << 10
    let slots: UnsafeMutablePointer<Slot>

    init() {
      slots = .allocate(capacity: 2)
      for i in 0..<2 {
        (slots + i).initialize(
          to: Slot(
            source: .allocate(byteCount: Buffers.pieceSize, alignment: 64),
            output: .allocate(byteCount: Buffers.size, alignment: 64)))
      }
    }

    deinit {
      for i in 0..<2 {
        slots[i].source.deallocate()
        slots[i].output.deallocate()
      }
      slots.deinitialize(count: 2)
      slots.deallocate()
    }
  }

  private let input: Int32
  private let offset: Int64
  private let length: Int64
  private let conversion: Conversion
  private let stepElements: Int
  private let buffers: Buffers
  private var slots: UnsafeMutablePointer<Slot> { buffers.slots }
  private let free = DispatchSemaphore(value: 2)
  private let filled = DispatchSemaphore(value: 0)
  private let done = DispatchSemaphore(value: 0)
  /// Set by the writer before it hands both slots back for good; read by the worker after
  /// it takes one (the semaphore orders the two).
  private var stop = false
  private var nextSlot = 0
  private var finished = false

  init(
    input: Int32, offset: Int64, length: Int64, conversion: Conversion, buffers: Buffers
  ) {
    self.input = input
    self.offset = offset
    self.length = length
    self.conversion = conversion
    self.buffers = buffers
    stepElements =
      Buffers.size / max(conversion.inputElementSize, conversion.outputElementSize)
    for i in 0..<2 {
      slots[i].produced = 0
      slots[i].failure = nil
      slots[i].last = false
    }
    DispatchQueue.global().async { self.work() }
  }

  /// The next block in order, or nil after the last one (or after a failure was handed over).
  func next() -> Block? {
    filled.wait()
    let slot = slots[nextSlot]
    nextSlot = 1 - nextSlot
    if slot.last && slot.failure == nil { return nil }
    return Block(
      bytes: UnsafeRawBufferPointer(rebasing: slot.output[0..<slot.produced]),
      failure: slot.failure)
  }

  /// Gives the block's slot back to the worker.
  func release() { free.signal() }

  /// Stops the worker and waits for it; call once, whatever happened.
  func finish() {
    guard !finished else { return }
    finished = true
    stop = true
    free.signal()
    free.signal()
    done.wait()
  }

  private func work() {
    defer { self.done.signal() }
    let inSize = conversion.inputElementSize
    var position: Int64 = 0
    var index = 0
    while true {
      free.wait()
      let slot = slots + index
      index = 1 - index
      let elements = Int(min(Int64(stepElements), (length - position) / Int64(inSize)))
      if stop || elements <= 0 {
        slot.pointee.last = true
        slot.pointee.failure = nil
        filled.signal()
        return
      }
      // Read and convert piece by piece (see `Buffers.pieceSize`).
      let source = slot.pointee.source.baseAddress!
      let output = slot.pointee.output.baseAddress!
      var done = 0
      while done < elements {
        let pieceElements = min(Buffers.pieceSize / inSize, elements - done)
        let want = pieceElements * inSize
        let at = offset + position + Int64(done * inSize)
        var got = 0
        while got < want {
          let n = pread(input, source + got, want - got, off_t(at) + off_t(got))
          if n < 0 && errno == EINTR { continue }
          if n <= 0 {
            let place = conversion.record.map { "record \($0): " } ?? ""
            slot.pointee.failure =
              place
              + (n < 0
                ? "cannot read the input at byte \(at + Int64(got)): \(Errno.message(errno))"
                : "the input ended at byte \(at + Int64(got)) (it changed while reading?)")
            slot.pointee.last = true
            filled.signal()
            return
          }
          got += n
        }
        conversion.apply(
          UnsafeRawBufferPointer(start: source, count: want),
          into: UnsafeMutableRawBufferPointer(
            start: output + done * conversion.outputElementSize,
            count: pieceElements * conversion.outputElementSize),
          count: pieceElements)
        done += pieceElements
      }
      let produced = elements * conversion.outputElementSize
      slot.pointee.produced = produced
      position += Int64(elements * inSize)
      filled.signal()
    }
  }
}
