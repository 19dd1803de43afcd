import Foundation
import PTViewCore
import PTViewTestSupport
import Testing

/// The reading core against torch's own account of every committed fixture (`*.expected.json`,
/// written by Tests/Interop/torch_facts.py from real torch): same keys, paths, dtypes, shapes,
/// strides, offsets, devices, storage records, sizes and requires_grad.
@Suite struct FixtureParityTests {
  static let fixtures = Fixtures.files(in: "torch", suffix: ".expected.json")
    .map { String($0.dropLast(".expected.json".count)) }
    .filter { !$0.hasPrefix("tar_era") }

  @Test("ls --json of the core equals torch's facts", arguments: fixtures)
  func parity(_ name: String) throws {
    let checkpoint = try Fixtures.fullCheckpoint("torch/" + name)
    let expected = try JSONParser.parse(try Fixtures.bytes("torch/" + name + ".expected.json"))
    let actual = try JSONParser.parse(Array(ListReport.json(checkpoint.entries).utf8))
    guard case .array(let want) = expected, case .array(let got) = actual else {
      Issue.record("not arrays")
      return
    }
    var byKey: [String: JSONValue] = [:]
    for item in got {
      if let key = item["key"]?.stringValue, byKey[key] == nil { byKey[key] = item }
    }
    for item in want {
      let key = try #require(item["key"]?.stringValue)
      guard let mine = byKey.removeValue(forKey: key) else {
        if item["optional"] != .bool(true) { Issue.record("\(name): \(key) missing") }
        continue
      }
      for field in [
        "path", "dtype", "shape", "stride", "offset", "device", "storage", "nbytes",
        "requires_grad",
      ] {
        #expect(mine[field] == item[field], "\(name): \(key).\(field)")
      }
    }
    for (key, extra) in byKey where extra["in_state_dict"] != .bool(false) {
      Issue.record("\(name): \(key) listed but torch does not load it")
    }
  }

  @Test("the fixtures are present") func present() { #expect(Self.fixtures.count > 40) }
}
