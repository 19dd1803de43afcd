public import PTViewCore

/// What a user asks for: one CLI flag or one explorer key. `EditPlanner` turns a list of them
/// into concrete `Edit`s; both front ends hand their requests to it and to nothing else.
///
/// They are applied in a fixed order whatever order they were given in: the root first
/// (`extract`, then `stateDict`), then key renames (`stripPrefix`, `rename`), then
/// `drop`/`keep`, then `cast`, then device moves. Each step sees the keys the previous one
/// left.
public enum EditOperation: Hashable, Sendable {
  /// The value at a dotted key path becomes the root.
  case extract(String)
  /// The weights as a flat `OrderedDict[str, Tensor]`.
  case stateDict
  /// Remove a dotted prefix from every key that has it; `auto` detects `module.` and
  /// `_orig_mod.` (and their combinations).
  case stripPrefix(String)
  /// Rename keys by dotted prefix.
  case rename(KeyPattern)
  /// Derive strips and renames from a `load_state_dict` error message and apply them.
  case fromError(LoadErrorMessage)
  /// Remove the entries whose dotted key matches a glob (whole subtrees).
  case drop(String)
  /// Keep only the entries whose dotted key matches a glob (and what they need).
  case keep(String)
  /// Convert floating tensors to this dtype.
  case cast(DType)
  /// Move storages by device rules; `only` limits the move to some tensors. Several moves
  /// apply one after the other: each sees where the earlier ones put every storage.
  case moveDevices(DeviceRules, only: TensorSelection)

  /// The value `--strip-prefix auto` asks for detection with.
  public static let autoPrefix = "auto"

  /// Where this operation sits in the fixed order.
  var phase: Int {
    switch self {
    case .extract: 0
    case .stateDict: 1
    case .stripPrefix, .rename, .fromError: 2
    case .drop, .keep: 3
    case .cast: 4
    case .moveDevices: 5
    }
  }

  /// The dtypes `--cast` accepts, by the names users type.
  public static func castTarget(named name: String) -> DType? {
    let aliases = [
      "bf16": "bfloat16", "fp16": "float16", "half": "float16", "fp32": "float32",
      "float": "float32", "fp64": "float64", "double": "float64",
    ]
    let full = aliases[name.lowercased()] ?? name.lowercased()
    guard ["bfloat16", "float16", "float32", "float64"].contains(full) else { return nil }
    return DType.named(full)
  }

  /// Whether torch's `is_floating_point()` is true for tensors of `dtype`.
  public static func isFloating(_ dtype: DType) -> Bool {
    switch dtype.name {
    case "float64", "float32", "float16", "bfloat16", "float8_e5m2", "float8_e4m3fn",
      "float8_e5m2fnuz", "float8_e4m3fnuz", "float8_e8m0fnu":
      true
    default: false
    }
  }
}

/// The tensors a device move applies to, by their keys in the input (before any rename).
/// A storage moves when a selected tensor reads it.
public enum TensorSelection: Hashable, Sendable {
  /// Every tensor, and TorchScript code's `torch.device("...")` literals (`--to`/`--map`
  /// without `--only`, the explorer's `M` without a filter).
  case all
  /// The tensors whose key matches one of these globs (`--only`; `*` crosses dots). None
  /// given selects nothing: `init(only:)` makes `.all` of an empty list.
  case globs([String])
  /// The tensors with exactly these keys (the explorer's subtree, filtered rows, one
  /// tensor). Compared as text: a `*` in a key is a `*`, not a wildcard.
  case keys(Set<String>)

  /// What `--only GLOB...` asks for: every tensor when no glob is given.
  public init(only globs: [String]) {
    self = globs.isEmpty ? .all : .globs(globs)
  }

  /// Whether the tensor at `key` is selected.
  public func contains(_ key: String) -> Bool {
    switch self {
    case .all: true
    case .globs(let globs): globs.contains { Glob.matches($0, key) }
    case .keys(let keys): keys.contains(key)
    }
  }
}

/// Why a request cannot be carried out: one line, nothing written.
public struct EditRefusal: Error, Sendable, CustomStringConvertible {
  /// The line to show.
  public var message: String
  /// Creates a refusal.
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}
