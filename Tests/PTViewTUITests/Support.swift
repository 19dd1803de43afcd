import Foundation
import PTViewCore
import PTViewEdit
import PTViewJudge
import PTViewTestSupport
import Testing

@testable import PTViewTUI

/// Golden screens: `Goldens/<name>.txt` holds the text of a frame (and optionally a style
/// overlay). `PTVIEW_RECORD_SNAPSHOTS=1 swift test --filter PTViewTUITests` rewrites them.
enum Golden {
  static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Goldens")

  static var recording: Bool {
    ProcessInfo.processInfo.environment["PTVIEW_RECORD_SNAPSHOTS"] == "1"
  }

  /// One character per style, by what matters most in the cell.
  static func code(_ style: Style) -> Character {
    let a = style.attributes
    // Chips of the header: a coloured cell background.
    switch style.background {
    case .red: return "D"
    case .yellow: return "W"
    case .green: return "K"
    default: break
    }
    if a.contains(.reverse) { return "R" }
    switch style.foreground {
    case .yellow: return "Y"
    case .green: return "G"
    case .cyan: return "C"
    case .red: return "r"
    case .magenta: return "M"
    case .blue: return "B"
    default: break
    }
    if a.contains(.bold) { return "b" }
    if a.contains(.underline) { return "u" }
    if a.contains(.dim) { return "d" }
    return " "
  }

  static func text(_ screen: Screen, styles: Bool) -> String {
    var out = screen.lines.map { $0 + "|" }.joined(separator: "\n") + "\n"
    if styles {
      out += "--- styles ---\n" + screen.styleLines(code).joined(separator: "\n") + "\n"
    }
    return out
  }

  static func check(
    _ screen: Screen, _ name: String, styles: Bool = false,
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    let actual = text(screen, styles: styles)
    let url = folder.appendingPathComponent(name + ".txt")
    if recording {
      try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
      try? actual.write(to: url, atomically: true, encoding: .utf8)
      return
    }
    guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
      Issue.record(
        "No golden \(name).txt: run with PTVIEW_RECORD_SNAPSHOTS=1", sourceLocation: sourceLocation)
      return
    }
    if expected != actual {
      let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
      let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
      var report =
        "Screen differs from Goldens/\(name).txt (PTVIEW_RECORD_SNAPSHOTS=1 re-records):\n"
      for i in 0..<max(e.count, a.count) {
        let l = i < e.count ? String(e[i]) : "<none>"
        let r = i < a.count ? String(a[i]) : "<none>"
        if l != r { report += "line \(i + 1)\n  expected: \(l)\n  actual:   \(r)\n" }
      }
      Issue.record(Comment(rawValue: report), sourceLocation: sourceLocation)
    }
  }
}

/// Models over the committed fixtures, with a fixed display path so screens are stable.
enum Make {
  static func checkpoint(_ fixture: String) throws -> Checkpoint {
    try Fixtures.checkpoint(fixture)
  }

  /// The bundled example (`examples/gpu_checkpoint.pt`).
  static func example() throws -> Checkpoint {
    try Fixtures.checkpoint("../../examples/gpu_checkpoint.pt")
  }

  /// A model of a fixture as the explorer opens it: with the scan's and the doctor's verdicts
  /// (`assessed: false` leaves them out).
  static func model(
    _ fixture: String, size: Size = .standard, path: String? = nil, assessed: Bool = true
  ) throws -> Model {
    let name =
      path ?? "fixtures/" + (fixture.split(separator: "/").last.map(String.init) ?? fixture)
    let checkpoint = try checkpoint(fixture)
    return Model(
      checkpoint: checkpoint, path: name, size: size,
      assessment: assessed
        ? assessment(checkpoint, bytes: try Fixtures.bytes(fixture), path: name) : nil)
  }

  static func exampleModel(size: Size = .standard, assessed: Bool = true) throws -> Model {
    try model(
      "../../examples/gpu_checkpoint.pt", size: size, path: "examples/gpu_checkpoint.pt",
      assessed: assessed)
  }

  /// What the shell computes when it opens a file: the scan, the doctor (CPU only), and the
  /// findings on the checkpoint's graph.
  static func assessment(_ checkpoint: Checkpoint, bytes: [UInt8], path: String) -> Assessment {
    let source = MemorySource(bytes)
    return Assessment(
      checkpoint: checkpoint, scan: SafetyScanner().scan(source, path: path),
      doctor: LoadDoctor().diagnose(source, path: path),
      opcodeAt: { offset in offset >= 0 && offset < Int64(bytes.count) ? bytes[Int(offset)] : nil })
  }

  /// A model of a pickle given as bytes (a bare pickle file), assessed.
  static func model(pickle bytes: [UInt8], path: String, size: Size = .standard) throws -> Model {
    let checkpoint = try CheckpointReader().read(MemorySource(bytes))
    return Model(
      checkpoint: checkpoint, path: path, size: size,
      assessment: assessment(checkpoint, bytes: bytes, path: path))
  }
}

extension Model {
  /// Sends keys typed as text (each character one key).
  mutating func type(_ text: String) -> [Effect] {
    var effects: [Effect] = []
    for c in text { effects += update(.key(.character(c))) }
    return effects
  }

  /// Sends keys.
  @discardableResult
  mutating func press(_ keys: KeyEvent...) -> [Effect] {
    var effects: [Effect] = []
    for k in keys { effects += update(.key(k)) }
    return effects
  }

  /// The focused node's key.
  var focusedKey: String? { focusedNode.map { tree[$0].key } }

  /// The rows as indented labels (for compact structure assertions).
  var outline: [String] {
    rows.map { id in
      let n = tree[id]
      return String(repeating: "  ", count: Int(n.depth)) + n.label
    }
  }
}
