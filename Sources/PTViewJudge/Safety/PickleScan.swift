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
  func scanOne(
    _ bytes: [UInt8], from start: Int, base: Int64, inFile: Bool, location: String,
    nesting: Int = 0
  ) -> One {
    var machine = Machine(limits: limits)
    machine.lenient = true
    machine.pauseAfterBuild = SafetyPolicy.joblibArrayWrappers
    var findings: [SafetyFinding] = []
    var end: Int? = nil
    var error: String? = nil
    var ranOut = false
    var hasFrame = false
    var hasLegacyString = false
    var joblibArrays = 0
    do {
      var outcome = try machine.load(bytes, base: 0, from: start)
      // joblib: after each array wrapper's BUILD its unpickler reads the array from the file
      // (raw bytes, or a nested pickle for object arrays), then unpickles on after it.
      while outcome.paused && error == nil {
        joblibArrays += 1
        switch JoblibArray.next(machine.graph, wrapper: outcome.root, bytes, at: outcome.end) {
        case .raw(let next) where joblibArrays <= 1_000_000:
          outcome = try machine.resume(bytes, base: 0, from: next)
        case .pickle where nesting < 16:
          let nested = scanOne(
            bytes, from: outcome.end, base: base, inFile: inFile,
            location: location + " (joblib object array at byte \(base + Int64(outcome.end)))",
            nesting: nesting + 1)
          findings += nested.findings
          if let next = nested.end {
            outcome = try machine.resume(bytes, base: 0, from: next)
          } else {
            error = "the object array of a joblib wrapper does not decode: \(nested.error ?? "?")"
            ranOut = nested.ranOut
          }
        case .raw, .pickle, .failure:
          error =
            "a joblib array at byte \(base + Int64(outcome.end)) cannot be read: unsized, past the end, or object arrays nested too deep"
          ranOut =
            JoblibArray.next(machine.graph, wrapper: outcome.root, bytes, at: outcome.end)
            == .failure(ranOut: true)
        }
      }
      if error == nil { end = outcome.end }
      // joblib reads with the pure-Python unpickler, whose frames are strict: no file-reader
      // reading to model, and the raw array bytes must not be read as opcodes.
      hasFrame = outcome.highestProtocol >= 4 && joblibArrays == 0
    } catch let e {
      error = e.description
      // The VM reads a last line without newline as pure Python does: a failure on the
      // buffer's last line may only mean the window cut it.
      let from = min(max(e.offset, start), bytes.count)
      ranOut = Self.ranOut(e) || !bytes[from...].contains(0x0A)
      hasFrame = joblibArrays == 0
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

    // A loader other than joblib's (plain pickle.load of the same file) does not skip the
    // array bytes: it reads them as opcodes. What it would run there counts too.
    if joblibArrays > 0 {
      var plain = Machine(limits: limits)
      plain.lenient = true
      _ = try? plain.load(bytes, base: 0, from: start)
      findings += analyze(
        plain.graph, bytes: bytes, map: { Int64($0) }, base: base, inFile: inFile,
        location: location + " (as plain pickle.load reads it, array bytes as opcodes)"
      ).filter { $0.verdict == .dangerous }
    }

    // A file-object unpickler (torch.load's zip path, numpy.load, joblib) reads frames
    // differently when they lie about their length.
    if hasFrame {
      let stream = EffectiveStream.fileReader(bytes, from: start)
      if stream.diverged {
        var m = Machine(limits: limits)
        m.lenient = true
        var streamEnd: Int? = nil
        do { _ = try m.load(stream.bytes, base: 0, from: 0); streamEnd = stream.nextStart } catch {}
        let extra = analyze(
          m.graph, bytes: stream.bytes, map: { Int64(stream.sourceIndex($0)) }, base: base,
          inFile: inFile,
          location: location + " (as a file reader reads its frames)")
        findings += extra
        if end == nil, let streamEnd { end = streamEnd }
      }
      // Pickles after this one are read by a file reader (nothing else reads several), and
      // it has consumed the whole frame that holds STOP: the next pickle starts after it.
      if let next = stream.nextStart, let e = end, next > e { end = next }
    }
    // CPython decodes Python 2 strings to str, so STACK_GLOBAL accepts them.
    if hasLegacyString || (error?.contains("STACK_GLOBAL") ?? false) {
      let stream = EffectiveStream.strings(bytes, from: start, limits: limits)
      if stream.diverged {
        var m = Machine(limits: limits)
        m.lenient = true
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

/// The bytes joblib's `NumpyArrayWrapper.read_array` consumes after the wrapper's BUILD.
enum JoblibArray: Equatable {
  /// Raw array bytes (after the optional alignment padding): unpickling resumes at the index.
  case raw(next: Int)
  /// An object array: a whole pickle follows.
  case pickle
  case failure(ranOut: Bool)

  static func next(_ graph: ValueGraph, wrapper: ValueID, _ bytes: [UInt8], at position: Int)
    -> JoblibArray
  {
    var state: [String: ValueID] = [:]
    for mutation in graph.mutations(of: wrapper) {
      guard case .build(let s) = mutation, case .dict(let c) = graph[s] else { continue }
      let items = graph.container(c)
      var i = 0
      while i + 1 < items.count {
        if let key = graph.string(items[i]) { state[key] = items[i + 1] }
        i += 2
      }
    }
    guard let shapeID = state["shape"], let shape = graph.sequence(shapeID),
      let dtype = state["dtype"], let (itemSize, hasObjects) = dtypeSize(graph, dtype)
    else { return .failure(ranOut: false) }
    var count: Int64 = 1
    for d in shape {
      guard let n = graph.int(d), n >= 0 else { return .failure(ranOut: false) }
      let (product, overflow) = count.multipliedReportingOverflow(by: n)
      guard !overflow else { return .failure(ranOut: false) }
      count = product
    }
    if hasObjects { return count == 0 ? .raw(next: position) : .pickle }
    var at = position
    if let alignment = state["numpy_array_alignment_bytes"], case .int = graph[alignment] {
      guard at < bytes.count else { return .failure(ranOut: true) }
      at += 1 + Int(bytes[at])
    }
    let (size, overflow) = count.multipliedReportingOverflow(by: Int64(itemSize))
    guard !overflow, size >= 0 else { return .failure(ranOut: false) }
    guard size <= Int64(bytes.count - min(at, bytes.count)), at <= bytes.count else {
      return .failure(ranOut: true)
    }
    return .raw(next: at + Int(size))
  }

  /// The item size and object-ness of a pickled `numpy.dtype(descr, False, True)` + state.
  static func dtypeSize(_ graph: ValueGraph, _ dtype: ValueID) -> (Int, Bool)? {
    guard case .object(let index) = graph[dtype],
      case .reduce(let callee, let args) = graph.construction(index),
      graph.qualifiedName(callee) == "numpy.dtype",
      let descr = graph.sequence(args)?.first.flatMap({ graph.string($0) })
    else { return nil }
    var hasObjects = descr.hasPrefix("O")
    var elementSize: Int64 = -1
    for mutation in graph.mutations(of: dtype) {
      guard case .build(let s) = mutation, let items = graph.sequence(s) else { continue }
      if items.count > 5, let size = graph.int(items[5]) { elementSize = size }
      // Structured dtypes: any field holding objects.
      var strings: [String] = []
      collect(graph, items, depth: 0, into: &strings)
      if strings.contains(where: { $0.hasPrefix("O") && $0.dropFirst().allSatisfy(\.isNumber) }) {
        hasObjects = true
      }
    }
    if elementSize > 0 { return (Int(elementSize), hasObjects) }
    guard let size = Int(descr.drop(while: { !$0.isNumber })), size > 0 else {
      return hasObjects ? (8, true) : nil
    }
    return (size, hasObjects)
  }

  static func collect(_ graph: ValueGraph, _ ids: [ValueID], depth: Int, into out: inout [String]) {
    guard depth < 6 else { return }
    for id in ids.prefix(256) {
      if let s = graph.string(id) {
        out.append(s)
      } else if let seq = graph.sequence(id) {
        collect(graph, seq, depth: depth + 1, into: &out)
      } else if case .dict(let c) = graph[id] {
        collect(graph, graph.container(c), depth: depth + 1, into: &out)
      } else if case .object(let index) = graph[id] {
        let c = graph.construction(index)
        collect(graph, [c.args], depth: depth + 1, into: &out)
        for m in graph.mutations(of: id) {
          if case .build(let s) = m { collect(graph, [s], depth: depth + 1, into: &out) }
        }
      }
    }
  }
}
