import PTViewCore
import PTViewEdit
import PTViewTestSupport
import Testing

@testable import PTViewTUI

extension Model {
  /// Moves the scope to a device typed after `other…` (the last option of the picker).
  mutating func map(_ scope: Character, to device: String) {
    press(.character(scope), .character("G"), .enter)
    _ = type(device)
    press(.enter)
  }

  /// The keys of the tensors the tree shows under `key` (itself included).
  func tensorKeys(under key: String) -> Set<String> {
    guard let id = tree.preorder.first(where: { tree[$0].key == key && tree[$0].kind != .run })
    else { return [] }
    return Set(
      tree.subtree(id).filter { tree[$0].kind == .tensor }.map {
        tree.entries[Int(tree[$0].entry)].key
      })
  }
}

/// `m` and `M` stage `.moveDevices` operations that `EditPlanner` plans, as it plans `ptview
/// remap` and `ptview edit --to/--map/--only`: the explorer stages exactly the edits of the
/// equivalent command line, and its pending marks are read from that plan.
@Suite("update: device moves are planned like ptview remap")
struct MovePlanTests {
  static let cpu = DeviceRules(defaultTarget: "cpu")

  /// Storage moves on the GPU and the CPU, several devices, a legacy file, TorchScript with
  /// and without a torch.device literal in its code, a device tensor rebuilt from a CPU
  /// tensor, wrapper subclasses, shared storages, meta, sparse, nested and quantized tensors.
  static let fixtures = [
    "torch/train_ckpt_cuda0.pt", "torch/sd_mixed.pt", "torch/legacy_cuda0.pt",
    "edit/ts_device_cuda0.pt", "edit/ts_device.pt", "torch/ts_traced_cuda0.pt",
    "torch/device_from_cpu.pt", "torch/wrapper_subclass.pt", "torch/model_tied.pt",
    "torch/sd_tied.pt", "torch/sd_cuda0_shared_loc.pt", "edit/module_tied.pt",
    "torch/meta_tensors.pt", "torch/sparse.pt", "torch/nested.pt", "torch/quantized.pt",
  ]

  /// What `ptview edit` plans for `operations` on the model's file.
  static func cli(_ model: Model, _ operations: [EditOperation]) throws -> [Edit] {
    try EditPlanner.plan(try #require(model.checkpoint), operations).edits
  }

  @Test("M Enter stages what ptview remap --to cpu plans", arguments: fixtures)
  func mapAllToCPU(_ fixture: String) throws {
    var model = try Make.model(fixture, assessed: false)
    model.press(.character("M"), .enter)
    let expected = try Self.cli(model, [.moveDevices(Self.cpu, only: .all)])
    #expect((model.plan?.edits ?? []) == expected, "\(fixture)")
    #expect(
      model.staging.operations == (expected.isEmpty ? [] : [.moveDevices(Self.cpu, only: .all)]),
      "\(fixture)")
  }

  @Test(
    "M to a typed device stages what ptview remap --to plans",
    arguments: fixtures, ["cuda:1", "meta", "cuda:0"])
  func mapAllToTyped(_ fixture: String, _ device: String) throws {
    var model = try Make.model(fixture, assessed: false)
    model.map("M", to: device)
    let expected = try Self.cli(
      model, [.moveDevices(DeviceRules(defaultTarget: device), only: .all)])
    #expect((model.plan?.edits ?? []) == expected, "\(fixture) > \(device)")
  }

  @Test(
    "m on the first row stages what --only with its keys plans",
    arguments: fixtures, ["cpu", "cuda:1"])
  func mapSubtree(_ fixture: String, _ device: String) throws {
    var model = try Make.model(fixture, assessed: false)
    let row = try #require(model.rows.first { model.tree[$0].tensors > 0 })
    model.reveal(row)
    let keys = model.tensorKeys(under: model.tree[row].key)
    model.map("m", to: device)
    // These keys hold no `*` or `?`, so as globs they name exactly themselves.
    #expect(keys.allSatisfy { !$0.contains("*") && !$0.contains("?") })
    let rules = DeviceRules(defaultTarget: device)
    let expected = try Self.cli(
      model, [.moveDevices(rules, only: TensorSelection(only: keys.sorted()))])
    #expect((model.plan?.edits ?? []) == expected, "\(fixture) > \(device)")
    if !expected.isEmpty {
      #expect(model.staging.operations == [.moveDevices(rules, only: .keys(keys))])
    }
  }

  @Test("M with a filter moves the filtered tensors, as --only does, and leaves code alone")
  func filtered() throws {
    var model = try Make.model("edit/ts_device_cuda0.pt", assessed: false)
    model.press(.character("f"))
    _ = model.type("fc")
    model.press(.enter, .character("M"), .enter)
    let expected = try Self.cli(model, [.moveDevices(Self.cpu, only: .globs(["*fc*"]))])
    #expect(model.plan?.edits == expected)
    #expect(!expected.contains { if case .rewriteCode = $0 { true } else { false } })
    #expect(model.status?.text.contains("literals") == false)
    // Without the filter, M is --to: the code's torch.device literals follow.
    model.press(.escape, .character("u"), .character("M"), .enter)
    #expect(model.plan?.edits.last == .rewriteCode(Self.cpu))
    #expect(model.status?.text.contains("torch.device literals in the code follow") == true)
  }

  @Test("moves combine with renames, casts and state_dict as on the command line")
  func combinations() throws {
    let bf16 = try #require(DType.named("bfloat16"))
    var stripped = try Make.model("edit/ddp_cuda0.pt", assessed: false)
    stripped.press(.character("P"), .enter, .character("M"), .enter)
    #expect(
      stripped.plan?.edits
        == (try Self.cli(
          stripped, [.stripPrefix("module."), .moveDevices(Self.cpu, only: .all)])))
    #expect(stripped.pending.tensors == 9)

    var cast = try Make.model("edit/ddp_cuda0.pt", assessed: false)
    cast.press(.character("M"), .enter, .character("c"), .enter)
    #expect(
      cast.plan?.edits
        == (try Self.cli(cast, [.cast(bf16), .moveDevices(Self.cpu, only: .all)])))

    // A renamed subtree is still named by the keys the file has (the planner moves input keys).
    var renamed = try Make.model("edit/ddp_cuda0.pt", assessed: false)
    renamed.press(.character("P"), .enter)
    renamed.focus(key: "module.head")
    renamed.press(.character("m"), .enter)
    let head = renamed.tensorKeys(under: "module.head")
    #expect(head == ["module.head.weight", "module.head.bias"])
    #expect(
      renamed.plan?.edits
        == (try Self.cli(
          renamed,
          [
            .stripPrefix("module."),
            .moveDevices(Self.cpu, only: TensorSelection(only: head.sorted())),
          ])))

    // The state_dict keeps the model's storages only: the optimizer's are not moved.
    var weights = try Make.model("torch/train_ckpt_cuda0.pt", assessed: false)
    weights.press(.character("S"), .character("M"), .enter)
    #expect(
      weights.plan?.edits
        == (try Self.cli(weights, [.stateDict, .moveDevices(Self.cpu, only: .all)])))
    #expect(weights.pending.tensors == 11)
    #expect(
      weights.plan?.remap.moves.allSatisfy { $0.tensors.allSatisfy { $0.hasPrefix("model.") } }
        == true)
    #expect(weights.render().lines[0].contains("1 edit, 11 pending"))
  }

  @Test("a later move wins for the tensors it names; the marks follow the plan; u steps back")
  func sequence() throws {
    var model = try Make.model("torch/train_ckpt_cuda0.pt", assessed: false)
    model.map("M", to: "cuda:1")
    let first = try #require(model.plan).edits
    #expect(model.pending.tensors == 35)
    model.focus(key: "optimizer")
    model.press(.character("m"), .enter)
    let operations: [EditOperation] = [
      .moveDevices(DeviceRules(defaultTarget: "cuda:1"), only: .all),
      .moveDevices(Self.cpu, only: .keys(model.tensorKeys(under: "optimizer"))),
    ]
    #expect(model.staging.operations == operations)
    #expect(model.plan?.edits == (try Self.cli(model, operations)))
    func target(_ key: String) -> String? {
      model.tree.entries.first { $0.key == key }.flatMap { model.pending.target(of: $0.tensor) }
    }
    #expect(target("model.conv.weight") == "cuda:1")
    #expect(target("optimizer.state.0.exp_avg") == "cpu")
    // Saved on the CPU, moved to cuda:1 and back: nothing to write, nothing pending.
    #expect(target("optimizer.state.0.step") == nil)
    #expect(model.pending.tensors == 11 + 16)
    #expect(model.status?.text == "Staged 24 tensors > cpu. w writes, u undoes.")
    model.press(.character("u"))
    #expect(model.plan?.edits == first)
    #expect(target("optimizer.state.0.step") == "cuda:1")
  }

  @Test("w hands the staged operations to the shell, which plans them like the CLI")
  func write() throws {
    var model = try Make.model("edit/ts_device_cuda0.pt", path: "runs/ts.pt", assessed: false)
    model.press(.character("M"), .enter, .character("w"), .enter)
    let effects = model.update(.outputChecked(path: "runs/ts.cpu.pt", .free))
    #expect(
      effects == [
        .write(
          WriteRequest(
            path: "runs/ts.cpu.pt", operations: [.moveDevices(Self.cpu, only: .all)],
            overwrite: false))
      ])
  }

  @Test("a wrapper subclass keeps its device: the planner's reason, nothing staged")
  func wrapperSubclass() throws {
    var model = try Make.model("torch/wrapper_subclass.pt", assessed: false)
    model.press(.character("M"), .enter)
    #expect(model.staging.isEmpty)
    #expect(
      model.status?.text
        == "1 tensor left alone: _rebuild_wrapper_subclass keeps its device in a torch.device argument; not rewritten; nothing staged."
    )
    #expect(model.status?.kind == .warning)
  }

  @Test("a device tensor rebuilt from a CPU tensor moves by its device argument")
  func deviceFromCPU() throws {
    var model = try Make.model("torch/device_from_cpu.pt", assessed: false)
    model.press(.character("M"), .enter)
    let tensor = try #require(model.tree.entries.first { $0.key == "xla_like" }).tensor
    #expect(model.pending.target(of: tensor) == "cpu")
    #expect(model.plan?.remap.deviceArguments.map(\.to) == ["cpu"])
    #expect(model.status?.text == "Staged 1 tensor > cpu. w writes, u undoes.")
    // Back to its own device: the argument is as saved, and the CPU tensor it is read from
    // stays on the CPU (torch lands the tensor on its device argument and saves its data as
    // `self.cpu()`, so no GPU target ever applies to that storage).
    model.focus(key: "xla_like")
    model.map("m", to: "cuda:0")
    #expect(model.pending.target(of: tensor) == nil)
    #expect(model.plan?.edits == [])
    #expect(model.status?.text == "Staged 1 tensor > cuda:0. w writes, u undoes.")
    // On a fresh file nothing changes: the tensor is already on cuda:0 and its storage stays.
    var fresh = try Make.model("torch/device_from_cpu.pt", assessed: false)
    fresh.focus(key: "xla_like")
    fresh.map("m", to: "cuda:0")
    #expect(fresh.plan == nil)
    #expect(fresh.status?.text == "Already on cuda:0: nothing to stage.")
    #expect(fresh.pending.tensors == 0)
    #expect(!fresh.render().lines[0].contains("edits staged"))
  }

  @Test("tensors without storage are left alone and said to be")
  func metaTensors() throws {
    var model = try Make.model("torch/meta_tensors.pt", assessed: false)
    model.press(.character("M"), .enter)
    #expect(model.staging.isEmpty)
    #expect(model.status?.text.hasSuffix("no storage to move (meta); nothing staged.") == true)
    model.press(.character("M"), .enter)
    #expect(model.staging.isEmpty)
  }

  @Test("already there: nothing to stage; the same move twice stages once")
  func nothingToStage() throws {
    var model = try Make.model("torch/sd_cpu.pt", assessed: false)
    model.press(.character("M"), .enter)
    #expect(model.staging.isEmpty)
    #expect(model.status?.text == "Already on cpu: nothing to stage.")
    var gpu = try Make.model("torch/sd_cuda0.pt", assessed: false)
    gpu.press(.character("M"), .enter, .character("M"), .enter)
    #expect(gpu.staging.operations.count == 1)
    #expect(gpu.status?.text == "Already on cpu: nothing to stage.")
  }

  @Test("a key with a * in it is selected as itself, not as a pattern")
  func starKey() throws {
    let checkpoint = try renamedCheckpoint("torch/sd_cuda0.pt", "fc", "*")
    var model = Model(checkpoint: checkpoint, path: "fixtures/star.pt")
    model.focus(key: "*")
    model.press(.character("m"), .enter)
    #expect(
      model.staging.operations == [.moveDevices(Self.cpu, only: .keys(["*.weight", "*.bias"]))])
    #expect(model.pending.tensors == 2)
    #expect(model.plan?.remap.moves.flatMap(\.tensors).sorted() == ["*.bias", "*.weight"])
    #expect(model.status?.text == "Staged 2 tensors > cpu. w writes, u undoes.")
  }

  /// `fixture` written again with the key prefix `old` renamed `new`, read back.
  func renamedCheckpoint(_ fixture: String, _ old: String, _ new: String) throws -> Checkpoint {
    let input = try Fixtures.bytes(fixture)
    let checkpoint = try Fixtures.checkpoint(fixture)
    let plan = try EditPlanner.plan(checkpoint, [.rename(KeyPattern(old: old, new: new))])
    let result = try CheckpointRewriter(checkpoint: checkpoint, source: MemorySource(input))
      .rewrite(plan.edits, outputPath: "/tmp/star.pt")
    return try CheckpointReader().read(MemorySource(Fixtures.execute(result.plan, input: input)))
  }
}
