import PTViewCore
import PTViewPickle

/// Decodes the pickles in a buffer (one after another, as repeated `pickle.load` calls on one
/// file would) and analyzes each: with `pickle.loads`' reading, and again with the readings of
/// a file-object unpickler and of CPython's decoding of Python 2 strings when those differ.
struct PickleScan: Sendable {
  /// What one buffer held.
  struct Result: Sendable {
    var findings: [SafetyFinding] = []
    /// Locations of the pickles that decoded to STOP.
    var pickles: [String] = []
    /// Why the first pickle could not be decoded (set only when it failed).
    var failure: String?
    /// True when a decode failed because the buffer ended (a bigger window may help).
    var ranOut = false
    /// Index just past the last pickle that decoded.
    var end: Int = 0
    var notes: [String] = []
  }

  var limits: Limits
  /// Scans nested bytes (`pickle.loads(b'...')` arguments).
  var scanNested: (@Sendable ([UInt8], String) -> [SafetyFinding])?
  var useDangerList = true

  /// Scans the pickles in `bytes` from `start`.
  /// - Parameters:
  ///   - base: the file offset of `bytes[0]` when `inFile`; reported offsets add it.
  ///   - maxPickles: how many consecutive pickles to decode.
  ///   - firstIsPickle: whether the content is known to be a pickle (a failure of the first
  ///     makes it unscannable); otherwise a failed first decode only keeps dangerous findings.
  func scan(
    _ bytes: [UInt8], start: Int = 0, base: Int64, inFile: Bool, location: String, maxPickles: Int,
    firstIsPickle: Bool
  ) -> Result {
    var result = Result()
    result.end = start
    var position = start
    var index = 0
    while position < bytes.count && index < maxPickles {
      let name =
        index == 0 ? location : "\(location), pickle \(index + 1) at byte \(base + Int64(position))"
      let one = scanOne(bytes, from: position, base: base, inFile: inFile, location: name)
      if let end = one.end {
        result.findings += one.findings
        result.pickles.append(name)
        result.end = end
        position = end
        index += 1
        continue
      }
      // The decode failed before STOP.
      let dangerous = one.findings.filter { $0.verdict == .dangerous }
      if index == 0 {
        if firstIsPickle {
          result.findings += one.findings
          result.failure = one.error
          result.ranOut = one.ranOut
        } else {
          result.findings += dangerous
          if !dangerous.isEmpty { result.failure = one.error }
        }
      } else {
        // Trailing bytes after a complete pickle: a loader calling pickle.load again would
        // execute everything before the failure, so dangerous findings still count.
        result.findings += dangerous
        result.ranOut = result.ranOut || (one.ranOut && !dangerous.isEmpty)
        if bytes.count - position > 0 {
          result.notes.append(
            "\(bytes.count - position) byte(s) after the last complete pickle (from byte \(base + Int64(position))) do not decode as a pickle"
          )
        }
      }
      break
    }
    return result
  }

  struct One {
    var findings: [SafetyFinding]
    /// Index just past STOP when the pickle decoded.
    var end: Int?
    var error: String?
    var ranOut: Bool
  }

  /// One pickle at `start`, under every reading that differs.
  func scanOne(_ bytes: [UInt8], from start: Int, base: Int64, inFile: Bool, location: String)
    -> One
  {
    var machine = Machine(limits: limits)
    var findings: [SafetyFinding] = []
    var end: Int? = nil
    var error: String? = nil
    var ranOut = false
    var hasFrame = false
    var hasLegacyString = false
    do {
      let outcome = try machine.load(bytes, base: 0, from: start)
      end = outcome.end
      hasFrame = outcome.highestProtocol >= 4
    } catch let e {
      error = e.description
      ranOut = Self.ranOut(e)
      hasFrame = true
    }
    let graph = machine.graph
    for index in 0..<graph.count {
      switch graph[ValueID(Int32(index))] {
      case .legacyString: hasLegacyString = true
      default: break
      }
      if hasLegacyString { break }
    }
    findings += analyze(
      graph, bytes: bytes, map: { Int64($0) }, base: base, inFile: inFile, location: location)

    // A file-object unpickler (torch.load's zip path, numpy.load, joblib) reads frames
    // differently when they lie about their length.
    if hasFrame {
      let stream = EffectiveStream.fileReader(bytes, from: start)
      if stream.diverged {
        var m = Machine(limits: limits)
        var streamEnd: Int? = nil
        do { _ = try m.load(stream.bytes, base: 0, from: 0); streamEnd = stream.nextStart } catch {}
        let extra = analyze(
          m.graph, bytes: stream.bytes, map: { Int64(stream.sourceIndex($0)) }, base: base,
          inFile: inFile,
          location: location + " (as a file reader reads its frames)")
        findings += extra
        if end == nil, let streamEnd { end = streamEnd }
      }
    }
    // CPython decodes Python 2 strings to str, so STACK_GLOBAL accepts them.
    if hasLegacyString || (error?.contains("STACK_GLOBAL") ?? false) {
      let stream = EffectiveStream.strings(bytes, from: start, limits: limits)
      if stream.diverged {
        var m = Machine(limits: limits)
        var decoded = false
        do { _ = try m.load(stream.bytes, base: 0, from: 0); decoded = true } catch {}
        let extra = analyze(
          m.graph, bytes: stream.bytes, map: { Int64(stream.sourceIndex($0)) }, base: base,
          inFile: inFile,
          location: location)
        // The same site read both ways is one finding, shown as CPython sees it (str, not bytes).
        let sites = Set(extra.map(Self.site))
        findings.removeAll { sites.contains(Self.site($0)) }
        findings += extra
        if end == nil, decoded, let next = stream.nextStart { end = next }
      }
    }
    return One(findings: Self.deduplicated(findings), end: end, error: error, ranOut: ranOut)
  }

  static func ranOut(_ e: PickleError) -> Bool {
    switch e.reason {
    case .endOfData, .truncated: true
    case .invalidArgument(let why): why == "no newline found"
    default: false
    }
  }

  private func analyze(
    _ graph: ValueGraph, bytes: [UInt8], map: @escaping @Sendable (Int) -> Int64, base: Int64,
    inFile: Bool,
    location: String
  ) -> [SafetyFinding] {
    guard graph.count > 0 else { return [] }
    var analyzer = PickleSafetyAnalyzer(graph: graph, nodes: 0..<graph.count, location: location)
    analyzer.opcodeAt = { offset in offset >= 0 && offset < bytes.count ? bytes[offset] : nil }
    analyzer.reportOffset = { base + map($0) }
    analyzer.offsetIsInFile = inFile
    analyzer.scanNested = scanNested
    analyzer.useDangerList = useDangerList
    return analyzer.findings()
  }

  /// Drops repeats of the same finding (same verdict, kind, global and offset) from the
  /// several readings of one pickle.
  /// What a finding is about, regardless of how its call is rendered.
  static func site(_ f: SafetyFinding) -> String {
    "\(f.verdict)|\(f.kind)|\(f.global ?? "")|\(f.offset)|\(f.location)"
  }

  static func deduplicated(_ findings: [SafetyFinding]) -> [SafetyFinding] {
    var seen: Set<String> = []
    var out: [SafetyFinding] = []
    for f in findings {
      let key = "\(f.verdict)|\(f.kind)|\(f.global ?? "")|\(f.offset)|\(f.rendering ?? "")"
      if seen.insert(key).inserted { out.append(f) }
    }
    return out
  }
}
