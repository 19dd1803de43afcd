import Foundation
import PTViewCore
import PTViewEdit
import PTViewTestSupport
import Testing

/// The planner on checkpoints the libraries made (Tests/Fixtures/edit): the keys torch
/// recorded in the manifest are the expected values.
@Suite struct EditPlannerTests {
  struct Fixture: Decodable {
    var file: String
    var prefix: String?
    var container: String?
    var stateDictKeys: [String]?

    enum CodingKeys: String, CodingKey {
      case file, prefix, container
      case stateDictKeys = "state_dict_keys"
    }
  }

  struct Manifest: Decodable { var fixtures: [Fixture] }

  func manifest() throws -> [Fixture] {
    let data = Data(try Fixtures.bytes("edit/manifest.json"))
    return try JSONDecoder().decode(Manifest.self, from: data).fixtures
  }

  @Test("--strip-prefix auto finds the wrapper prefix torch's wrappers added, and strips it")
  func autoPrefix() throws {
    for fixture in try manifest() where fixture.file.hasSuffix(".pt") {
      guard let prefix = fixture.prefix, prefix != "model.", let keys = fixture.stateDictKeys
      else { continue }
      let checkpoint = try Fixtures.fullCheckpoint("edit/\(fixture.file)")
      guard checkpoint.entries.map(\.key) == keys else { continue }  // state_dict at the root
      let plan = try EditPlanner.plan(checkpoint, [.stripPrefix("auto")])
      #expect(plan.detectedPrefixes == [prefix], "\(fixture.file)")
      #expect(plan.outputKeys == keys.map { String($0.dropFirst(prefix.count)) }, "\(fixture.file)")
    }
  }

  @Test("--state-dict of TorchScript keeps torch.jit.load(f).state_dict()'s keys and order")
  func torchScriptStateDict() throws {
    var checked = 0
    for fixture in try manifest() where fixture.container == "torchscript" {
      guard let keys = fixture.stateDictKeys else { continue }
      let checkpoint = try Fixtures.fullCheckpoint("edit/\(fixture.file)")
      #expect(!checkpoint.scriptClasses.isEmpty, "\(fixture.file): no class declarations read")
      let plan = try EditPlanner.plan(checkpoint, [.stateDict])
      #expect(plan.outputKeys == keys, "\(fixture.file)")
      checked += 1
    }
    #expect(checked >= 5)
  }

  @Test("a rename that makes two keys one is refused, naming both")
  func collision() throws {
    let checkpoint = try Fixtures.fullCheckpoint("edit/ddp.pt")
    do {
      _ = try EditPlanner.plan(
        checkpoint, [.rename(KeyPattern(old: "module.head.weight", new: "module.head.bias"))])
      Issue.record("the collision was not refused")
    } catch {
      #expect(error.message.contains("module.head.weight"))
      #expect(error.message.contains("module.head.bias"))
    }
  }

  @Test("--keep keeps the matches and what holds them; --drop removes whole subtrees")
  func keepAndDrop() throws {
    let checkpoint = try Fixtures.fullCheckpoint("edit/train_loop.pt")
    let kept = try EditPlanner.plan(checkpoint, [.keep("model*")])
    #expect(kept.outputKeys?.allSatisfy { $0.hasPrefix("model.") } == true)
    #expect(kept.dropped.contains("optimizer"))
    let dropped = try EditPlanner.plan(checkpoint, [.drop("optimizer")])
    #expect(dropped.dropped == ["optimizer"])
    #expect(dropped.outputKeys?.contains { $0.hasPrefix("optimizer") } == false)
    #expect(dropped.bytesDropped > 0)
  }

  @Test("--state-dict with several candidates names them; --extract chooses")
  func candidates() throws {
    let checkpoint = try Fixtures.fullCheckpoint("edit/train_ema.pt")
    do {
      _ = try EditPlanner.plan(checkpoint, [.stateDict])
      Issue.record("several candidates were not refused")
    } catch {
      #expect(error.message.contains("'state_dict'"))
      #expect(error.message.contains("'state_dict_ema'"))
    }
    let plan = try EditPlanner.plan(checkpoint, [.extract("state_dict_ema"), .stateDict])
    #expect(plan.outputKeys?.isEmpty == false)
  }

  @Test("--from-error with torch's own message derives the strip")
  func fromError() throws {
    let data = Data(try Fixtures.bytes("edit/manifest.json"))
    let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
    let fixtures = json?["fixtures"] as? [[String: Any]] ?? []
    let ddp = fixtures.first { $0["file"] as? String == "ddp.pt" }
    let text =
      (ddp?["load_state_dict_strict"] as? [String: Any])?["text"] as? String ?? ""
    let checkpoint = try Fixtures.fullCheckpoint("edit/ddp.pt")
    let plan = try EditPlanner.plan(checkpoint, [.fromError(try LoadErrorMessage.parse(text))])
    #expect(plan.derivedFlags == ["--strip-prefix module."])
  }
}
