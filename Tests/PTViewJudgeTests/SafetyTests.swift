import PTViewCore
import PTViewJudge
import PTViewPickle
import Testing

/// The scan's model of the unpickler and its policy, on hand-assembled pickles.
@Suite("Safety")
struct SafetyTests {
  // Opcode helpers.
  static func glob(_ m: String, _ n: String) -> [UInt8] { [0x63] + Array("\(m)\n\(n)\n".utf8) }
  static func u(_ s: String) -> [UInt8] {
    let b = Array(s.utf8)
    return [0x58, UInt8(b.count & 0xFF), UInt8(b.count >> 8 & 0xFF), 0, 0] + b
  }
  static func su(_ s: String) -> [UInt8] { [0x8C, UInt8(s.utf8.count)] + Array(s.utf8) }
  static let proto2: [UInt8] = [0x80, 0x02]
  static let proto4: [UInt8] = [0x80, 0x04]
  static let tuple1: [UInt8] = [0x85]
  static let reduce: [UInt8] = [0x52]
  static let stop: [UInt8] = [0x2E]

  static func scan(_ bytes: [UInt8], useDangerList: Bool = true) -> SafetyReport {
    var scanner = SafetyScanner()
    scanner.useDangerList = useDangerList
    return scanner.scan(MemorySource(bytes), path: "test")
  }

  @Test("plain data is safe")
  func plainData() {
    let p =
      Self.proto2 + Self.glob("collections", "OrderedDict") + [0x29] + Self.reduce + [0x28]
      + Self.u("a")
      + [0x4B, 1] + [0x75] + Self.stop
    let r = Self.scan(p)
    #expect(r.verdict == .safe, "\(r.text)")
  }

  @Test("a call of os.system is dangerous, with the offset and the call rendered")
  func osSystem() throws {
    let p =
      Self.proto2 + Self.glob("os", "system") + Self.u("id") + Self.tuple1 + Self.reduce + Self.stop
    let r = Self.scan(p)
    #expect(r.verdict == .dangerous)
    let f = try #require(r.findings.first)
    #expect(f.global == "os.system")
    #expect(f.rendering == "os.system('id')")
    #expect(f.offset == 21)  // the REDUCE
    #expect(f.kind == .runsCommands)
  }

  @Test("a dangerous call before a corrupt tail is still dangerous")
  func corruptTail() {
    let p =
      Self.proto2 + Self.glob("posix", "system") + Self.u("id") + Self.tuple1 + Self.reduce + [
        0xFF, 0xFF,
      ]
    #expect(Self.scan(p).verdict == .dangerous)
  }

  @Test("plain data cut off before STOP is unscannable, never safe")
  func truncated() {
    let p = Self.proto2 + [0x7D, 0x28] + Self.u("a")
    #expect(Self.scan(p).verdict == .unscannable)
  }

  @Test("Python 2 strings feed STACK_GLOBAL as str, as CPython decodes them")
  func legacyStringStackGlobal() {
    let p =
      Self.proto4 + [0x55, 2] + Array("os".utf8) + [0x55, 6] + Array("system".utf8) + [0x93]
      + Self.su("id")
      + Self.tuple1 + Self.reduce + Self.stop
    let r = Self.scan(p)
    #expect(r.verdict == .dangerous, "\(r.text)")
  }

  @Test("a frame that lies about its length is read the way a file-object unpickler reads it")
  func lyingFrame() {
    let hidden = Self.glob("posix", "system") + Self.u("x") + Self.tuple1 + Self.reduce + [0x30]
    let pad = 256 - 2 - hidden.count
    let body: [UInt8] =
      [0x42, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00] + hidden + Array(repeating: 0x4E, count: pad)
    let p = Self.proto4 + [0x28, 0x95, 2, 0, 0, 0, 0, 0, 0, 0] + body + [0x31, 0x4E] + Self.stop
    // pickle.loads sees only bytes; the file reader executes posix.system.
    let stream = EffectiveStreamProbe.fileReaderDiverges(p)
    #expect(stream)
    #expect(Self.scan(p).verdict == .dangerous)
  }

  @Test("INST of a function without arguments is a call")
  func instFunction() {
    let p: [UInt8] = [0x28] + [0x69] + Array("builtins\nbreakpoint\n".utf8) + Self.stop
    #expect(Self.scan(p).verdict == .dangerous)
  }

  @Test("a class instantiated with NEWOBJ and BUILD is suspicious")
  func modelClass() {
    let p =
      Self.proto2 + Self.glob("__main__", "Net") + [0x29, 0x81, 0x7D] + Self.u("training") + [
        0x88, 0x73, 0x62,
      ]
      + Self.stop
    let r = Self.scan(p)
    #expect(r.verdict == .suspicious, "\(r.text)")
    #expect(r.findings.first?.kind == .instantiatesClass)
  }

  @Test("BUILD on a global (a module, a function) is dangerous")
  func buildOnGlobal() {
    let p =
      Self.proto2 + Self.glob("numpy", "prod") + [0x7D] + Self.u("a") + Self.u("os") + [0x73, 0x62]
      + Self.stop
    #expect(Self.scan(p).verdict == .dangerous)
  }

  @Test("calling the result of a call is dangerous, whatever the names")
  func resultCalled() {
    let inner = Self.glob("somepkg", "factory") + [0x29] + Self.reduce
    let p = Self.proto2 + inner + Self.u("x") + Self.tuple1 + Self.reduce + Self.stop
    #expect(Self.scan(p, useDangerList: false).verdict == .dangerous)
  }

  @Test("unlisted standard-library and PyTorch callables are dangerous without the danger list")
  func generalization() {
    for (m, n) in [
      ("zipapp", "create_archive"), ("timeit", "timeit"), ("torch.utils.collect_env", "run"),
      ("pdb", "run"),
    ] {
      let p = Self.proto2 + Self.glob(m, n) + Self.u("x") + Self.tuple1 + Self.reduce + Self.stop
      #expect(Self.scan(p, useDangerList: false).verdict == .dangerous, "\(m).\(n)")
    }
  }

  @Test("third-party calls are suspicious, and dangerous with code-like arguments")
  func thirdParty() {
    let plain =
      Self.proto2 + Self.glob("pandas._libs.tslibs.timestamps", "_unpickle_timestamp") + [0x4B, 1]
      + Self.tuple1
      + Self.reduce + Self.stop
    #expect(Self.scan(plain).verdict == .suspicious)
    let code =
      Self.proto2 + Self.glob("somepkg", "run") + Self.u("__import__('os').system('id')")
      + Self.tuple1
      + Self.reduce + Self.stop
    #expect(Self.scan(code).verdict == .dangerous)
  }

  @Test("names resolve like find_class: Python 2 names, dotted paths")
  func resolve() {
    #expect(SafetyPolicy.resolve(module: "__builtin__", name: "eval").full == "builtins.eval")
    #expect(
      SafetyPolicy.resolve(module: "copy_reg", name: "_reconstructor").full
        == "copyreg._reconstructor")
    #expect(SafetyPolicy.resolve(module: "__builtin__", name: "unicode").full == "builtins.str")
    let dotted = SafetyPolicy.resolve(module: "builtins", name: "eval.__call__")
    #expect(dotted.path == ["eval", "__call__"])
    #expect(
      SafetyPolicy.reachesInternals(SafetyPolicy.resolve(module: "numpy", name: "__builtins__")))
    #expect(
      !SafetyPolicy.reachesInternals(SafetyPolicy.resolve(module: "copyreg", name: "__newobj__")))
    #expect(SafetyPolicy.importRunsCode("torch.utils.bottleneck.__main__"))
  }

  @Test("several pickles in a row: the second one counts")
  func stacked() {
    let first = Self.proto2 + [0x5D] + Self.stop
    let second =
      Self.proto2 + Self.glob("os", "system") + Self.u("id") + Self.tuple1 + Self.reduce + Self.stop
    let r = Self.scan(first + second)
    #expect(r.verdict == .dangerous)
    #expect(r.pickles.count == 2)
  }

  @Test("npy headers: object dtypes hold a pickle")
  func npyObjects() {
    #expect(SafetyScanner.npyHasObjects("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }"))
    #expect(
      SafetyScanner.npyHasObjects(
        "{'descr': [('a', '<i4'), ('b', '|O')], 'fortran_order': False, 'shape': (2,), }"))
    #expect(
      !SafetyScanner.npyHasObjects("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }"))
  }

  @Test("content decides the container, not the name")
  func detection() {
    #expect(Self.scan([0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C, 0, 4]).verdict == .unscannable)
    #expect(Self.scan(Array("hello world\n".utf8)).verdict == .unscannable)
    #expect(Self.scan([]).verdict == .unscannable)
  }

  @Test("verdicts combine: dangerous, then unscannable, then suspicious")
  func combine() {
    #expect(SafetyVerdict.worst(.unscannable, .suspicious) == .unscannable)
    #expect(SafetyVerdict.worst(.unscannable, .dangerous) == .dangerous)
    #expect(SafetyVerdict.dangerous.exitCode == 4)
    #expect(SafetyVerdict.unscannable.exitCode == 2)
    #expect(SafetyVerdict.suspicious.exitCode == 3)
  }

  @Test("the analyzer works on an explorer's graph and names the nodes")
  func analyzerOnGraph() throws {
    let p =
      Self.proto2 + Self.glob("os", "system") + Self.u("id") + Self.tuple1 + Self.reduce + Self.stop
    var machine = Machine()
    _ = try machine.load(p)
    let findings = PickleSafetyAnalyzer(
      graph: machine.graph, nodes: 0..<machine.graph.count, location: "data.pkl"
    ).findings()
    let f = try #require(findings.first)
    let node = try #require(f.node)
    #expect(machine.graph.calleeName(node) == "os.system")
  }
}

/// Reaches the internal stream model through the public scan: the lying-frame sample is only
/// dangerous when the file reader's view is modelled, so a scan of the bytes-only reading is
/// compared with the full scan.
enum EffectiveStreamProbe {
  static func fileReaderDiverges(_ bytes: [UInt8]) -> Bool {
    var machine = Machine()
    guard (try? machine.load(bytes)) != nil else { return false }
    let plain = PickleSafetyAnalyzer(
      graph: machine.graph, nodes: 0..<machine.graph.count, location: "x"
    ).findings()
    return plain.isEmpty
  }
}
