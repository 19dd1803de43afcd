/// Finite bounds on what one decode may build, so hostile input cannot exhaust memory.
///
/// Everything the VM builds is already proportional to the input (an opcode makes at most one
/// node), so these limits cap the pathological shapes: deep MARK nesting, giant memos, and
/// single arguments larger than anything a checkpoint pickle holds.
public struct Limits: Sendable, Equatable {
  /// Which limit was reached; the raw value is the word used in messages.
  public enum Kind: String, Sendable {
    case opcodes = "opcode"
    case markDepth = "MARK depth"
    case stackDepth = "stack depth"
    case memoEntries = "memo size"
    case nodes = "object count"
    case argumentBytes = "argument size"
    case integerDigits = "integer length"
  }

  /// Maximum opcodes executed per pickle.
  public var maxOpcodes: Int = 400_000_000
  /// Maximum MARKs open at once (CPython's pickler never nests deeper than its recursion limit).
  public var maxMarkDepth: Int = 100_000
  /// Maximum items on the stack.
  public var maxStackDepth: Int = 50_000_000
  /// Maximum memo entries.
  public var maxMemoEntries: Int = 50_000_000
  /// Maximum nodes in one graph.
  public var maxNodes: Int = 100_000_000
  /// Maximum bytes in one string or bytes argument.
  public var maxArgumentBytes: Int = 1 << 31
  /// Maximum decimal digits in a text integer (CPython's default `int` conversion limit).
  public var maxIntegerDigits: Int = 4300

  /// The defaults: generous for real checkpoints, finite for hostile ones.
  public static let `default` = Limits()

  /// Creates the default limits.
  public init() {}
}
