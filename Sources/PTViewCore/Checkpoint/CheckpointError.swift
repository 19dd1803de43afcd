/// Why a checkpoint cannot be read: the record and byte offset, and what is wrong.
///
/// The CLI prints it as one line (`FILE: RECORD: byte N: message`) and exits with 2.
public struct CheckpointError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The broad class of failure.
  public enum Kind: String, Sendable {
    /// The bytes are damaged or hostile.
    case malformed
    /// A format ptview recognises but does not read (yet).
    case unsupportedFormat
    /// Reading the file failed.
    case io
  }

  /// The class of failure.
  public var kind: Kind
  /// The record (zip entry name, or legacy section) where it happened.
  public var record: String?
  /// The absolute byte offset in the file.
  public var offset: Int64?
  /// What is wrong.
  public var message: String

  /// Creates an error.
  public init(_ kind: Kind, record: String? = nil, offset: Int64? = nil, _ message: String) {
    self.kind = kind
    self.record = record
    self.offset = offset
    self.message = message
  }

  /// `RECORD: byte N: message`, leaving out what is unknown.
  public var description: String {
    var parts: [String] = []
    if let record { parts.append(record) }
    if let offset { parts.append("byte \(offset)") }
    parts.append(message)
    return parts.joined(separator: ": ")
  }
}
