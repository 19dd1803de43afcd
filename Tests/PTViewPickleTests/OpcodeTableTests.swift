import Foundation
import PTViewPickle
import PTViewTestSupport
import Testing

/// The opcode table against pickletools' own (dumped to a TSV by the corpus generator).
@Suite struct OpcodeTableTests {
  struct Row: Sendable, CustomStringConvertible {
    var name, code, arg, n, proto, before, after: String
    var description: String { name }
  }

  static let rows: [Row] = {
    guard
      let text = try? String(
        contentsOf: Fixtures.url("pickles/pickletools-opcodes.tsv"), encoding: .utf8)
    else {
      return []
    }
    return text.split(separator: "\n").dropFirst().map { line in
      let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
      return Row(name: f[0], code: f[1], arg: f[2], n: f[3], proto: f[4], before: f[5], after: f[6])
    }
  }()

  @Test("the table has every pickletools opcode and nothing else")
  func sameSet() {
    #expect(Self.rows.count == 68)
    #expect(Set(Self.rows.map(\.name)) == Set(Opcode.allCases.map(\.info.name)))
  }

  @Test("each row matches pickletools", arguments: rows)
  func rowMatches(_ row: Row) throws {
    let byte = try #require(UInt8(row.code, radix: 16))
    let opcode = try #require(Opcode(rawValue: byte))
    let info = opcode.info
    #expect(info.name == row.name)
    #expect(String(info.protocolVersion) == row.proto)
    #expect((info.argument?.rawValue ?? "-") == row.arg)
    if let argument = info.argument { #expect(String(argument.pickletoolsN) == row.n) }
    let before = info.stackBefore.map(\.rawValue).joined(separator: ",")
    let after = info.stackAfter.map(\.rawValue).joined(separator: ",")
    #expect((before.isEmpty ? "-" : before) == row.before)
    #expect((after.isEmpty ? "-" : after) == row.after)
    // Case names follow the pickletools name: lowerCamel of its underscore-separated parts.
    let parts = row.name.lowercased().split(separator: "_")
    let expectedCase =
      String(parts[0])
      + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    #expect("\(opcode)" == expectedCase)
  }
}
