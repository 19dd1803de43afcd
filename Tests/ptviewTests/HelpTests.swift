import Foundation
import PTViewTestSupport
import Testing

/// What a person reads: `ptview --help` and `ptview help VERB` at 80 columns, `--version`.
@Suite struct HelpTests {
  let ptview = Fixtures.binary

  /// Every verb the binary has, from the argument parser's own description of the commands,
  /// so a new verb is checked without being listed here.
  func verbs() throws -> [String] {
    let dump = try run(ptview, ["--experimental-dump-help"])
    let json = try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any]
    let command = json?["command"] as? [String: Any]
    let subcommands = command?["subcommands"] as? [[String: Any]] ?? []
    return subcommands.compactMap { $0["commandName"] as? String }.filter { $0 != "help" }
  }

  func help(_ arguments: [String]) throws -> String {
    var environment = ProcessInfo.processInfo.environment
    environment["COLUMNS"] = "80"
    let result = try run(ptview, arguments, environment: environment)
    #expect(result.status == 0, "\(arguments)")
    return result.stdout
  }

  /// Problems with one help text: lines wider than 80 columns, no example of `verb`, and
  /// prose broken where the argument parser's wrapping would not break it (a hard line break
  /// in the middle of a paragraph, as in "by parsing" / "the container").
  func problems(_ text: String, verb: String?) -> [String] {
    var found: [String] = []
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    for line in lines where line.count > 80 {
      found.append("wider than 80 columns: \(line)")
    }
    let prose = lines.prefix { !$0.hasPrefix("USAGE:") }
    for (line, next) in zip(prose, prose.dropFirst())
    where !line.isEmpty && !next.isEmpty && !line.hasPrefix(" ") && !next.hasPrefix(" ") {
      // The parser breaks at the last blank among the first 80 characters, so a word that
      // would end exactly at column 80 moves down too.
      let word = next.split(separator: " ").first.map(String.init) ?? ""
      if line.count + 1 + word.count < 80 {
        found.append("broken mid-paragraph: '\(line)' / '\(next)'")
      }
    }
    guard let start = lines.firstIndex(of: "Examples:") else {
      return found + ["no Examples: section"]
    }
    let examples = lines[(start + 1)...].prefix { $0.hasPrefix("  ") }
    if examples.isEmpty || !examples.allSatisfy({ $0.hasPrefix("  ptview ") }) {
      found.append("Examples: should list `ptview ...` command lines")
    }
    if let verb, verb != "view", !examples.contains(where: { $0.hasPrefix("  ptview \(verb) ") }) {
      found.append("no example of ptview \(verb)")
    }
    return found
  }

  @Test("ptview --help fits 80 columns, wraps its paragraphs whole, and has examples")
  func topLevel() throws {
    for arguments in [["--help"], ["help"]] {
      let text = try help(arguments)
      #expect(text.hasPrefix("OVERVIEW: "))
      #expect(problems(text, verb: nil) == [], "\(arguments)")
    }
  }

  @Test("ptview help VERB, for every verb: an example of it, 80 columns, whole paragraphs")
  func everyVerb() throws {
    let verbs = try verbs()
    #expect(
      Set(["view", "ls", "info", "dis", "tree", "remap", "edit", "doctor", "scan", "cat", "diff"])
        .isSubset(
          of: verbs))
    for verb in verbs {
      let text = try help(["help", verb])
      #expect(text.contains("USAGE: ptview \(verb)"), "\(verb)")
      #expect(problems(text, verb: verb) == [], "ptview help \(verb)")
      #expect(try help([verb, "--help"]) == text, "\(verb) --help")
    }
  }

  @Test("--version: the release and the commit it was built from")
  func version() throws {
    let result = try run(ptview, ["--version"])
    #expect(result.status == 0)
    let line = result.stdout.trimmingCharacters(in: .newlines)
    let pattern = #/ptview \d+\.\d+\.\d+ \(commit ([0-9a-f]{12}(-dirty)?|unknown)\)/#
    #expect(line.wholeMatch(of: pattern) != nil, "\(line)")
    // In a git checkout, the commit is the checkout's own.
    let git = URL(fileURLWithPath: "/usr/bin/git")
    guard FileManager.default.isExecutableFile(atPath: git.path) else { return }
    let head = try run(git.path, ["-C", Fixtures.root.path, "rev-parse", "--short=12", "HEAD"])
    guard head.status == 0 else { return }
    let commit = head.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    #expect(line.contains("(commit \(commit)"), "\(line) vs HEAD \(commit)")
  }
}
