import Foundation
import PTViewCore
import PTViewPickle
import PTViewTestSupport
import Testing

/// Hostile and damaged files: each one either reads (what CPython and torch accept) or fails
/// with an error value naming a byte offset; none traps, hangs or builds unbounded state.
@Suite struct HostileInputTests {
  static let files = Fixtures.files(in: "hostile", suffix: "").filter {
    $0.hasSuffix(".pt") || $0.hasSuffix(".pkl")
  }

  /// Files that are well-formed (valid pickles or archives torch also reads).
  static let readable: Set<String> = [
    "cycles.pkl", "exponential_shared.pkl", "exponential_shared_tuples.pkl",
    "global_builtins_eval.pkl",
    "global_os_system.pkl", "legacy_valid.pt", "marks_10k.pkl", "persid_no_loader.pkl",
    "stop_with_mark_left.pkl", "zip_cycle.pt", "zip_exponential.pt", "zip_no_version.pt",
    "zip_pid_key_int.pt", "zip_small_valid.pt", "zip_storage_too_big.pt", "zip_stray_entry.pt",
    "zip_flipped_pkl_503.pt", "zip_shape_zero_overflow.pt",
  ]

  @Test("each hostile file reads or fails with a located error", arguments: files)
  func hostile(_ name: String) throws {
    let bytes = try Fixtures.bytes("hostile/" + name)
    do {
      let checkpoint = try CheckpointReader().read(MemorySource(bytes))
      #expect(Self.readable.contains(name), "\(name) was expected to fail")
      _ = ListReport.json(checkpoint.entries)
      if let root = checkpoint.root {
        var printer = TreePrinter(graph: checkpoint.graph, tensors: checkpoint.tensors)
        printer.maxDepth = 200
        #expect(printer.render(root).count < 50_000_000)
      }
    } catch {
      #expect(!Self.readable.contains(name), "\(name): \(error)")
      #expect(
        error.offset != nil || error.kind == .unsupportedFormat, "\(name): \(error) names no offset"
      )
      #expect(!error.description.contains("\n"))
    }
  }

  @Test("a million nested MARKs end at the depth limit")
  func millionMarks() {
    let bytes: [UInt8] = [0x80, 0x02] + [UInt8](repeating: 0x28, count: 1_000_000) + [0x4E, 0x2E]
    #expect(throws: CheckpointError.self) { _ = try CheckpointReader().read(MemorySource(bytes)) }
  }

  @Test("a list nested 100,000 deep decodes, prints and re-encodes without recursion")
  func deepNesting() throws {
    let bytes: [UInt8] =
      [0x80, 0x02] + [UInt8](repeating: 0x5D, count: 100_000)
      + [UInt8](repeating: 0x61, count: 99_999) + [0x2E]
    let checkpoint = try CheckpointReader().read(MemorySource(bytes))
    var printer = TreePrinter(graph: checkpoint.graph, tensors: [:])
    printer.maxDepth = 100
    #expect(printer.render(try #require(checkpoint.root)).contains("…"))
    #expect(ListReport.json(checkpoint.entries) == "[]\n")
    var writer = PickleWriter(graph: checkpoint.graph)
    let encoded = try writer.write(try #require(checkpoint.root))
    var machine = Machine()
    _ = try machine.load(encoded)
    #expect(machine.graph.count == checkpoint.graph.count)
  }

  @Test("exponentially shared structures list and print in linear time")
  func exponential() throws {
    // a0 = [t]; a(k+1) = [a(k), a(k)], 60 levels: 2^60 paths to one string.
    var bytes: [UInt8] = [0x80, 0x02, 0x58, 1, 0, 0, 0, 0x78, 0x71, 0]
    for level in 0..<60 {
      bytes += [0x5D, 0x28, 0x68, UInt8(level), 0x68, UInt8(level), 0x65, 0x71, UInt8(level + 1)]
    }
    bytes += [0x2E]
    let start = ContinuousClock.now
    let checkpoint = try CheckpointReader().read(MemorySource(bytes))
    let text = TreePrinter(graph: checkpoint.graph, tensors: [:]).render(
      try #require(checkpoint.root))
    #expect(text.split(separator: "\n").count < 200)
    #expect(ContinuousClock.now - start < .seconds(10))
  }
}
