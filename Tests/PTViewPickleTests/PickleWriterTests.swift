import Foundation
import PTViewPickle
import PTViewTestSupport
import Testing

/// The protocol-2 writer: output uses weights_only opcodes, and decoding it gives the same
/// structure once protocol 2's spellings (`_codecs.encode` for bytes, `set([...])`) are allowed.
@Suite struct PickleWriterTests {
  static let corpus = Fixtures.files(in: "pickles", suffix: ".pkl").filter {
    !$0.hasPrefix("concat")
  }

  /// Opcodes used by a pickle.
  func opcodes(_ bytes: [UInt8]) throws -> Set<Opcode> {
    var reader = InstructionReader(bytes: bytes)
    var seen: Set<Opcode> = []
    while true {
      let instruction = try reader.next()
      seen.insert(instruction.opcode)
      if instruction.opcode == .stop { return seen }
    }
  }

  @Test("re-encoding keeps structure and sharing", arguments: corpus)
  func roundTrip(_ name: String) throws {
    let bytes = try Fixtures.bytes("pickles/" + name)
    var machine = Machine()
    let outcome = try machine.load(bytes)
    var writer = PickleWriter(graph: machine.graph)
    let encoded: [UInt8]
    do { encoded = try writer.write(outcome.root) } catch {
      // Only values protocol 2 cannot spell may refuse (ADDITEMS on an object).
      #expect(error.message.contains("protocol 2"))
      return
    }
    #expect(encoded.prefix(2) == [0x80, 0x02])
    var again = Machine()
    let second = try again.load(encoded)
    #expect(second.end == encoded.count)
    // After one pass every value has its protocol-2 spelling, so a second round trip is a
    // fixed point. (CPython itself judges the first pass: Tests/Interop/test_reencode.py.)
    var writer2 = PickleWriter(graph: again.graph)
    let encoded2 = try writer2.write(second.root)
    var third = Machine()
    let outcome3 = try third.load(encoded2)
    var writer3 = PickleWriter(graph: third.graph)
    #expect(try writer3.write(outcome3.root) == encoded2)
    let used = try opcodes(encoded)
    let allowed = PickleWriter.weightsOnlyOpcodes
    // Anything outside the weights_only set must have been reported.
    #expect(used.subtracting(allowed) == writer.unsafeOpcodes)
  }

  @Test("a shared string stays shared and a replaced pid location does not touch it")
  func sharedStringSurvives() throws {
    // ('storage', 'cpu') pid where 'cpu' is memoized and reused by a user dict.
    var graph = ValueGraph()
    let tag = graph.addString("storage", at: 0)
    let cpu = graph.addString("cpu", at: 0)
    let pidTuple = graph.addTuple([tag, cpu], at: 0)
    let pid = graph.add(.persistentID(pidTuple), at: 0)
    let key = graph.addString("device", at: 0)
    let config = graph.add(.dict(graph.newContainer([key, cpu])), at: 0)
    let root = graph.addTuple([pid, config], at: 0)
    // Edit: a new tuple with a new location string, as GraphEditor does.
    let cuda = graph.addString("cuda:0", at: 0)
    let newTuple = graph.addTuple([tag, cuda], at: 0)
    graph.replace(pid, with: .persistentID(newTuple))
    var writer = PickleWriter(graph: graph)
    let bytes = try writer.write(root)
    var machine = Machine()
    let outcome = try machine.load(bytes)
    let g = machine.graph
    let parts = try #require(g.sequence(outcome.root))
    guard case .persistentID(let p) = g[parts[0]] else {
      Issue.record("no pid")
      return
    }
    #expect(g.sequence(p)?.compactMap { g.string($0) } == ["storage", "cuda:0"])
    #expect(g.lookup(parts[1], "device").flatMap { g.string($0) } == "cpu")
  }
}
