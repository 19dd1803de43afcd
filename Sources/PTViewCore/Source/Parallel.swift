import Dispatch

/// Fork-join on the machine's cores, for the few phases of reading that split cleanly.
///
/// Each job writes only its own slot of a buffer allocated up front, so no job sees another's
/// result and nothing is shared but the read-only inputs the closures capture.
enum Parallel {
  /// Runs `job(0..<count)` concurrently and returns the results in index order.
  static func map<T>(_ count: Int, _ job: (Int) -> T) -> [T] {
    guard count > 1 else { return count == 1 ? [job(0)] : [] }
    let slots = UnsafeMutableBufferPointer<T?>.allocate(capacity: count)
    slots.initialize(repeating: nil)
    defer {
      _ = slots.deinitialize()
      slots.deallocate()
    }
    withoutActuallyEscaping(job) { job in
      let box = JobBox(job: job, slots: slots)
      DispatchQueue.concurrentPerform(iterations: count) { i in box.slots[i] = box.job(i) }
    }
    return slots.map { $0! }
  }

  /// Runs two different jobs at once; with `concurrently` false, one after the other on
  /// this thread (for small inputs, where starting worker threads costs more than the jobs).
  static func both<A, B>(concurrently: Bool = true, _ a: () -> A, _ b: () -> B) -> (A, B) {
    if !concurrently { return (a(), b()) }
    var first: A? = nil
    var second: B? = nil
    for result in map(2, { i -> Either<A, B> in i == 0 ? .first(a()) : .second(b()) }) {
      switch result {
      case .first(let value): first = value
      case .second(let value): second = value
      }
    }
    return (first!, second!)
  }

  private enum Either<A, B> {
    case first(A)
    case second(B)
  }

  /// Carries the job and the slots into the concurrent closure; each index is written once,
  /// by one thread.
  private final class JobBox<T>: @unchecked Sendable {
    let job: (Int) -> T
    let slots: UnsafeMutableBufferPointer<T?>
    init(job: @escaping (Int) -> T, slots: UnsafeMutableBufferPointer<T?>) {
      self.job = job
      self.slots = slots
    }
  }
}
