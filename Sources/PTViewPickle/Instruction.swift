/// One decoded opcode with its inline argument, as `pickletools.genops` yields it.
public struct Instruction: Sendable {
  /// Absolute offset of the opcode byte.
  public var offset: Int
  /// The opcode.
  public var opcode: Opcode
  /// The decoded inline argument, if the opcode has one.
  public var argument: Argument?
  /// Absolute offset just past the argument.
  public var end: Int
}

/// A decoded inline argument. Counted payloads stay slices of the input (no copy).
public enum Argument: Sendable, Equatable {
  /// A fixed-width integer (uint1, uint2, uint4, int4, uint8) or a short decimal.
  case int(Int64)
  /// An integer of any size as little-endian two's complement bytes (long1, long4, decimals
  /// that overflow 64 bits).
  case long([UInt8])
  /// INT's `01` / `00` spelling of True / False.
  case bool(Bool)
  /// float8 or floatnl.
  case float(Double)
  /// A counted payload as stored: bytes, Latin-1 string bytes, or UTF-8 text bytes.
  case bytes(ArraySlice<UInt8>)
  /// A newline-terminated argument after decoding (escapes undone; UNICODE turned into UTF-8).
  case text([UInt8])
  /// GLOBAL and INST: module and name.
  case pair([UInt8], [UInt8])
}
