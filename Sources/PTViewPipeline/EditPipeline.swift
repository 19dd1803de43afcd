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
  /// How an in-place edit was written.
  public var inPlace: InPlaceWrite? = nil
}

/// How an in-place edit was written.
public enum InPlaceWrite: Sendable, Equatable {
  /// Appended after the old end (the input's size then): unchanged records stay where they are.
  case appended(oldSize: Int64, bytes: Int64)
  /// Nothing needed changing: nothing was written.
  case unchanged
  /// Rewritten whole through a temporary file and a rename: `--compact` asked for it, or
  /// appending could not do the edit (the reason).
  case rewritten(reason: String?)
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
  ///   - inputSource: the input already open (a remote object); nil opens `inputPath`.
  ///   - appendInPlace: when writing the input file itself, append the changed records and a
  ///     new directory after its end instead of rewriting it (zip and TorchScript archives;
  ///     anything else, and casts, are rewritten whole).
  ///   - appendToLinks: append even when the input has other hard links (which all change);
  ///     otherwise such an append is refused.
  public static func write(
    checkpoint: Checkpoint, inputPath: String, inputSource: (any ByteSource)? = nil,
    plan: EditPlan, outputPath: String,
    overwrite: Bool, allowInPlace: Bool = false, appendInPlace: Bool = false,
    appendToLinks: Bool = false,
    progress: @escaping @Sendable (_ done: Int64, _ total: Int64) -> Void
  ) throws(WriteFailure) -> WriteOutcome {
    let isInput = inputSource == nil && AtomicOutput.sameFile(inputPath, outputPath)
    if isInput && !allowInPlace {
      throw WriteFailure(kind: .isInput, message: "\(outputPath) is the input file")
    }
    var inPlace: InPlaceWrite?
    if isInput {
      inPlace = .rewritten(reason: nil)
      if appendInPlace {
        if let why = CheckpointRewriter.appendRefusal(checkpoint, plan.edits) {
          inPlace = .rewritten(reason: why)
        } else {
          // An append writes into the file's inode, so every hard link to it changes too (a
          // rename would change this name only): only when asked.
          if !appendToLinks, let links = AtomicOutput.linkCount(inputPath), links > 1 {
            throw WriteFailure(
              kind: .refused,
              message:
                "\(inputPath) has \(links) hard links and an in-place append changes every one;"
                + " add --hard-links to do so, or --compact to rewrite this name only")
          }
          return try append(checkpoint: checkpoint, path: inputPath, plan: plan)
        }
      }
    }
    if !isInput && !overwrite && AtomicOutput.exists(outputPath) {
      throw WriteFailure(kind: .exists, message: "\(outputPath) already exists")
    }
    let source: any ByteSource
    let mode: UInt32
    let decompressor: LazyLibzip
    if let inputSource {
      source = inputSource
      mode = 0o644
      decompressor = LazyLibzip(source: inputSource, name: inputPath)
    } else {
      let file: FileSource
      do { file = try FileSource(path: inputPath) } catch {
        throw WriteFailure(kind: .unreadable, message: "\(inputPath): \(error.message)")
      }
      source = file
      mode = file.mode
      decompressor = LazyLibzip(path: inputPath)
    }
    guard source.size == checkpoint.fileSize else {
      throw WriteFailure(kind: .unreadable, message: "\(inputPath) changed size since it was read")
    }
    let rewriter = CheckpointRewriter(
      checkpoint: checkpoint, source: source, decompressor: decompressor)
    let rewrite: CheckpointRewriter.Result
    do { rewrite = try rewriter.rewrite(plan.edits, outputPath: outputPath) } catch {
      throw WriteFailure(
        kind: error.kind == .io ? .unreadable : .failed,
        message: "\(inputPath): \(error.description)")
    }
    do {
      try AtomicOutput.write(
        rewrite.plan, from: source, to: outputPath, mode: mode, progress: progress)
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
      verifiedRecords: rewrite.records.filter(\.copied).count, inPlace: inPlace)
    return WriteOutcome(
      summary: summary(report, outputPath: outputPath), outputPath: outputPath, report: report)
  }

  /// Edits `path` in place by appending (`CheckpointRewriter.appendRefusal` said it can):
  /// the new records, directory and end records go after the old end, are synced, read back
  /// and verified; if anything fails after the append, the file is truncated back to its old
  /// size, which is the original file byte for byte.
  static func append(checkpoint: Checkpoint, path: String, plan: EditPlan)
    throws(WriteFailure) -> WriteOutcome
  {
    let source: FileSource
    do { source = try FileSource(path: path) } catch {
      throw WriteFailure(kind: .unreadable, message: "\(path): \(error.message)")
    }
    guard source.size == checkpoint.fileSize else {
      throw WriteFailure(kind: .unreadable, message: "\(path) changed size since it was read")
    }
    let rewriter = CheckpointRewriter(
      checkpoint: checkpoint, source: source, decompressor: LazyLibzip(path: path))
    let rewrite: CheckpointRewriter.Result
    do { rewrite = try rewriter.rewrite(plan.edits, outputPath: path, appending: true) } catch {
      throw WriteFailure(
        kind: error.kind == .io ? .unreadable : .failed, message: "\(path): \(error.description)")
    }
    let oldSize = source.size
    let entries = checkpoint.directory?.entries.count ?? 0
    if rewrite.records.count == entries && rewrite.records.allSatisfy(\.kept) {
      // Every record would stay as it is: the file already is the result.
      let report = WriteReport(
        plan: plan, rewrite: rewrite, inputSize: oldSize, outputSize: oldSize,
        verifiedTensors: checkpoint.entries.count, verifiedRecords: 0, inPlace: .unchanged)
      return WriteOutcome(
        summary: "\(path) needed no change; nothing written", outputPath: path, report: report)
    }
    do { try AppendOutput.append(rewrite.plan, to: path, at: oldSize) } catch {
      throw WriteFailure(kind: .failed, message: error.message)
    }
    func undo(_ why: String) -> WriteFailure {
      var message = "\(path) was appended to but " + why
      do {
        try AppendOutput.truncate(path, to: oldSize, expecting: oldSize + rewrite.plan.size)
        message += "; the append was undone, the file is as it was"
      } catch {
        message += "; undoing it failed (\(error.message)): run `ptview repair \(path)`"
      }
      return WriteFailure(kind: .failed, message: message)
    }
    // Read the result back and compare before calling it a success.
    let outputSource: FileSource
    do { outputSource = try FileSource(path: path) } catch {
      throw undo("cannot be reopened: \(error.message)")
    }
    if case .failure(let error) = AppendedArchive.intact(outputSource) {
      throw undo("does not read back as an intact archive: \(error.message)")
    }
    let written: Checkpoint
    do {
      written = try CheckpointReader(decompressor: LazyLibzip(path: path)).read(outputSource)
    } catch {
      throw undo("does not read back: \(error.description)")
    }
    var problems = RewriteVerifier.problems(
      input: checkpoint, inputSource: source, output: written, outputSource: outputSource,
      plan: plan, rewrite: rewrite)
    if written.appendedAt != oldSize {
      problems.insert("its last append does not start at the old end (byte \(oldSize))", at: 0)
    }
    if !problems.isEmpty {
      throw undo("failed verification: " + problems.prefix(3).joined(separator: "; "))
    }
    let report = WriteReport(
      plan: plan, rewrite: rewrite, inputSize: oldSize, outputSize: outputSource.size,
      verifiedTensors: written.entries.count,
      verifiedRecords: rewrite.records.filter(\.copied).count,
      inPlace: .appended(oldSize: oldSize, bytes: rewrite.plan.size))
    return WriteOutcome(
      summary: summary(report, outputPath: path), outputPath: path, report: report)
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
