import Foundation
import PTViewCore
import PTViewFiles
import PTViewJudge
import PTViewTestSupport
import PTViewZip
import Testing

/// The load doctor against what real torch 2.15 did with every fixture (manifest.json), and
/// its device and fix rules.
@Suite("Doctor")
struct DoctorTests {
  struct Fixture: CustomTestStringConvertible, Sendable {
    var file: String
    var loads: Bool
    var exception: String
    var testDescription: String { file }
  }

  static let fixtures: [Fixture] = {
    guard let data = try? Data(contentsOf: Fixtures.url("torch/manifest.json")),
      let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
      let list = json["fixtures"] as? [[String: Any]]
    else { return [] }
    return list.compactMap { item in
      guard let file = item["file"] as? String,
        let load = item["torch_load_default"] as? [String: Any],
        let ok = load["ok"] as? Bool
      else { return nil }
      return Fixture(
        file: file, loads: ok,
        exception: (load["exception"] as? String ?? "") + ": " + (load["message"] as? String ?? ""))
    }
  }()

  static func diagnose(_ relative: String, devices: [String] = []) throws -> DoctorReport {
    let path = Fixtures.path(relative)
    var set = DeviceSet()
    for d in devices { _ = set.add(d) }
    var doctor = LoadDoctor(devices: set)
    doctor.decompressor = try? LibzipArchive(path: path)
    return doctor.diagnose(try FileSource(path: path), path: relative)
  }

  @Test("the manifest lists the fixtures")
  func manifestRead() { #expect(Self.fixtures.count >= 40) }

  @Test("exit 0 exactly when plain torch.load succeeded", arguments: fixtures)
  func predictsTorch(_ f: Fixture) throws {
    let path = Fixtures.path("torch/" + f.file)
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory),
      !isDirectory.boolValue
    else { return }
    let report = try Self.diagnose("torch/" + f.file)
    if f.file.hasSuffix(".safetensors") {
      // torch hands these to the safetensors package, which this machine may lack.
      #expect(report.verdict == .loads || f.exception.contains("safetensors is not installed"))
      return
    }
    #expect(
      (report.verdict == .loads) == f.loads, "\(f.file): torch said \(f.exception)\n\(report.text)")
  }

  /// The damaged and hand-made archives of `hostile/`, with what a plain `torch.load(f)` did
  /// to each (recorded by Scripts/make_hostile.py with real torch).
  static let hostile: [Fixture] = {
    guard let data = try? Data(contentsOf: Fixtures.url("hostile/manifest.json")),
      let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
      let list = json["entries"] as? [[String: Any]]
    else { return [] }
    return list.compactMap { item in
      guard let file = item["file"] as? String, file.hasSuffix(".pt"),
        let outcome = item["torch_load_plain"] as? String
      else { return nil }
      return Fixture(file: file, loads: outcome == "ok", exception: outcome)
    }
  }()

  @Test("hostile archives: exit 0 exactly when torch.load succeeded", arguments: hostile)
  func predictsTorchOnHostile(_ f: Fixture) throws {
    let report = try Self.diagnose("hostile/" + f.file)
    #expect(
      (report.verdict == .loads) == f.loads, "\(f.file): torch said \(f.exception)\n\(report.text)")
  }

  @Test("device tags: cuda needs the GPU, meta and cpu always restore")
  func devices() {
    var cpu = DeviceSet()
    #expect(cpu.restoreProblem("cpu") == nil)
    #expect(cpu.restoreProblem("meta") == nil)
    #expect(cpu.restoreProblem("cuda:0") != nil)
    #expect(cpu.restoreProblem("mps") != nil)
    #expect(cpu.restoreProblem("npu:3")?.contains("don't know how to restore") == true)
    #expect(cpu.restoreProblem("cpu:0") != nil)
    let added = cpu.add("cuda:1")
    #expect(added)
    #expect(cpu.restoreProblem("cuda:1") == nil)
    #expect(cpu.restoreProblem("cuda") == nil)
    #expect(cpu.restoreProblem("cuda:2")?.contains("device_count() is 2") == true)
    let unknown = cpu.add("tpu")
    #expect(!unknown)
  }

  @Test("a cuda checkpoint loads on a machine with that GPU")
  func withGPU() throws {
    #expect(try Self.diagnose("torch/sd_cuda1.pt").verdict == .rewriteFixes)
    #expect(try Self.diagnose("torch/sd_cuda1.pt", devices: ["cuda:0"]).verdict == .rewriteFixes)
    #expect(try Self.diagnose("torch/sd_cuda1.pt", devices: ["cuda:1"]).verdict == .loads)
  }

  @Test("the fix: a remap line for tags and protocols, code for globals, both when both apply")
  func fixes() throws {
    let tags = try Self.diagnose("torch/sd_cuda0.pt")
    #expect(tags.remapCommand?.hasPrefix("ptview remap") == true)
    #expect(tags.remapCommand?.hasSuffix("--to cpu") == true)
    #expect(tags.code == nil)

    let proto = try Self.diagnose("torch/sd_proto4.pt")
    #expect(proto.verdict == .rewriteFixes)
    #expect(proto.problems.contains { $0.kind == .opcode && $0.subject == "FRAME" })

    let numpy = try Self.diagnose("torch/numpy_namespace_cuda0.pt")
    #expect(numpy.verdict == .needsCode)
    #expect(numpy.remapCommand != nil)
    #expect(numpy.safeGlobals.contains("argparse.Namespace"))
    #expect(numpy.safeGlobals.contains("numpy.dtype"))
    #expect(numpy.safeGlobals.contains { $0.hasPrefix("numpy.dtypes.") })
    #expect(numpy.code?.contains("torch.serialization.add_safe_globals([") == true)

    let model = try Self.diagnose("torch/model_full.pt")
    #expect(model.pickledClasses.last == "fixture_models.TinyNetWithBuffers")
    #expect(
      model.problems.contains { $0.kind == .wholeModule && $0.message.contains("fixture_models") })

    let script = try Self.diagnose("torch/ts_traced_cuda0.pt")
    #expect(script.verdict == .needsCode)
    #expect(script.code?.contains("torch.jit.load") == true)
    #expect(script.remapCommand != nil)
  }

  @Test(
    "the edit fix: the weights alone, for training checkpoints, whole modules and TorchScript",
    arguments: [
      ("torch/numpy_namespace_cuda0.pt", "--state-dict --to cpu", "under 'model' only"),
      ("torch/model_full.pt", "--state-dict", "not the module"),
      ("torch/model_full_in_dict_cuda0.pt", "--state-dict --to cpu", "not the module"),
      ("torch/ts_scripted.pt", "--state-dict", "not the scripted module"),
      ("torch/ts_scripted_cuda0.pt", "--state-dict --to cpu", "not the scripted module"),
      ("edit/train_loop.pt", "--state-dict", "under 'model' only"),
      ("edit/module_cnn.pt", "--state-dict", "not the module"),
    ])
  func editFix(_ file: String, _ flags: String, _ says: String) throws {
    let report = try Self.diagnose(file)
    // Loading the file as it is still needs code or trust: the edit is an alternative fix.
    #expect(report.verdict == .needsCode)
    #expect(report.code != nil)
    #expect(report.editFixes.count == 1, "\(report.text)")
    guard let fix = report.editFixes.first else { return }
    let name = file.split(separator: ".").first.map(String.init) ?? file
    #expect(fix.command == "ptview edit \(file) -o \(name).state_dict.pt \(flags)")
    #expect(
      fix.arguments == ["edit", file, "-o", "\(name).state_dict.pt"]
        + flags.split(separator: " ").map(String.init))
    #expect(fix.contains.contains(says), "\(fix.contains)")
    #expect(report.editNote == nil)
    #expect(report.text.contains("  \(fix.command)\n"))
    // The remap line stays where a device move alone is part of the fix.
    #expect((report.remapCommand != nil) == flags.contains("--to cpu"))
  }

  @Test("what the edit leaves out is named")
  func editFixLeavesOut() throws {
    let fix = try Self.diagnose("edit/train_loop.pt").editFixes.first
    #expect(
      fix?.contains.contains("epoch, args, optimizer, best_acc, scheduler are left out") == true)
    let module = try Self.diagnose("torch/model_full.pt").editFixes.first
    #expect(module?.contains.contains("fixture_models.TinyNetWithBuffers") == true)
  }

  @Test("several weight entries: one --extract NAME --state-dict line each, and a note")
  func editFixSeveral() throws {
    let report = try Self.diagnose("edit/train_ema.pt")
    #expect(report.verdict == .needsCode)
    #expect(
      report.editFixes.map(\.command) == [
        "ptview edit edit/train_ema.pt -o edit/train_ema.state_dict.pt --extract state_dict --state-dict",
        "ptview edit edit/train_ema.pt -o edit/train_ema.state_dict_ema.pt --extract state_dict_ema --state-dict",
      ])
    #expect(report.editNote?.contains("'state_dict', 'state_dict_ema'") == true)
    #expect(report.text.contains("note: several entries hold weights"))
  }

  @Test("no edit fix where the file loads as is or a remap alone fixes it")
  func noEditFix() throws {
    let lightning = try Self.diagnose("edit/lightning.ckpt")
    #expect(lightning.verdict == .loads)
    #expect(lightning.editFixes.isEmpty)
    #expect(!lightning.text.contains("ptview edit"))
    let tags = try Self.diagnose("torch/sd_cuda0.pt")
    #expect(tags.verdict == .rewriteFixes)
    #expect(tags.editFixes.isEmpty)
  }

  @Test("legacy files: loads, and the note that they cannot be memory-mapped")
  func legacy() throws {
    let report = try Self.diagnose("torch/legacy_cpu.pt")
    #expect(report.verdict == .loads)
    #expect(report.notes.contains { $0.contains("memory-mapped") })
  }

  @Test("JSON output carries the exit code and the allowlist")
  func json() throws {
    let report = try Self.diagnose("torch/numpy_namespace_cuda0.pt")
    let object = try JSONSerialization.jsonObject(with: Data(report.json.utf8)) as? [String: Any]
    #expect(object?["exit_code"] as? Int == 4)
    #expect((object?["safe_globals"] as? [String])?.contains("argparse.Namespace") == true)
    // Every fix command, remap first, each with its unquoted arguments.
    let commands = object?["fix_commands"] as? [[String: Any]] ?? []
    #expect(commands.map { $0["kind"] as? String } == ["remap", "edit"])
    #expect(commands.first?["command"] as? String == report.remapCommand)
    #expect(
      commands.last?["arguments"] as? [String] == [
        "edit", "torch/numpy_namespace_cuda0.pt", "-o", "torch/numpy_namespace_cuda0.state_dict.pt",
        "--state-dict", "--to", "cpu",
      ])
    #expect(commands.last?["output"] as? String == "torch/numpy_namespace_cuda0.state_dict.pt")
    #expect((commands.last?["contains"] as? String)?.contains("under 'model' only") == true)
    #expect(object?["remap"] as? String == report.remapCommand)
  }
}
