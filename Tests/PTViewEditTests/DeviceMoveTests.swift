import PTViewCore
import PTViewEdit
import PTViewTestSupport
import Testing

/// Device moves as the planner combines them. The explorer stages one `.moveDevices` per `m`
/// or `M`, so a plan can hold several: they apply one after the other, and the plan holds the
/// net result (one edit per storage, from the input's device to the last one asked for).
@Suite struct DeviceMoveTests {
  static let train = "torch/train_ckpt_cuda0.pt"

  static func to(_ device: String) -> DeviceRules { DeviceRules(defaultTarget: device) }

  /// The plan's storage moves by record, checking that each record has one edit and that the
  /// edits and the report agree.
  static func targets(_ plan: EditPlan) -> [String: String] {
    var out: [String: String] = [:]
    for case .moveStorage(let record, let to) in plan.edits {
      #expect(out[record] == nil, "two edits for \(record)")
      out[record] = to
    }
    #expect(Dictionary(uniqueKeysWithValues: plan.remap.moves.map { ($0.record, $0.to) }) == out)
    return out
  }

  /// `fixture` written again with `old` renamed `new` (a key with a `*` in it, which no glob
  /// names exactly), read back.
  static func renamed(_ fixture: String, _ old: String, _ new: String) throws -> Checkpoint {
    let input = try Fixtures.bytes(fixture)
    let checkpoint = try Fixtures.fullCheckpoint(fixture)
    let plan = try EditPlanner.plan(checkpoint, [.rename(KeyPattern(old: old, new: new))])
    let result = try CheckpointRewriter(checkpoint: checkpoint, source: MemorySource(input))
      .rewrite(plan.edits, outputPath: "/tmp/renamed.pt")
    return try CheckpointReader().read(MemorySource(Fixtures.execute(result.plan, input: input)))
  }

  @Test("a later move of the same tensors wins: one edit per storage, from the input's device")
  func laterWins() throws {
    let checkpoint = try Fixtures.fullCheckpoint(Self.train)
    let both = try EditPlanner.plan(
      checkpoint,
      [.moveDevices(Self.to("cpu"), only: .all), .moveDevices(Self.to("cuda:1"), only: .all)])
    let last = try EditPlanner.plan(checkpoint, [.moveDevices(Self.to("cuda:1"), only: .all)])
    #expect(both.edits == last.edits)
    #expect(both.remap.moves == last.remap.moves)
    let targets = Self.targets(both)
    #expect(targets.count == 35 && targets.values.allSatisfy { $0 == "cuda:1" })
    #expect(both.remap.moves.first { $0.record == "data/11" }?.from == "cpu")
    #expect(both.remap.moves.first { $0.record == "data/0" }?.from == "cuda:0")
  }

  @Test("each move sees where the earlier ones put a storage; moving it back cancels the move")
  func sequential() throws {
    let checkpoint = try Fixtures.fullCheckpoint(Self.train)
    // optimizer.state.0.step (data/11) is on the CPU in the input: `M` to cuda:1 takes it
    // along, and moving it to the CPU again brings it back, so it is not written at all.
    let plan = try EditPlanner.plan(
      checkpoint,
      [
        .moveDevices(Self.to("cuda:1"), only: .all),
        .moveDevices(Self.to("cpu"), only: .keys(["optimizer.state.0.step", "model.conv.weight"])),
      ])
    let targets = Self.targets(plan)
    #expect(targets["data/11"] == nil)
    #expect(targets["data/0"] == "cpu")
    #expect(targets["data/1"] == "cuda:1")
    #expect(targets["data/14"] == "cuda:1")
    #expect(plan.remap.moves.first { $0.record == "data/0" }?.from == "cuda:0")
    // What the last move left alone and took along is reported for the last move.
    #expect(plan.remap.sharedWithUnselected.isEmpty)
    #expect(
      !plan.remap.leftAlone.contains { $0.key == "model.conv.weight" }
        && plan.remap.leftAlone.contains {
          $0.key == "model.conv.bias" && $0.reason == "not selected"
        })
    // A round trip writes nothing.
    let sd = try Fixtures.fullCheckpoint("torch/sd_cuda0.pt")
    let round = try EditPlanner.plan(
      sd, [.moveDevices(Self.to("cpu"), only: .all), .moveDevices(Self.to("cuda:0"), only: .all)])
    #expect(round.edits.isEmpty && round.remap.moves.isEmpty)
  }

  @Test("device arguments combine the same way")
  func deviceArguments() throws {
    let checkpoint = try Fixtures.fullCheckpoint("torch/device_from_cpu.pt")
    let there = try EditPlanner.plan(
      checkpoint,
      [
        .moveDevices(Self.to("cpu"), only: .all),
        .moveDevices(Self.to("mps"), only: .keys(["xla_like"])),
      ])
    #expect(there.remap.deviceArguments.map(\.from) == ["cuda:0"])
    #expect(there.remap.deviceArguments.map(\.to) == ["mps"])
    #expect(there.edits.count { if case .setDeviceArgument = $0 { true } else { false } } == 1)
    let back = try EditPlanner.plan(
      checkpoint,
      [
        .moveDevices(Self.to("cpu"), only: .all),
        .moveDevices(Self.to("cuda:0"), only: .keys(["xla_like"])),
      ])
    #expect(back.remap.deviceArguments.isEmpty)
    #expect(!back.edits.contains { if case .setDeviceArgument = $0 { true } else { false } })
  }

  @Test("a device tensor's inner storage never goes to a GPU target: torch.save writes it at cpu")
  func deviceTensorInnerStorage() throws {
    let checkpoint = try Fixtures.fullCheckpoint("torch/device_from_cpu.pt")
    let record = { (key: String) in
      checkpoint.entries.first { $0.key == key }?.tensor.storage?.record
    }
    let inner = try #require(record("xla_like"))
    let plain = try #require(record("plain"))
    let plan = RemapPlanner.plan(checkpoint, rules: Self.to("cuda:0"))
    #expect(plan.moves.map(\.record) == [plain])
    #expect(!plan.moves.contains { $0.record == inner })
  }

  @Test("moves of every tensor take TorchScript code literals along, as one rule set")
  func codeRules() throws {
    let checkpoint = try Fixtures.fullCheckpoint("edit/ts_device_cuda0.pt")
    func code(_ plan: EditPlan) -> [DeviceRules] {
      plan.edits.compactMap { if case .rewriteCode(let rules) = $0 { rules } else { nil } }
    }
    let both = try EditPlanner.plan(
      checkpoint,
      [.moveDevices(Self.to("cpu"), only: .all), .moveDevices(Self.to("cuda:1"), only: .all)])
    let rules = code(both)
    #expect(rules.count == 1)
    #expect(rules.first?.target(for: "cuda:0") == "cuda:1")
    #expect(rules.first?.target(for: "cpu") == "cuda:1")
    // A move of some tensors leaves the code alone.
    let some = try EditPlanner.plan(
      checkpoint,
      [
        .moveDevices(Self.to("cpu"), only: .all),
        .moveDevices(Self.to("cuda:1"), only: .keys(["fc.weight"])),
      ])
    #expect(code(some) == [Self.to("cpu")])
    #expect(
      code(
        try EditPlanner.plan(checkpoint, [.moveDevices(Self.to("cpu"), only: .keys(["fc.weight"]))])
      ).isEmpty)
  }

  @Test("rules followed by rules send every location where the two in turn send it")
  func followedBy() throws {
    let sets: [DeviceRules] = [
      DeviceRules(), Self.to("cpu"), Self.to("cuda:1"),
      DeviceRules(rules: [
        try DeviceRules.parse("cuda:1=cuda:0"), try DeviceRules.parse("cuda:*=cpu"),
      ]),
      DeviceRules(rules: [try DeviceRules.parse("cpu=cuda:0")], defaultTarget: "mps"),
      DeviceRules(rules: [try DeviceRules.parse("mps=mps")], defaultTarget: "cpu"),
      DeviceRules(rules: [try DeviceRules.parse("*=cuda:1"), try DeviceRules.parse("cpu=meta")]),
    ]
    let locations = ["cpu", "cuda:0", "cuda:1", "cuda:7", "mps", "xpu:0", "meta"]
    for first in sets {
      for next in sets {
        let composed = first.followed(by: next)
        for location in locations {
          let step = first.target(for: location) ?? location
          let end = next.target(for: step) ?? step
          #expect(
            (composed.target(for: location) ?? location) == end,
            "\(first) then \(next) at \(location)")
        }
      }
    }
  }

  @Test("exact keys select those tensors only: a * in a key is not a wildcard")
  func exactKeys() throws {
    #expect(TensorSelection(only: []) == .all)
    #expect(TensorSelection(only: ["model.*"]) == .globs(["model.*"]))
    #expect(TensorSelection.keys(["*.weight"]).contains("*.weight"))
    #expect(!TensorSelection.keys(["*.weight"]).contains("fc.weight"))
    #expect(TensorSelection.globs(["*.weight"]).contains("fc.weight"))
    // sd_cuda0.pt with `fc` renamed `*`: its keys are `*.weight` and `*.bias`.
    let checkpoint = try Self.renamed("torch/sd_cuda0.pt", "fc", "*")
    let keys = checkpoint.entries.map(\.key)
    #expect(keys.contains("*.weight") && keys.contains("conv.weight"))
    let exact = try EditPlanner.plan(
      checkpoint, [.moveDevices(Self.to("cpu"), only: .keys(["*.weight"]))])
    #expect(exact.remap.moves.flatMap(\.tensors) == ["*.weight"])
    // The same key as a glob would take every weight along.
    let glob = try EditPlanner.plan(
      checkpoint, [.moveDevices(Self.to("cpu"), only: .globs(["*.weight"]))])
    let weights = keys.filter { $0.hasSuffix(".weight") }
    #expect(weights.count > 1 && glob.remap.moves.count == weights.count)
    // --only keeps its words for what it did not select.
    #expect(glob.remap.leftAlone.contains { $0.reason == "not selected by --only" })
    #expect(!exact.remap.leftAlone.contains { $0.reason == "not selected by --only" })
  }
}
