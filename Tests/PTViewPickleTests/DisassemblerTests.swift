import Foundation
import PTViewPickle
import PTViewTestSupport
import Testing

/// `dis` output against `python3 -m pickletools` goldens of the corpus pickles.
@Suite struct DisassemblerTests {
  static let goldens = Fixtures.files(in: "pickles", suffix: ".pkl.dis.txt")

  @Test("listing matches pickletools", arguments: goldens)
  func matchesGolden(_ golden: String) throws {
    let pickle = String(golden.dropLast(".dis.txt".count))
    let bytes = try Fixtures.bytes("pickles/" + pickle)
    let expected = try String(contentsOf: Fixtures.url("pickles/" + golden), encoding: .utf8)
    let listing = Disassembler.listing(bytes)
    #expect(listing.error == nil)
    #expect(listing.lines.joined(separator: "\n") + "\n" == expected)
  }

  @Test("goldens exist") func present() { #expect(Self.goldens.count >= 10) }

  @Test("a memo key fetched before it is stored stops the listing after printing the line")
  func memoError() {
    // PROTO 2, BINGET 5, STOP
    let listing = Disassembler.listing([0x80, 0x02, 0x68, 0x05, 0x2E])
    #expect(listing.lines.count == 2)
    #expect(listing.lines.last == "    2: h    BINGET     5")
    #expect(listing.error?.offset == 2)
  }

  @Test("MARK nesting indents and names the MARK's offset")
  func markIndentation() {
    // ( K1 ( K2 t t .  -> nested tuples
    let listing = Disassembler.listing([0x28, 0x4B, 0x01, 0x28, 0x4B, 0x02, 0x74, 0x74, 0x2E])
    #expect(
      listing.lines == [
        "    0: (    MARK",
        "    1: K        BININT1    1",
        "    3: (        MARK",
        "    4: K            BININT1    2",
        "    6: t            TUPLE      (MARK at 3)",
        "    7: t        TUPLE      (MARK at 0)",
        "    8: .    STOP",
        "highest protocol among opcodes = 1",
      ])
  }
}
