import PTViewCore
import PTViewPickle
import PTViewTestSupport
import Testing

/// The shortcuts a big listing takes must give what the plain way gives: paths found beside
/// the interpreter, storage records indexed by number, tensor records shared between rows.
@Suite struct ReadingPathTests {
  static let archives = Fixtures.files(in: "torch", suffix: ".pt")
    .filter { (try? Fixtures.bytes("torch/" + $0).starts(with: [0x50, 0x4B])) == true }
  static let hostileArchives = Fixtures.files(in: "hostile", suffix: ".pt")
    .filter { (try? Fixtures.bytes("hostile/" + $0).starts(with: [0x50, 0x4B])) == true }

  /// The reader walks for paths while the interpreter runs, guessing tensors from their rebuild
  /// calls; the rows must be exactly those of a walk over the finished tensor table.
  @Test(
    "paths found beside the interpreter equal a walk over the finished table",
    arguments: archives.map { "torch/" + $0 } + hostileArchives.map { "hostile/" + $0 })
  func overlappedWalk(_ fixture: String) throws {
    guard let checkpoint = try? Fixtures.fullCheckpoint(fixture, strict: false),
      checkpoint.format == .zip, let root = checkpoint.root
    else { return }
    let reference = TensorWalker(graph: checkpoint.graph, tensors: checkpoint.tensors)
      .walk(from: root)
    #expect(checkpoint.entries.map(\.path) == reference.entries.map(\.path), "\(fixture)")
    #expect(checkpoint.entries.map(\.tensor) == reference.entries.map(\.tensor), "\(fixture)")
    #expect(
      checkpoint.entries.map(\.inStateDict) == reference.entries.map(\.inStateDict),
      "\(fixture)")
  }

  /// `torch._utils._rebuild_tensor_v2()`: looks like a tensor, makes none.
  static func rebuildCallWithoutArguments(in graph: inout ValueGraph) -> ValueID {
    let rebuild = graph.addGlobal(module: "torch._utils", name: "_rebuild_tensor_v2", at: 0)
    let noArgs = graph.addTuple([], at: 1)
    return graph.addObject(.reduce(callable: rebuild, args: noArgs), at: 2)
  }

  @Test("the archive fixtures are there")
  func archivesPresent() {
    #expect(Self.archives.count >= 20)
  }

  /// A rebuild call that makes no tensor (here one without arguments) is a wrong guess: the
  /// rows cannot be joined, so the reader walks again with the table, which descends into it.
  @Test("a rebuild call that is not a tensor makes the guessed rows unusable")
  func wrongGuess() {
    var graph = ValueGraph()
    let call = Self.rebuildCallWithoutArguments(in: &graph)
    let key = graph.addString("w", at: 3)
    let dict = graph.add(.dict(graph.newContainer([key, call])), at: 4)
    let guessed = TensorWalker(graph: graph, candidates: 1, isTensor: { $0 == call })
      .rows(from: dict)
    #expect(guessed.rows.map(\.path) == [["w"]])
    #expect(guessed.entries(with: [:]) == nil)
    #expect(TensorWalker(graph: graph, tensors: [:]).walk(from: dict).entries.isEmpty)
  }

  /// A tensor reachable through 2^18 paths: the guessed rows stop early (and the reader walks
  /// again over the table, under the table walk's bounds) instead of listing 10x the tensors.
  @Test("guessed rows of an exponentially shared tensor stop early")
  func guessedRowsBounded() {
    var graph = ValueGraph()
    let call = Self.rebuildCallWithoutArguments(in: &graph)
    var level = call
    for i in 0..<18 { level = graph.addTuple([level, level], at: 3 + i) }
    let rows = TensorWalker(graph: graph, candidates: 1, isTensor: { $0 == call }).rows(
      from: level)
    #expect(rows.truncatedSharing)
    #expect(rows.rows.count == 100_002)
  }

  @Test("storage records: data/<n> by number, anything else by name, in insertion order")
  func storageExtents() {
    func extent(_ record: String, _ size: Int64) -> Checkpoint.StorageExtent {
      Checkpoint.StorageExtent(record: record, dataOffset: nil, size: size, compressed: false)
    }
    var extents = StorageExtents()
    for record in ["data/3", "data/0", "data/007", "constants/1", "data/999999999", "data/x"] {
      extents[record] = extent(record, Int64(record.count))
    }
    extents["data/3"] = extent("data/3", 42)
    #expect(extents.count == 6)
    #expect(extents["data/3"]?.size == 42)
    #expect(extents["data/0"]?.size == 6)
    #expect(extents["data/007"]?.size == 8)
    #expect(extents["data/7"] == nil)
    #expect(extents["constants/1"]?.size == 11)
    #expect(extents["data/999999999"]?.size == 14)
    #expect(extents["data/x"]?.size == 6)
    #expect(extents["data/4"] == nil)
    #expect(
      extents.map(\.key) == [
        "data/3", "data/0", "data/007", "constants/1", "data/999999999", "data/x",
      ])
    #expect(extents.values.map(\.size) == [42, 6, 8, 11, 14, 6])
    let literal: StorageExtents = ["data/1": extent("data/1", 1)]
    #expect(literal["data/1"]?.size == 1 && literal.count == 1)
  }

  @Test("a tensor record is a value: changing a copy leaves the original as it was")
  func tensorRecordsAreValues() {
    let original = TensorInfo(
      dtype: DType.named("float32")!, shape: [2, 3], stride: [3, 1], offset: 0, device: "cuda:0",
      storage: nil, requiresGrad: false, isParameter: false, layout: nil,
      rebuild: "_rebuild_tensor_v2")
    var copy = original
    #expect(copy == original)
    copy.device = "cpu"
    copy.shape.append(4)
    copy.components.append(original)
    #expect(original.device == "cuda:0" && original.shape == [2, 3])
    #expect(original.components.isEmpty)
    #expect(copy.device == "cpu" && copy.shape == [2, 3, 4] && copy.components == [original])
    #expect(copy != original)
    var same = original
    same.device = "cuda:0"
    #expect(same == original)
  }
}
