public import PTViewCore
public import PTViewEdit
import PTViewFiles
import PTViewZip

/// Everything a write did and checked, for the CLI report and the explorer's status line.
public struct WriteReport: Sendable {
  /// What was planned.
  public var plan: EditPlan
  /// What the rewriter produced.
  public var rewrite: CheckpointRewriter.Result
  /// The input's size.
  public var inputSize: Int64
  /// The output's size.
  public var outputSize: Int64
  /// Tensors read back from the output.
  public var verifiedTensors: Int
  /// Copied records whose checksums were checked.
  public var verifiedRecords: Int
}

/// The result of a successful write.
public struct WriteOutcome: Sendable {
  /// One line for the explorer's status bar.
  public var summary: String
  /// Where the file was written.
  public var outputPath: String
  /// The full report.
  public var report: WriteReport
}

/// Why a write did not happen: refused (exit 1), failed (exit 1), or the input is unreadable
/// (exit 2). Nothing is left behind in any case.
public struct WriteFailure: Error, Sendable, CustomStringConvertible {
  /// What went wrong.
  public enum Kind: Sendable {
    /// OUT exists and overwriting was not allowed.
    case exists
    /// OUT is the input file and rewriting it in place was not allowed.
    case isInput
    /// The request cannot be carried out (planning refused it).
    case refused
    case failed, unreadable
  }
  /// What went wrong.
  public var kind: Kind
  /// One line.
  public var message: String
  /// Creates a failure.
  public init(kind: Kind, message: String) {
    self.kind = kind
    self.message = message
  }
  public var description: String { message }
  /// The exit code the CLI uses.
  public var exitCode: Int32 { kind == .unreadable ? 2 : 1 }
}

/// The one pipeline behind `ptview edit`, `ptview remap` and the explorer's `w`: plan,
/// rewrite, write atomically, read back and verify.
public enum EditPipeline {
  /// Plans `operations` on `checkpoint`; a refusal becomes a `.refused` failure.
  public static func plan(_ checkpoint: Checkpoint, _ operations: [EditOperation])
    throws(WriteFailure) -> EditPlan
  {
    do { return try EditPlanner.plan(checkpoint, operations) } catch {
      throw WriteFailure(kind: .refused, message: error.message)
    }
  }

  /// Writes `checkpoint` (read from `inputPath`) with `plan` applied to `outputPath`.
  /// - Parameters:
  ///   - overwrite: replace an existing output (never the input itself, unless
  ///     `allowInPlace`).
  ///   - allowInPlace: permit `outputPath` to be the input file.
  public static func write(
    checkpoint: Checkpoint, inputPath: String, plan: EditPlan, outputPath: String,
    overwrite: Bool, allowInPlace: Bool = false,
    progress: @escaping @Sendable (_ done: Int64, _ total: Int64) -> Void
  ) throws(WriteFailure) -> WriteOutcome {
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
    let rewriter = CheckpointRewriter(
      checkpoint: checkpoint, source: source, decompressor: LazyLibzip(path: inputPath))
    let rewrite: CheckpointRewriter.Result
    do { rewrite = try rewriter.rewrite(plan.edits, outputPath: outputPath) } catch {
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
    let outputSource: FileSource
    do { outputSource = try FileSource(path: outputPath) } catch {
      throw WriteFailure(
        kind: .failed, message: "\(outputPath) was written but cannot be reopened: \(error.message)"
      )
    }
    let written: Checkpoint
    do {
      written = try CheckpointReader(decompressor: LazyLibzip(path: outputPath)).read(outputSource)
    } catch {
      throw WriteFailure(
        kind: .failed,
        message: "\(outputPath) was written but does not read back: \(error.description)")
    }
    let problems = RewriteVerifier.problems(
      input: checkpoint, inputSource: source, output: written, outputSource: outputSource,
      plan: plan, rewrite: rewrite)
    if !problems.isEmpty {
      throw WriteFailure(
        kind: .failed,
        message: "\(outputPath) was written but failed verification: "
          + problems.prefix(3).joined(separator: "; "))
    }
    let report = WriteReport(
      plan: plan, rewrite: rewrite, inputSize: source.size, outputSize: outputSource.size,
      verifiedTensors: written.entries.count,
      verifiedRecords: rewrite.records.filter(\.copied).count)
    return WriteOutcome(
      summary: summary(report, outputPath: outputPath), outputPath: outputPath, report: report)
  }

  /// The status line: what changed, in a few words.
  static func summary(_ report: WriteReport, outputPath: String) -> String {
    var moved = 0
    var arguments = 0
    var renamed = 0
    var dropped = 0
    var casts = 0
    var code = 0
    for edit in report.plan.edits {
      switch edit {
      case .moveStorage: moved += 1
      case .setDeviceArgument: arguments += 1
      case .renameKey: renamed += 1
      case .dropItem: dropped += 1
      case .castStorage: casts += 1
      case .rewriteCode: code += report.rewrite.codeRewrites.count
      case .newRoot, .newStateDict: break
      }
    }
    func count(_ n: Int, _ noun: String, _ verb: String) -> String? {
      let plural = noun == "entry" ? "entries" : noun + "s"
      return n > 0 ? "\(n) \(n == 1 ? noun : plural) \(verb)" : nil
    }
    var changes: [String] = []
    if let root = report.plan.root { changes.append("root: \(root)") }
    changes += [
      count(moved, "storage", "moved"), count(arguments, "device argument", "rewritten"),
      count(code, "code literal", "rewritten"), count(renamed, "key", "renamed"),
      count(dropped, "entry", "dropped"), count(casts, "storage", "cast"),
    ].compactMap { $0 }
    let size = Format.bytes(report.outputSize)
    let saved =
      report.outputSize < report.inputSize
      ? ", \(Format.bytes(report.inputSize - report.outputSize)) smaller" : ""
    return changes.isEmpty
      ? "wrote \(outputPath) (\(size)); nothing needed changing, verified"
      : "wrote \(outputPath) (\(size)\(saved)): \(changes.joined(separator: ", ")), verified"
  }
}
