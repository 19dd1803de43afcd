import Foundation
import PTViewCore
import PTViewFiles

/// Paths to the committed fixtures, found relative to this source file so tests run from any
/// working directory.
public enum Fixtures {
  /// The repository root.
  public static let root: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  /// `Tests/Fixtures/<relative>`.
  public static func url(_ relative: String) -> URL {
    root.appendingPathComponent("Tests/Fixtures").appendingPathComponent(relative)
  }

  /// `Tests/Fixtures/<relative>` as a path string.
  public static func path(_ relative: String) -> String { url(relative).path }

  /// The bytes of a fixture.
  public static func bytes(_ relative: String) throws -> [UInt8] {
    Array(try Data(contentsOf: url(relative)))
  }

  /// File names in a fixture folder with the given suffix, sorted.
  public static func files(in folder: String, suffix: String) -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: path(folder))) ?? []
    return names.filter { $0.hasSuffix(suffix) }.sorted()
  }

  /// The built `ptview` binary (tests run after `swift build`).
  public static var binary: String {
    let candidates = [".build/debug/ptview", ".build/release/ptview"].map {
      root.appendingPathComponent($0).path
    }
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
  }

  /// Reads the checkpoint fixture at `relative` (strict).
  public static func checkpoint(_ relative: String, strict: Bool = true) throws -> Checkpoint {
    var reader = CheckpointReader()
    reader.strict = strict
    return try reader.read(try FileSource(path: path(relative)))
  }
}
