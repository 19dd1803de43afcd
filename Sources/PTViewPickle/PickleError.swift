/// A pickle stream that cannot be decoded, and where.
///
/// A struct with a `Reason` enum instead of an enum of cases, so that no case can forget its
/// offset and tests can compare whole values.
public struct PickleError: Error, Equatable, Sendable, CustomStringConvertible {
  /// Absolute byte offset (in the file, not the record) of the opcode that failed.
  public var offset: Int
  /// The failing opcode; nil when the byte is not an opcode or the stream ended.
  public var opcode: Opcode?
  /// What went wrong.
  public var reason: Reason

  /// Creates an error at `offset`.
  public init(offset: Int, opcode: Opcode?, reason: Reason) {
    self.offset = offset
    self.opcode = opcode
    self.reason = reason
  }

  /// The kinds of failure, each with the facts needed to explain it.
  public enum Reason: Error, Equatable, Sendable {
    /// The byte is not a pickle opcode.
    case unknownOpcode(UInt8)
    /// The stream ended before STOP.
    case endOfData
    /// An argument claims more bytes than the stream holds.
    case truncated(needed: Int, available: Int)
    /// An opcode pops more items than there are above the topmost MARK.
    case stackUnderflow
    /// An opcode needs a MARK and there is none.
    case markNotFound
    /// GET of a memo key that was never stored.
    case memoKeyMissing(Int)
    /// A string argument is not valid UTF-8 (surrogates allowed, as CPython's surrogatepass).
    case invalidUTF8
    /// An inline argument is malformed (bad integer literal, missing newline, bad quotes...).
    case invalidArgument(String)
    /// The operands on the stack have the wrong kind for the opcode (as CPython would refuse).
    case wrongOperand(String)
    /// PROTO names a protocol newer than 5.
    case unsupportedProtocol(Int)
    /// NEXT_BUFFER: out-of-band buffers are never supplied.
    case outOfBandBuffer
    /// A configured safety limit was reached.
    case limitExceeded(Limits.Kind, limit: Int)
  }

  /// What went wrong and at which opcode, without the offset (for messages that print the
  /// offset themselves).
  public var summary: String {
    reason.message + (opcode.map { " (\($0.info.name))" } ?? "")
  }

  /// One line for people: what, which opcode, where.
  public var description: String {
    let at = "at byte \(offset)"
    let op = opcode.map { " (\($0.info.name))" } ?? ""
    return "\(reason.message)\(op) \(at)"
  }
}

extension PickleError.Reason {
  /// A short human explanation.
  public var message: String {
    switch self {
    case .unknownOpcode(let byte):
      "unknown opcode 0x\(String(byte, radix: 16, uppercase: false).leftPadded(to: 2))"
    case .endOfData: "pickle ends before STOP"
    case .truncated(let needed, let available):
      "argument needs \(needed) bytes but only \(available) remain"
    case .stackUnderflow: "stack underflow"
    case .markNotFound: "no MARK on the stack"
    case .memoKeyMissing(let key): "memo key \(key) was never stored"
    case .invalidUTF8: "string is not valid UTF-8"
    case .invalidArgument(let why): "bad argument: \(why)"
    case .wrongOperand(let why): why
    case .unsupportedProtocol(let version): "unsupported pickle protocol \(version)"
    case .outOfBandBuffer: "out-of-band buffer requested (NEXT_BUFFER) but none can be supplied"
    case .limitExceeded(let kind, let limit): "\(kind.rawValue) limit of \(limit) exceeded"
    }
  }
}

extension String {
  /// Left-pads with zeros; used for fixed-width hex.
  func leftPadded(to width: Int) -> String {
    count >= width ? self : String(repeating: "0", count: width - count) + self
  }
}
