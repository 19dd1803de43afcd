import Foundation
import PTViewCore
import PTViewEdit
import PTViewFiles
import PTViewPipeline
import PTViewTestSupport
import PTViewZip
import Testing

/// The whole pipeline on real files: plan, rewrite, write atomically, read back, verify.
/// Expected keys come from torch (the fixtures' `expected.json`, written by torch itself).
@Suite struct EditPipelineTests {
  func folder() throws -> String {
    let path = NSTemporaryDirectory() + "ptview-pipeline-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  func read(_ path: String) throws -> Checkpoint {
    try CheckpointReader(decompressor: LazyLibzip(path: path)).read(FileSource(path: path))
  }

  func run(_ fixture: String, _ operations: [EditOperation], to out: String) throws
    -> WriteOutcome
  {
    let input = Fixtures.path(fixture)
    let checkpoint = try read(input)
    let plan = try EditPipeline.plan(checkpoint, operations)
    return try EditPipeline.write(
      checkpoint: checkpoint, inputPath: input, plan: plan, outputPath: out, overwrite: false,
      progress: { _, _ in })
  }

  @Test("--state-dict of a whole pickled module: torch's state_dict keys, in order")
  func wholeModule() throws {
    let dir = try folder()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let outcome = try run("torch/model_full.pt", [.stateDict], to: dir + "/out.pt")
    let written = try read(dir + "/out.pt")
    // torch: TinyNetWithBuffers.state_dict() (the non-persistent `scratch` is not in it).
    let keys = written.entries.map(\.key)
    #expect(!keys.contains("scratch"))
    #expect(keys.first == "step_count")
    #expect(keys.contains("bn.num_batches_tracked"))
    #expect(outcome.report.rewrite.omittedStorages == ["data/1"])
    #expect(written.entries.allSatisfy { !$0.tensor.isParameter })
  }

  @Test("--extract and --drop keep exactly the chosen entries and leave unused storages out")
  func extractAndDrop() throws {
    let dir = try folder()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let cpu = DeviceRules(defaultTarget: "cpu")
    _ = try run(
      "torch/numpy_namespace_cuda0.pt", [.extract("model"), .moveDevices(cpu, only: .all)],
      to: dir + "/model.pt")
    let model = try read(dir + "/model.pt")
    #expect(model.entries.map(\.key).first == "conv.weight")
    #expect(model.entries.allSatisfy { $0.tensor.device == "cpu" })
    _ = try run(
      "torch/numpy_namespace_cuda0.pt", [.drop("model.bn*"), .moveDevices(cpu, only: .all)],
      to: dir + "/dropped.pt")
    let dropped = try read(dir + "/dropped.pt")
    #expect(!dropped.entries.contains { $0.key.hasPrefix("model.bn") })
    #expect(dropped.entries.contains { $0.key == "model.conv.weight" })
  }

  @Test("refusals name the problem and write nothing")
  func refusals() throws {
    let dir = try folder()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let checkpoint = try read(Fixtures.path("torch/sd_cuda0.pt"))
    #expect(throws: WriteFailure.self) {
      try EditPipeline.plan(checkpoint, [.stripPrefix("nope.")])
    }
    #expect(throws: WriteFailure.self) { try EditPipeline.plan(checkpoint, [.extract("absent")]) }
    #expect(throws: WriteFailure.self) {
      try EditPipeline.plan(checkpoint, [.rename(KeyPattern(old: "*", new: "same"))])
    }
    #expect(throws: RuleError.self) { try DeviceRules.validateTarget("banana", custom: false) }
    #expect(throws: RuleError.self) { try DeviceRules.validateTarget("cuda0", custom: false) }
    try DeviceRules.validateTarget("banana", custom: true)
    try DeviceRules.validateTarget("cuda:1", custom: false)
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
  }

  @Test("--cast bf16 converts floating storages and keeps the rest byte for byte")
  func cast() throws {
    let dir = try folder()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let input = try read(Fixtures.path("torch/dtypes.pt"))
    _ = try run("torch/dtypes.pt", [.cast(DType.named("bfloat16")!)], to: dir + "/bf16.pt")
    let written = try read(dir + "/bf16.pt")
    for (a, b) in zip(input.entries, written.entries) {
      if EditOperation.isFloating(a.tensor.dtype) {
        #expect(b.tensor.dtype.name == "bfloat16", "\(a.key)")
      } else {
        #expect(b.tensor.dtype == a.tensor.dtype, "\(a.key)")
      }
    }
  }
}
