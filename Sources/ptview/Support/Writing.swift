import PTViewCore
import PTViewFiles

/// The result of a successful write, for the status line and the CLI report.
struct WriteOutcome: Sendable {
  /// One line for the explorer's status bar.
  var summary: String
  /// Where the file was written.
  var outputPath: String
  /// The full report (what moved, what was left alone, what was verified).
  var report: WriteReport? = nil
}

/// Everything the remap writer did and checked.
struct WriteReport: Sendable {
  var plan: RemapPlan
  var rewrite: CheckpointRewriter.Result
  var outputSize: Int64
  var verifiedTensors: Int
  var verifiedRecords: Int
}

/// Why a write did not happen: refused (exit 1), failed (exit 1), or the input is unreadable
/// (exit 2). Nothing is left behind in any case.
struct WriteFailure: Error, CustomStringConvertible {
  enum Kind {
    /// OUT exists and overwriting was not allowed.
    case exists
    /// OUT is the input file and rewriting it in place was not allowed.
    case isInput
    case failed, unreadable
  }
  var kind: Kind
  var message: String
  var description: String { message }
}

/// The one writer behind `ptview remap` and the explorer's `w`: rewrite, write atomically,
/// read back and verify.
enum Writing {
  /// Writes `checkpoint` (read from `inputPath`) with `edits` applied to `outputPath`.
  /// - Parameters:
  ///   - overwrite: replace an existing output (never the input itself, unless it is the
  ///     output of an in-place remap, which the caller decides).
  ///   - allowInPlace: permit `outputPath` to be the input file.
  ///   - codeRules: rules for TorchScript `torch.device("...")` literals.
  static func write(
    checkpoint: Checkpoint, inputPath: String, edits: [Edit], outputPath: String, overwrite: Bool,
    allowInPlace: Bool = false, plan: RemapPlan? = nil, codeRules: DeviceRules? = nil,
    progress: @escaping @Sendable (_ done: Int64, _ total: Int64) -> Void
  ) throws -> WriteOutcome {
    let isInput = AtomicOutput.sameFile(inputPath, outputPath)
    if isInput && !allowInPlace {
      throw WriteFailure(kind: .isInput, message: "\(outputPath) is the input file")
    }
    if !isInput && !overwrite && AtomicOutput.exists(outputPath) {
      throw WriteFailure(kind: .exists, message: "\(outputPath) already exists")
    }
    let source: FileSource
    do { source = try FileSource(path: inputPath) } catch {
      throw WriteFailure(kind: .unreadable, message: "\(inputPath): \(error.message)")
    }
    guard source.size == checkpoint.fileSize else {
      throw WriteFailure(kind: .unreadable, message: "\(inputPath) changed size since it was read")
    }
    let decompressor = Loading.LazyLibzip(path: inputPath)
    let rewriter = CheckpointRewriter(
      checkpoint: checkpoint, source: source, decompressor: decompressor)
    let rewrite: CheckpointRewriter.Result
    do { rewrite = try rewriter.rewrite(edits, outputPath: outputPath, codeRules: codeRules) } catch
    {
      throw WriteFailure(
        kind: error.kind == .io ? .unreadable : .failed,
        message: "\(inputPath): \(error.description)")
    }
    do {
      try AtomicOutput.write(
        rewrite.plan, from: source, to: outputPath, mode: source.mode, progress: progress)
    } catch {
      throw WriteFailure(kind: .failed, message: error.message)
    }
    // Read the result back and compare before calling it a success.
    let written: Checkpoint
    let outputSource: FileSource
    do {
      outputSource = try FileSource(path: outputPath)
      written = try CheckpointReader(decompressor: Loading.LazyLibzip(path: outputPath)).read(
        outputSource)
    } catch let error as CheckpointError {
      throw WriteFailure(
        kind: .failed,
        message: "\(outputPath) was written but does not read back: \(error.description)")
    } catch {
      throw WriteFailure(
        kind: .failed, message: "\(outputPath) was written but cannot be reopened: \(error)")
    }
    let problems = RewriteVerifier.problems(
      input: checkpoint, inputSource: source, output: written, outputSource: outputSource,
      edits: edits,
      rewrite: rewrite)
    if !problems.isEmpty {
      throw WriteFailure(
        kind: .failed,
        message: "\(outputPath) was written but failed verification: "
          + problems.prefix(3).joined(separator: "; "))
    }
    var moved = 0
    var arguments = 0
    for edit in edits {
      switch edit {
      case .moveStorage: moved += 1
      case .setDeviceArgument: arguments += 1
      }
    }
    var changes: [String] = []
    if moved > 0 { changes.append("\(moved) storage\(moved == 1 ? "" : "s") moved") }
    if arguments > 0 {
      changes.append("\(arguments) device argument\(arguments == 1 ? "" : "s") rewritten")
    }
    let summary =
      changes.isEmpty
      ? "wrote \(outputPath) (\(Format.bytes(outputSource.size))); nothing needed moving, verified"
      : "wrote \(outputPath) (\(Format.bytes(outputSource.size))): \(changes.joined(separator: ", ")), verified"
    return WriteOutcome(
      summary: summary, outputPath: outputPath,
      report: plan.map {
        WriteReport(
          plan: $0, rewrite: rewrite, outputSize: outputSource.size,
          verifiedTensors: written.entries.count,
          verifiedRecords: rewrite.records.filter(\.copied).count)
      })
  }
}
