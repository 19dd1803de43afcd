import Foundation
import PTViewCore
import PTViewFiles
import PTViewJudge
import PTViewTestSupport
import PTViewZip
import Testing

/// The scan against the public corpus (Tests/Fixtures/security/expected.tsv), ptview's own
/// adversarial samples (extra.tsv) and every torch fixture (no false alarm).
@Suite("SafetyCorpus")
struct SafetyCorpusTests {
  struct Case: CustomTestStringConvertible, Sendable {
    var file: String
    var expected: SafetyVerdict
    var note: String
    var testDescription: String { file }
  }

  static func cases(_ tsv: String, folder: String) -> [Case] {
    guard let text = try? String(contentsOfFile: Fixtures.path("security/" + tsv), encoding: .utf8)
    else { return [] }
    var out: [Case] = []
    for line in text.split(separator: "\n").dropFirst() {
      let columns = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
      guard columns.count >= 2, let verdict = SafetyVerdict(rawValue: columns[1]) else { continue }
      out.append(
        Case(
          file: folder + "/" + columns[0], expected: verdict,
          note: columns.count > 2 ? columns[2] : ""))
    }
    return out
  }

  static let corpus = cases("expected.tsv", folder: "files")
  static let extra = cases("extra.tsv", folder: "extra")

  static func scan(_ relative: String) throws -> SafetyReport {
    let path = Fixtures.path(relative)
    var scanner = SafetyScanner()
    scanner.decompressor = try? LibzipArchive(path: path)
    scanner.makeDecompressor = { bytes throws(CheckpointError) in try LibzipArchive(bytes: bytes) }
    return scanner.scan(try FileSource(path: path), path: relative)
  }

  @Test("the corpus holds all 117 public samples")
  func corpusIsComplete() {
    #expect(Self.corpus.count == 117)
  }

  @Test("public sample verdicts", arguments: corpus)
  func publicSample(_ c: Case) throws {
    let report = try Self.scan("security/" + c.file)
    #expect(report.verdict == c.expected, "\(c.file): \(c.note)\n\(report.text)")
  }

  @Test("ptview's own adversarial samples", arguments: extra)
  func extraSample(_ c: Case) throws {
    let report = try Self.scan("security/" + c.file)
    #expect(report.verdict == c.expected, "\(c.file): \(c.note)\n\(report.text)")
  }

  /// Every file torch wrote for the fixtures: never dangerous (and never unscannable when it
  /// holds a pickle).
  static let torchFixtures: [String] = {
    let root = Fixtures.path("torch")
    var out: [String] = []
    if let walker = FileManager.default.enumerator(atPath: root) {
      while let relative = walker.nextObject() as? String {
        if relative.hasSuffix(".txt") || relative.hasSuffix(".json") { continue }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: root + "/" + relative, isDirectory: &isDirectory),
          !isDirectory.boolValue
        {
          out.append(relative)
        }
      }
    }
    return out.sorted()
  }()

  @Test("torch fixtures raise no false alarm", arguments: torchFixtures)
  func torchFixture(_ file: String) throws {
    let report = try Self.scan("torch/" + file)
    #expect(report.verdict != .dangerous, "\(report.text)")
    #expect(report.verdict != .unscannable, "\(report.text)")
  }
}
