import PTViewCore
import PTViewJudge
import PTViewPickle
import Testing

/// Places where the VM (Sources/PTViewPickle) once differed from CPython's C unpickler, and the
/// one that remains by design: whether an argument-less INST/OBJ target is a class cannot be
/// known without importing it, so the VM records CPython's class behaviour and the scan reads
/// the opcode byte (see docs/safety.md).
@Suite("SafetyVMFidelity")
struct SafetyVMFidelityTests {
  static let os: [UInt8] = Array("os".utf8)
  static let system: [UInt8] = Array("system".utf8)

  /// CPython decodes STRING/BINSTRING/SHORT_BINSTRING with the unpickler's encoding (ASCII by
  /// default, UTF-8 in torch.load), so they push `str`, and STACK_GLOBAL accepts them
  /// (picklescan's malicious23 relies on it).
  @Test("STACK_GLOBAL accepts Python 2 strings, as CPython decodes them to str")
  func stackGlobalLegacyStrings() {
    let p: [UInt8] = [0x80, 0x04, 0x55, 2] + Self.os + [0x55, 6] + Self.system + [0x93, 0x2E]
    var machine = Machine()
    #expect(throws: Never.self) {
      let outcome = try machine.load(p)
      #expect(machine.graph.qualifiedName(outcome.root) == "os.system")
    }
  }

  /// CPython's `instantiate` (INST, OBJ) calls `cls.__new__(cls)` only when there are no
  /// arguments AND cls is a type; a function is called (`PyObject_CallObject(cls, ())`).
  /// Which one a global is cannot be known without importing it, so the VM records every
  /// argument-less INST/OBJ as `.newobj` (CPython's class behaviour) and the scan reads the
  /// opcode byte: it reports the call either way.
  @Test("INST of a function without arguments: .newobj in the graph, a call in the scan")
  func instWithoutArguments() throws {
    let p: [UInt8] = [0x28, 0x69] + Array("builtins\nbreakpoint\n".utf8) + [0x2E]
    var machine = Machine()
    let outcome = try machine.load(p)
    guard case .object(let index) = machine.graph[outcome.root],
      case .newobj = machine.graph.construction(index)
    else {
      Issue.record("not recorded as .newobj: \(machine.graph[outcome.root])")
      return
    }
    let report = SafetyScanner().scan(MemorySource(p), path: "inst.pkl")
    #expect(report.verdict == .dangerous, "\(report.text)")
    #expect(report.text.contains("builtins.breakpoint()"), "\(report.text)")
  }

  /// CPython's READONLY_BUFFER accepts any object with the buffer protocol (an ndarray, a
  /// bytearray built by REDUCE); an object whose type is unknown statically must pass.
  @Test("READONLY_BUFFER on an object built by REDUCE")
  func readonlyBufferOnObject() {
    let p: [UInt8] =
      [0x80, 0x05, 0x63] + Array("builtins\nbytearray\n".utf8) + [0x29, 0x52, 0x98, 0x2E]
    var machine = Machine()
    #expect(throws: Never.self) { _ = try machine.load(p) }
  }
}
