import PTViewPickle
import PTViewTestSupport
import Testing

/// Hand-assembled pickles for the VM's semantics and its error values.
@Suite struct MachineTests {
  func decode(_ bytes: [UInt8]) throws(PickleError) -> (ValueGraph, ValueID) {
    var machine = Machine()
    let outcome = try machine.load(bytes)
    return (machine.graph, outcome.root)
  }

  func error(_ bytes: [UInt8], limits: Limits = .default) -> PickleError? {
    var machine = Machine(limits: limits)
    do {
      _ = try machine.load(bytes)
      return nil
    } catch {
      return error
    }
  }

  @Test("memo GET shares the node instead of copying it")
  func memoSharing() throws {
    // ] q0 ( h0 h0 l .  -> [[], [] ] same list twice... built as LIST of two gets
    let (graph, root) = try decode([
      0x80, 0x02, 0x5D, 0x71, 0x00, 0x28, 0x68, 0x00, 0x68, 0x00, 0x6C, 0x2E,
    ])
    let items = try #require(graph.sequence(root))
    #expect(items.count == 2)
    #expect(items[0] == items[1])
  }

  @Test("a list can contain itself")
  func cycle() throws {
    // ] q0 h0 a .   -> L = []; L.append(L)
    let (graph, root) = try decode([0x80, 0x02, 0x5D, 0x71, 0x00, 0x68, 0x00, 0x61, 0x2E])
    #expect(graph.sequence(root) == [root])
  }

  @Test("GLOBAL, REDUCE, BUILD and persistent ids become nodes; nothing is called")
  func symbolic() throws {
    // c os\nsystem\n ( X'echo' t R .
    var bytes: [UInt8] =
      [0x80, 0x02, 0x63] + Array("os\nsystem\n".utf8) + [0x28, 0x58, 4, 0, 0, 0]
    bytes += Array("echo".utf8) + [0x74, 0x52, 0x2E]
    let (graph, root) = try decode(bytes)
    #expect(graph.calleeName(root) == "os.system")
    #expect(graph.callArguments(root).map { $0.compactMap { graph.string($0) } } == ["echo"])
  }

  @Test("INT 01 and 00 are booleans, as in CPython")
  func textBooleans() throws {
    let (graph, root) = try decode(Array("(I01\nI00\nI7\nt.".utf8))
    let items = try #require(graph.sequence(root))
    #expect(graph[items[0]] == .bool(true))
    #expect(graph[items[1]] == .bool(false))
    #expect(graph[items[2]] == .int(7))
  }

  @Test("LONG1 beyond 64 bits keeps every byte")
  func bigIntegers() throws {
    // LONG1 9 bytes: 2**64
    let (graph, root) = try decode([0x80, 0x02, 0x8A, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x2E])
    guard case .bigInt(let s) = graph[root] else {
      Issue.record("not a big int")
      return
    }
    #expect(PyLong.decimal(graph.bytes(s)) == "18446744073709551616")
  }

  @Test("several pickles back to back, each with its own memo")
  func backToBack() throws {
    let first: [UInt8] = [0x80, 0x02, 0x4B, 0x01, 0x71, 0x00, 0x2E]
    let second: [UInt8] = [0x80, 0x02, 0x68, 0x00, 0x2E]
    var machine = Machine()
    let a = try machine.load(first + second)
    #expect(machine.graph[a.root] == .int(1))
    #expect(throws: PickleError(offset: 9, opcode: .binget, reason: .memoKeyMissing(0))) {
      _ = try machine.load(first + second, from: a.end)
    }
  }

  @Test(
    "errors carry the failing opcode's offset",
    arguments: [
      // (bytes, offset, opcode, reason)
      (
        [0x80, 0x02, 0x68, 0x05, 0x2E] as [UInt8], 2, Opcode.binget,
        PickleError.Reason.memoKeyMissing(5)
      ),
      ([0x80, 0x02, 0x74, 0x2E], 2, .tuple, .markNotFound),
      ([0x80, 0x02, 0x85, 0x2E], 2, .tuple1, .stackUnderflow),
      ([0x80, 0x02, 0xFF], 2, nil, .unknownOpcode(0xFF)),
      ([0x80, 0x02, 0x4B], 2, .binint1, .truncated(needed: 1, available: 0)),
      (
        [0x80, 0x02, 0x8D, 0, 0, 0, 0, 1, 0, 0, 0], 2, .binunicode8,
        .truncated(needed: 4_294_967_296, available: 0)
      ),
      ([0x80, 0x02, 0x58, 2, 0, 0, 0, 0xC3, 0x28, 0x2E], 2, .binunicode, .invalidUTF8),
      ([0x80, 0x63], 0, nil, .unsupportedProtocol(99)),
      ([0x80, 0x02, 0x4B, 0x01], 4, nil, .endOfData),
      ([0x80, 0x02, 0x28, 0x2E], 3, .stop, .stackUnderflow),
    ] as [([UInt8], Int, Opcode?, PickleError.Reason)])
  func errorOffsets(
    _ bytes: [UInt8], _ offset: Int, _ opcode: Opcode?, _ reason: PickleError.Reason
  ) {
    let got = error(bytes)
    if case .unsupportedProtocol = reason {
      #expect(got?.reason == reason)
      return
    }
    #expect(got == PickleError(offset: offset, opcode: opcode, reason: reason))
  }

  @Test("a million nested MARKs stop at the MARK depth limit, quickly")
  func markBomb() {
    let bytes = [0x80, 0x02] + [UInt8](repeating: 0x28, count: 1_000_000) + [0x2E]
    let got = error(bytes)
    #expect(got?.reason == .limitExceeded(.markDepth, limit: Limits.default.maxMarkDepth))
    #expect(got?.offset == 2 + Limits.default.maxMarkDepth)
  }

  @Test("frames that lie about their length are read as CPython's C unpickler reads them")
  func lyingFrame() throws {
    // FRAME claims 2 bytes but the stream goes on past it: C only checks availability.
    let bytes: [UInt8] = [0x80, 0x04, 0x95, 2, 0, 0, 0, 0, 0, 0, 0, 0x4B, 0x07, 0x2E]
    let (graph, root) = try decode(bytes)
    #expect(graph[root] == .int(7))
    // A frame longer than what is left: the C unpickler stops, and so does the VM...
    let long: [UInt8] = [0x80, 0x04, 0x95, 200, 0, 0, 0, 0, 0, 0, 0, 0x4E, 0x2E]
    #expect(error(long)?.reason == .truncated(needed: 200, available: 2))
    // ...unless it reads as the scan does: the pure-Python unpickler (joblib's, dill's) takes
    // the rest of the data as the frame and reads on.
    var lenient = Machine()
    lenient.lenient = true
    #expect(try lenient.load(long).end == long.count)
  }

  @Test("the graph survives a failure, so a call before a corrupt tail is still visible")
  func partialGraph() {
    var bytes: [UInt8] =
      [0x80, 0x02, 0x63] + Array("os\nsystem\n".utf8) + [0x28, 0x58, 2, 0, 0, 0]
    bytes += Array("ls".utf8) + [0x74, 0x52, 0xFF]
    var machine = Machine()
    #expect(throws: PickleError.self) { _ = try machine.load(bytes) }
    let names = (0..<machine.graph.count).compactMap {
      machine.graph.calleeName(ValueID(Int32($0)))
    }
    #expect(names == ["os.system"])
  }

  @Test("memo keys far apart use the sparse memo")
  func sparseMemo() throws {
    // K 1, LONG_BINPUT 4_000_000_000, LONG_BINGET 4_000_000_000
    let (graph, root) = try decode([
      0x80, 0x02, 0x4B, 0x01, 0x72, 0x00, 0x28, 0x6B, 0xEE, 0x6A, 0x00, 0x28, 0x6B, 0xEE, 0x86,
      0x2E,
    ])
    let items = try #require(graph.sequence(root))
    #expect(items.count == 2 && items[0] == items[1])
  }

  @Test("BUILD on a container is refused, as CPython refuses it, unless the state is empty")
  func buildOnList() throws {
    // {1: 2} as the state of a list: no unpickler accepts it.
    #expect(
      error([0x80, 0x02, 0x5D, 0x7D, 0x4B, 1, 0x4B, 2, 0x73, 0x62, 0x2E])?.reason
        == .wrongOperand("BUILD on a list"))
    // A None state sets nothing in both unpicklers; other false states (`{}`, `()`, `False`,
    // `0`) only in the pure-Python one (`if state:`), which the scan's lenient reading follows.
    let (graph, root) = try decode([0x80, 0x02, 0x5D, 0x4E, 0x62, 0x2E])
    #expect(graph.sequence(root) == [])
    for state: [UInt8] in [[0x7D], [0x29], [0x89], [0x4B, 0]] {
      let bytes = [0x80, 0x02, 0x5D] + state + [0x62, 0x2E]
      #expect(error(bytes)?.reason == .wrongOperand("BUILD on a list"))
      var lenient = Machine()
      lenient.lenient = true
      #expect(throws: Never.self) { _ = try lenient.load(bytes) }
    }
  }

  /// Graphs of millions of nodes: every byte of a node counts (see PoolSlice).
  @Test("a node is 16 bytes")
  func nodeSize() {
    #expect(MemoryLayout<Node>.stride == 16)
  }
}
