import PTViewCore

/// The devices of the machine a prediction is for (`--device`, repeatable).
public struct DeviceSet: Sendable, Equatable {
  /// GPUs `cuda:0 ..< cudaCount`.
  public var cudaCount = 0
  /// Intel GPUs `xpu:0 ..< xpuCount`.
  public var xpuCount = 0
  /// Apple's MPS backend.
  public var mps = false

  /// A CPU-only machine.
  public init() {}

  /// Adds a `--device` value: `cpu`, `cuda` (one GPU), `cuda:N` (GPUs 0..N), `xpu[:N]`, `mps`.
  /// Returns false for anything else.
  public mutating func add(_ spec: String) -> Bool {
    let s = spec.lowercased()
    if s == "cpu" || s == "meta" { return true }
    if s == "mps" {
      mps = true
      return true
    }
    for (prefix, apply) in [("cuda", 0), ("xpu", 1)] {
      guard s == prefix || s.hasPrefix(prefix + ":") else { continue }
      var count = 1
      if s.hasPrefix(prefix + ":") {
        guard let n = Int(s.dropFirst(prefix.count + 1)), n >= 0, n < 4096 else { return false }
        count = n + 1
      }
      if apply == 0 { cudaCount = max(cudaCount, count) } else { xpuCount = max(xpuCount, count) }
      return true
    }
    return false
  }

  /// Why `torch.load` cannot restore a storage tagged `location` here (torch 2.15's
  /// `default_restore_location`), or nil when it can.
  public func restoreProblem(_ location: String) -> String? {
    if location == "cpu" || location == "meta" { return nil }
    if let problem = backend("cuda", location, count: cudaCount) {
      return problem.isEmpty ? nil : problem
    }
    if location.hasPrefix("mps") {
      return mps
        ? nil
        : "torch.UntypedStorage(): Storage device not recognized: mps (MPS exists only on Apple machines)"
    }
    if matches("privateuseone", location) {
      return "The PRIVATEUSEONE device module is not registered."
    }
    if matches("hpu", location) { return "The HPU device module is not registered." }
    if let problem = backend("xpu", location, count: xpuCount) {
      return problem.isEmpty ? nil : problem
    }
    if matches("mtia", location) {
      return
        "Attempting to deserialize object on a MTIA device but torch.mtia.is_available() is False."
    }
    return
      "don't know how to restore data location of torch.storage.UntypedStorage (tagged with \(location))"
  }

  /// Whether a tensor can be moved to `device` here (the device argument of
  /// `_rebuild_device_tensor_from_cpu_tensor`, which torch passes to `tensor.to(device=...)`).
  public func deviceProblem(_ device: String) -> String? {
    if device == "cpu" || device == "meta" || device.hasPrefix("cpu:") { return nil }
    if device == "cuda" || device.hasPrefix("cuda:") {
      if cudaCount == 0 {
        return "no CUDA device here (torch: Found no NVIDIA driver on your system)"
      }
      let index = device == "cuda" ? 0 : Int(device.dropFirst(5)) ?? -1
      return index >= 0 && index < cudaCount ? nil : "device \(device) does not exist here"
    }
    if device == "mps" || device.hasPrefix("mps:") {
      return mps ? nil : "MPS exists only on Apple machines"
    }
    if device == "xpu" || device.hasPrefix("xpu:") {
      let index = device == "xpu" ? 0 : Int(device.dropFirst(4)) ?? -1
      return index >= 0 && index < xpuCount ? nil : "no XPU device \(device) here"
    }
    return "device \(device) is not available here"
  }

  private func matches(_ backend: String, _ location: String) -> Bool {
    guard location.hasPrefix(backend) else { return false }
    let rest = location.dropFirst(backend.count)
    return rest.isEmpty || rest.first == ":" || rest.first?.isNumber == true
  }

  /// "" when restorable, a message when not, nil when the tag is not this backend's.
  private func backend(_ name: String, _ location: String, count: Int) -> String? {
    guard matches(name, location) else { return nil }
    let upper = name.uppercased()
    let rest = location.dropFirst(name.count)
    var index = 0
    if rest.first == ":" {
      guard let n = Int(rest.dropFirst()), n >= 0, !rest.dropFirst().isEmpty,
        rest.dropFirst().allSatisfy(\.isNumber)
      else { return "Invalid device string: '\(location)'" }
      index = n
    } else if !rest.isEmpty {
      return "Invalid device string: '\(location)'"
    }
    if count == 0 {
      return
        "Attempting to deserialize object on a \(upper) device but torch.\(name).is_available() is False."
    }
    if index >= count {
      return
        "Attempting to deserialize object on \(upper) device \(index) but torch.\(name).device_count() is \(count)."
    }
    return ""
  }
}

/// One reason `torch.load` fails (or a fact worth knowing).
public struct DoctorProblem: Sendable, Equatable {
  /// How it is fixed.
  public enum Fix: String, Sendable {
    /// `ptview remap` rewrites the file so it loads.
    case rewrite
    /// Code must change (allowlist a class, call another loader) or a trusted class is needed.
    case code
  }

  /// What kind of problem.
  public enum Kind: String, Sendable {
    case location = "device"
    case global = "global"
    case buildType = "build"
    case opcode = "opcode"
    case torchScript = "torchscript"
    case wholeModule = "module"
    case structure = "structure"
    case format = "format"
  }

  public var kind: Kind
  public var fix: Fix
  /// One line for people.
  public var message: String
  /// Where: record and byte offset, when known.
  public var record: String?
  public var offset: Int64?
  /// The global or type to allowlist, or the location tag.
  public var subject: String?

  public init(
    _ kind: Kind, _ fix: Fix, _ message: String, record: String? = nil, offset: Int64? = nil,
    subject: String? = nil
  ) {
    self.kind = kind
    self.fix = fix
    self.message = message
    self.record = record
    self.offset = offset
    self.subject = subject
  }
}

/// The doctor's prediction for `torch.load(FILE)` with torch 2.15's defaults.
public struct DoctorReport: Sendable {
  /// 0 loads as is, 3 fails but a ptview rewrite fixes it, 4 needs code or a trusted class,
  /// 2 unreadable.
  public enum Verdict: Int32, Sendable {
    case loads = 0
    case unreadable = 2
    case rewriteFixes = 3
    case needsCode = 4
  }

  public var path: String
  public var verdict: Verdict
  /// The container (`zip`, `legacy`, `torchscript`, ...).
  public var format: String
  public var problems: [DoctorProblem]
  /// Facts that do not change the verdict.
  public var notes: [String]
  /// Storage location tags and how many storages carry each.
  public var locations: [(String, Int)]
  /// Globals (and BUILD types) to pass to `torch.serialization.add_safe_globals`, in order.
  public var safeGlobals: [String]
  /// Whole `nn.Module` (or other object) classes pickled in the file: module and class.
  public var pickledClasses: [String]
  /// The `ptview remap` command line, when a rewrite is part of the fix.
  public var remapCommand: String?
  /// Python to run, when code is part of the fix.
  public var code: String?
  /// Why the file could not be read (verdict `.unreadable`).
  public var unreadableReason: String?
  /// `ptview edit` commands that write the weights alone as a file a plain `torch.load`
  /// accepts: an alternative to the code fix (the verdict stays `.needsCode`, since loading
  /// the file as it is still needs code or trust).
  public var editFixes: [EditFix] = []
  /// The `ptview remap` command's arguments after `ptview`, unquoted.
  public var remapArguments: [String]? {
    remapCommand == nil ? nil : ["remap", path, "-o", LoadDoctor.outputName(path), "--to", "cpu"]
  }
  /// Why several edit commands are offered (several entries hold weights).
  public var editNote: String?
}
