/// Text files that sit beside checkpoints (DeepSpeed's `latest` tag file, its copied
/// `zero_to_fp32.py`, READMEs, requirements): no loader hands them to torch.load, so a scan
/// reports what they are instead of calling them unscannable pickles.
///
/// A text file is only recognised after the pickle scan gave up on it with nothing found: a
/// protocol-0 pickle is ASCII text too, and one that imports or calls anything before it
/// breaks is still judged by its findings (`qualifies`).
public enum PlainTextFile {
  /// Largest file classified as text (bigger ones stay unscannable).
  public static let maxSize = 16 << 20

  /// What `bytes` is when it is UTF-8 text without NUL or other control characters than
  /// tab, newline, carriage return and form feed: a kind for the report, or nil.
  public static func kind(of bytes: [UInt8], name: String) -> String? {
    guard !bytes.isEmpty, bytes.count <= maxSize else { return nil }
    for byte in bytes
    where byte < 0x20 && byte != 0x09 && byte != 0x0A && byte != 0x0D && byte != 0x0C {
      return nil
    }
    guard bytes.firstIndex(of: 0x7F) == nil, String(validating: bytes, as: UTF8.self) != nil
    else { return nil }
    let base = name.split(separator: "/").last.map(String.init) ?? name
    if base.hasSuffix(".py") || bytes.starts(with: Array("#!".utf8)) {
      return "Python script"
    }
    return "text file"
  }

  /// Whether a scan report may be replaced by the text classification: the scan found the
  /// file unparsable and nothing else (no import, call or reference before it broke).
  public static func qualifies(_ report: SafetyReport) -> Bool {
    report.verdict == .unscannable && !report.findings.isEmpty
      && report.findings.allSatisfy { $0.kind == .unparsable }
  }

  /// The report for a text file of `kind`: safe, with a note saying why.
  public static func report(path: String, kind: String) -> SafetyReport {
    let note =
      kind == "Python script"
      ? "a Python script, not a pickle: torch.load never reads it, but running it runs its code; review it as code"
      : "plain text, not a pickle: torch.load never reads it"
    return SafetyReport(
      path: path, verdict: .safe, format: "\(kind) (no pickle)", pickles: [], findings: [],
      notes: [note], omittedFindings: 0)
  }
}
