import PTViewCore
public import PTViewPickle

/// The scan's verdict on a file, a container member or a pickle.
///
/// Raw values order *confidence that nothing runs*, not file severity: see `severity` for the
/// order in which several results are combined.
public enum SafetyVerdict: String, Sendable, Equatable, CaseIterable {
  /// Only plain data: torch's weights_only set, plain containers, numpy array/dtype/scalar
  /// reconstruction. Nothing can run.
  case safe
  /// Instantiates classes or calls functions beyond plain data, but nothing known to run
  /// code or touch the system (a pickled model class, `argparse.Namespace`).
  case suspicious
  /// Could not be parsed far enough to know. Never reported as safe.
  case unscannable
  /// Something that can run code or touch the system when loaded.
  case dangerous

  /// How results combine: dangerous, then unscannable, then suspicious, then safe.
  public var severity: Int {
    switch self {
    case .safe: 0
    case .suspicious: 1
    case .unscannable: 2
    case .dangerous: 3
    }
  }

  /// `ptview scan`'s exit code: 0 safe, 3 suspicious, 4 dangerous, 2 unscannable.
  public var exitCode: Int32 {
    switch self {
    case .safe: 0
    case .suspicious: 3
    case .unscannable: 2
    case .dangerous: 4
    }
  }

  /// The more severe of two verdicts.
  public static func worst(_ a: SafetyVerdict, _ b: SafetyVerdict) -> SafetyVerdict {
    a.severity >= b.severity ? a : b
  }
}

/// What kind of danger (or doubt) a finding names. The danger list only chooses this label;
/// the verdict comes from the allowlist and from what the pickle does with the global.
public enum DangerKind: String, Sendable, Equatable {
  case runsCommands = "runs system commands"
  case evaluatesCode = "evaluates or compiles Python code"
  case importsModules = "imports modules or resolves names at load time"
  case dynamicAttributes = "reaches attributes dynamically"
  case nestedLoad = "loads a nested pickle"
  case fileAccess = "reads or writes files"
  case network = "opens network connections"
  case installsPackages = "installs packages or creates environments"
  case nativeCode = "loads native code"
  case modifiesInterpreter = "modifies modules or the interpreter"
  case exitsProcess = "exits the process"
  case callsResult = "calls the result of another call"
  case codeLikeArgument = "passes code or a shell command as an argument"
  case standardLibraryCall = "calls a standard-library function that is not a data type"
  case platformCall = "calls a PyTorch or NumPy function outside the data reconstructors"
  case methodCall = "calls a method reached through attributes"
  case interpreterInternals = "reaches interpreter internals (dunder attributes)"
  case importSideEffect = "importing the module runs code"
  case instantiatesClass = "instantiates a class outside the allowlist"
  case callsFunction = "calls a function outside the allowlist"
  case referencesGlobal = "references a class or function outside the allowlist"
  case unknownCallable = "calls an object ptview cannot resolve"
  case computedImport = "imports a global whose name is computed at load time"
  case unresolvedExtension =
    "calls a copyreg extension code that only the loading process can resolve"
  case torchScript = "TorchScript archive: torch.jit.load runs the TorchScript code it holds"
  case unparsable = "cannot be parsed"
  case encrypted = "encrypted content"
  case unsupportedFormat = "a format ptview does not read"
}

/// One reason for a verdict: where in the file, what the global resolves to, and a one-line
/// rendering of what the pickle does with it.
public struct SafetyFinding: Sendable, Equatable {
  /// `.suspicious`, `.dangerous` or `.unscannable`.
  public var verdict: SafetyVerdict
  /// What kind of danger or doubt.
  public var kind: DangerKind
  /// The container path to the pickle: `archive/data.pkl`, `model.zip!inner/data.pkl`, `pickle #2`.
  public var location: String
  /// Byte offset of the opcode: in the file when `offsetIsInFile`, else in the decompressed member.
  public var offset: Int64
  /// Whether `offset` is a file offset (false inside compressed or nested members).
  public var offsetIsInFile: Bool
  /// The resolved `module.name` of the global involved, if any.
  public var global: String?
  /// A one-line rendering of the call or reference (`os.system('id')`).
  public var rendering: String?
  /// A sentence for people.
  public var detail: String
  /// The graph node the finding is about (in the graph that was analyzed), for the explorer.
  public var node: ValueID?

  public init(
    verdict: SafetyVerdict, kind: DangerKind, location: String, offset: Int64, offsetIsInFile: Bool,
    global: String?, rendering: String?, detail: String, node: ValueID?
  ) {
    self.verdict = verdict
    self.kind = kind
    self.location = location
    self.offset = offset
    self.offsetIsInFile = offsetIsInFile
    self.global = global
    self.rendering = rendering
    self.detail = detail
    self.node = node
  }
}

/// The scan of one file.
public struct SafetyReport: Sendable {
  /// The file's path as given.
  public var path: String
  /// The overall verdict.
  public var verdict: SafetyVerdict
  /// What the file is (`zip archive (torch.save)`, `legacy torch.save stream`, `pickle`, ...).
  public var format: String
  /// Pickles that were decoded, by location.
  public var pickles: [String]
  /// The reasons, most severe first.
  public var findings: [SafetyFinding]
  /// Facts that do not change the verdict.
  public var notes: [String]
  /// Findings dropped from `findings` to keep the report short (duplicates of listed ones).
  public var omittedFindings: Int

  public init(
    path: String, verdict: SafetyVerdict, format: String, pickles: [String],
    findings: [SafetyFinding],
    notes: [String], omittedFindings: Int
  ) {
    self.path = path
    self.verdict = verdict
    self.format = format
    self.pickles = pickles
    self.findings = findings
    self.notes = notes
    self.omittedFindings = omittedFindings
  }
}
