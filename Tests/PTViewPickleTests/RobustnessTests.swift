import PTViewPickle
import PTViewTestSupport
import Testing

/// Property tests: any bytes either decode or fail with an error inside the input, never a trap,
/// and quickly. Inputs are random bytes and single-byte mutations of valid pickles.
@Suite struct RobustnessTests {
  /// A small deterministic generator (SplitMix64) so failures reproduce.
  struct Random {
    var state: UInt64
    mutating func next() -> UInt64 {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
  }

  func check(_ bytes: [UInt8]) {
    var machine = Machine()
    do {
      let outcome = try machine.load(bytes)
      #expect(outcome.end <= bytes.count)
      // Whatever decoded must also re-encode or refuse cleanly, and disassemble.
      var writer = PickleWriter(graph: machine.graph)
      _ = try? writer.write(outcome.root)
    } catch {
      #expect(error.offset >= 0 && error.offset <= bytes.count)
    }
    let listing = Disassembler.listing(bytes)
    #expect(listing.end <= bytes.count + 1)
  }

  @Test("random byte strings never trap")
  func randomBytes() {
    var rng = Random(state: 42)
    for _ in 0..<3000 {
      let length = rng.below(64)
      var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
      if rng.below(2) == 0 { bytes = [0x80, UInt8(rng.below(6))] + bytes }
      check(bytes)
    }
  }

  @Test("mutations of every corpus pickle never trap")
  func mutatedCorpus() throws {
    var rng = Random(state: 7)
    for name in Fixtures.files(in: "pickles", suffix: ".pkl") {
      let original = try Fixtures.bytes("pickles/" + name)
      guard !original.isEmpty else { continue }
      for _ in 0..<20 {
        var bytes = original
        switch rng.below(3) {
        case 0: bytes[rng.below(bytes.count)] = UInt8(truncatingIfNeeded: rng.next())
        case 1: bytes = Array(bytes.prefix(rng.below(bytes.count)))
        default:
          let at = rng.below(bytes.count)
          bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: at)
        }
        check(bytes)
      }
    }
  }
}
