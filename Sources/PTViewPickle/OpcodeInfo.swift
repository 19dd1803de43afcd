/// One row of the opcode table, after CPython's `pickletools.OpcodeInfo`.
///
/// The disassembler and the argument reader are driven by this table alone, so adding an
/// opcode means adding a row, not code paths.
public struct OpcodeInfo: Sendable, Equatable {
  /// The pickletools spelling, e.g. `"BININT1"`; used verbatim in disassembly output.
  public let name: String
  /// How the inline argument is encoded, or nil when the opcode has none.
  public let argument: ArgumentKind?
  /// What the opcode pops, bottom first (pickletools' `stack_before`).
  public let stackBefore: [StackItem]
  /// What the opcode pushes, bottom first (pickletools' `stack_after`).
  public let stackAfter: [StackItem]
  /// The first pickle protocol that has this opcode.
  public let protocolVersion: Int
}

/// How an opcode's inline argument is encoded (pickletools' `ArgumentDescriptor` names).
public enum ArgumentKind: String, Sendable, CaseIterable {
  case uint1 = "uint1"
  case uint2 = "uint2"
  case uint4 = "uint4"
  case uint8 = "uint8"
  case int4 = "int4"
  case long1 = "long1"
  case long4 = "long4"
  case float8 = "float8"
  case floatnl = "floatnl"
  case decimalnlShort = "decimalnl_short"
  case decimalnlLong = "decimalnl_long"
  case stringnl = "stringnl"
  case stringnlNoescape = "stringnl_noescape"
  case stringnlNoescapePair = "stringnl_noescape_pair"
  case string1 = "string1"
  case string4 = "string4"
  case bytes1 = "bytes1"
  case bytes4 = "bytes4"
  case bytes8 = "bytes8"
  case bytearray8 = "bytearray8"
  case unicodestringnl = "unicodestringnl"
  case unicodestring1 = "unicodestring1"
  case unicodestring4 = "unicodestring4"
  case unicodestring8 = "unicodestring8"

  /// pickletools' `ArgumentDescriptor.n`: a fixed byte count, or a negative code for
  /// "up to newline" (-1) and "length taken from a 1/4/8-byte prefix" (-2, -3/-4, -5).
  public var pickletoolsN: Int {
    switch self {
    case .uint1: 1
    case .uint2: 2
    case .uint4, .int4: 4
    case .uint8, .float8: 8
    case .floatnl, .decimalnlShort, .decimalnlLong, .stringnl, .stringnlNoescape,
      .stringnlNoescapePair, .unicodestringnl:
      -1
    case .long1, .string1, .bytes1, .unicodestring1: -2
    case .long4, .string4: -3
    case .bytes4, .unicodestring4: -4
    case .bytes8, .bytearray8, .unicodestring8: -5
    }
  }
}

/// The kinds of stack items pickletools names in its stack-effect columns.
public enum StackItem: String, Sendable {
  case any = "any"
  case mark = "mark"
  case stackslice = "stackslice"
  case int = "int"
  case intOrBool = "int_or_bool"
  case bool = "bool"
  case none = "None"
  case float = "float"
  case str = "str"
  case bytes = "bytes"
  case bytesOrStr = "bytes_or_str"
  case bytearray = "bytearray"
  case buffer = "buffer"
  case list = "list"
  case tuple = "tuple"
  case dict = "dict"
  case set = "set"
  case frozenset = "frozenset"
}
