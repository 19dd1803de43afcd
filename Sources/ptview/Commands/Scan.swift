import ArgumentParser
import PTViewCore
import PTViewEdit
import PTViewFiles
import PTViewJudge
import PTViewRemote
import PTViewZip

/// `ptview scan`: safety verdicts for pickles (issue 5).
struct Scan: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "scan",
    abstract: "Flag files whose pickles would run code when loaded.",
    discussion: """
      Verdicts: safe (plain data only), suspicious (needs classes or functions beyond plain data), \
      dangerous (can run code or touch the system when loaded), unscannable (cannot be parsed far \
      enough to know; never reported as safe). Containers are recognised by content: bare pickles, \
      several pickles in a row, torch zip/legacy/tar files, nested zips, numpy .npy/.npz. \
      A directory is scanned recursively: every regular file inside it is scanned (symbolic links \
      are not followed).

      Exit codes: 0 safe, 3 suspicious, 4 dangerous, 2 unscannable or unreadable; for several \
      files, the most severe (dangerous, then unscannable, then suspicious).

      Examples:
        ptview scan model.pt
        ptview scan ~/Downloads/checkpoints   # every file below it
        ptview scan --json *.pt | jq -r '.files[] | select(.exit_code != 0) | .path'
      """)

  @ArgumentParser.Argument(help: "Files or directories to scan.", completion: .file())
  var files: [String]
  @Flag(help: "Print JSON for scripts.") var json = false
  @Flag(help: .hidden) var noDangerList = false
  @Flag(
    help: """
      Print instead, one JSON line per file, what ptview's VM decodes from the file's first \
      byte as one pickle: its imports, calls, extension codes and persistent ids in stream \
      order, and where it stopped (for differential tests against CPython).
      """) var vmTrace = false

  func run() throws {
    if vmTrace {
      for path in expand(files) {
        let bytes: [UInt8]
        do {
          let source = try Loading.openForScan(path)
          bytes = try source.readExactly(at: 0, count: Int(source.size))
        } catch {
          Diagnostics.stderr("ptview: \(path): \(error.message)")
          throw ExitCode(2)
        }
        Diagnostics.out(PickleTrace(bytes).json(path: path) + "\n")
      }
      return
    }
    var reports: [SafetyReport] = []
    for path in expand(files) {
      reports.append(scan(path))
    }
    let verdict = SafetyReport.combined(reports)
    if json {
      Diagnostics.out(
        "{\"verdict\":\"\(verdict.rawValue)\",\"exit_code\":\(verdict.exitCode),\"files\":["
          + reports.map(\.json).joined(separator: ",") + "]}\n")
    } else {
      Diagnostics.out(reports.map(\.text).joined())
      if reports.count > 1 {
        Diagnostics.out("\(reports.count) files: \(verdict.rawValue)\n")
      }
    }
    if verdict.exitCode != 0 { throw ExitCode(verdict.exitCode) }
  }

  /// Files as given; directories replaced by the regular files under them, sorted.
  func expand(_ paths: [String]) -> [String] {
    paths.flatMap {
      RemoteLocation.isRemote($0) ? [$0] : Folder.regularFiles(under: $0) ?? [$0]
    }
  }

  func scan(_ path: String) -> SafetyReport {
    let source: any ByteSource
    do { source = try Loading.openForScan(path) } catch {
      Diagnostics.stderr("ptview: \(path): \(error.message)")
      return SafetyReport(
        path: path, verdict: .unscannable, format: "unreadable", pickles: [],
        findings: [
          SafetyFinding(
            verdict: .unscannable, kind: .unparsable, location: "file", offset: 0,
            offsetIsInFile: true,
            global: nil, rendering: nil, detail: "cannot open: \(error.message)", node: nil)
        ], notes: [], omittedFindings: 0)
    }
    if let torn = AppendedArchive.tornTailQuick(source) {
      Diagnostics.stderr("ptview: \(path): \(torn.description)")
      return SafetyReport(
        path: path, verdict: .unscannable, format: "torn append", pickles: [],
        findings: [
          SafetyFinding(
            verdict: .unscannable, kind: .unparsable, location: "file",
            offset: torn.offset ?? 0, offsetIsInFile: true, global: nil, rendering: nil,
            detail: torn.message, node: nil)
        ], notes: [], omittedFindings: 0)
    }
    // JSON documents (configs, indexes, tokenizers beside checkpoints) hold no pickle and no
    // loader runs them: a folder scan says so instead of calling them unscannable.
    if source.size <= 64 << 20, let first = try? source.read(at: 0, count: 1).first,
      first == UInt8(ascii: "{") || first == UInt8(ascii: "["),
      let bytes = try? source.readExactly(at: 0, count: Int(source.size)),
      (try? JSONParser.parse(bytes)) != nil
    {
      return SafetyReport(
        path: path, verdict: .safe, format: "JSON document (no pickle)", pickles: [],
        findings: [], notes: [], omittedFindings: 0)
    }
    var scanner = SafetyScanner()
    scanner.useDangerList = !noDangerList
    scanner.decompressor = Loading.decompressor(path, source)
    scanner.makeDecompressor = { bytes throws(CheckpointError) in try LibzipArchive(bytes: bytes) }
    return scanner.scan(source, path: path)
  }
}
