import Dispatch

#if canImport(Glibc)
  import Glibc
#endif

/// Element ranges of several tensors cut into jobs and worked by a few threads: what `stats`
/// (`TensorValues.statistics`) and `diff` (`ValueDiff.fill`) share. The reads are preads and
/// the work pure, so the threads need no more than a job counter; each job's result has a
/// slot of its own, so merging the results in job order gives the same answer however the
/// threads were scheduled. After a failure no new job starts.
struct ParallelJobs {
  /// Logical elements `from..<to` of item `item`.
  struct Job {
    var item: Int
    var from: Int64
    var to: Int64
  }

  let jobs: [Job]

  /// Jobs of at most `size` elements covering `counts[i]` elements of each item `i` (an item
  /// without elements still gets one empty job, so it has a result).
  init(counts: [Int64], size: Int64) {
    var jobs: [Job] = []
    for (item, count) in counts.enumerated() {
      var from: Int64 = 0
      repeat {
        let to = min(count, from + size)
        jobs.append(Job(item: item, from: from, to: to))
        from = to
      } while from < count
    }
    self.jobs = jobs
  }

  /// Runs `work(job, report)` for every job on up to `workers` threads and returns the
  /// results in job order. `report(bytes)` adds bytes read; `progress` gets the running total
  /// (its calls never overlap).
  func run<Value, Failure: Error>(
    workers: Int, empty: Value, progress: (@Sendable (Int64) -> Void)?,
    work: (Job, _ report: (Int64) -> Void) -> Result<Value, Failure>
  ) -> [Result<Value, Failure>] {
    let results = UnsafeMutableBufferPointer<Result<Value, Failure>>.allocate(
      capacity: jobs.count)
    results.initialize(repeating: .success(empty))
    defer {
      _ = results.deinitialize()
      results.deallocate()
    }
    let shared = JobCounter(jobCount: jobs.count, progress: progress)
    let worker = { (_: Int) in
      while let index = shared.nextJob() {
        results[index] = work(jobs[index]) { shared.report($0) }
        if case .failure = results[index] { shared.stop() }
      }
    }
    let threads = max(1, min(workers, jobs.count))
    withoutActuallyEscaping(worker) { worker in
      let box = WorkBox(worker)
      DispatchQueue.concurrentPerform(iterations: threads) { box.work($0) }
    }
    return Array(results)
  }
}

/// The state the workers share: the next job, a stop flag, bytes done.
private final class JobCounter: @unchecked Sendable {
  private var lock = pthread_mutex_t()
  private var next = 0
  private let jobCount: Int
  private var stopped = false
  private var done: Int64 = 0
  private let progress: (@Sendable (Int64) -> Void)?

  init(jobCount: Int, progress: (@Sendable (Int64) -> Void)?) {
    self.jobCount = jobCount
    self.progress = progress
    pthread_mutex_init(&lock, nil)
  }

  deinit { pthread_mutex_destroy(&lock) }

  func nextJob() -> Int? {
    pthread_mutex_lock(&lock)
    defer { pthread_mutex_unlock(&lock) }
    guard !stopped, next < jobCount else { return nil }
    next += 1
    return next - 1
  }

  func stop() {
    pthread_mutex_lock(&lock)
    stopped = true
    pthread_mutex_unlock(&lock)
  }

  func report(_ bytes: Int64) {
    guard let progress else { return }
    pthread_mutex_lock(&lock)
    done += bytes
    progress(done)
    pthread_mutex_unlock(&lock)
  }
}

/// Carries the worker closure into `concurrentPerform`.
private final class WorkBox: @unchecked Sendable {
  let work: (Int) -> Void
  init(_ work: @escaping (Int) -> Void) { self.work = work }
}
