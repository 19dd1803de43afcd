import ArgumentParser
import PTViewCore
import PTViewFiles
import PTViewRemote

/// `ptview repair`: undo an in-place append that did not finish.
struct Repair: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "repair",
    abstract: "Undo an in-place edit that was interrupted while appending to FILE.",
    discussion: """
      `ptview remap FILE --in-place` and `ptview edit FILE --in-place` append the changed \
      records and a new directory after FILE's old end and never write a byte before it. If \
      the append was cut short (power loss, a killed process), FILE ends in a torn tail, \
      which every ptview command names. repair finds the old end (from the marker block ptview \
      writes there, or from the last end-of-directory record before the tail whose archive \
      is intact) and truncates FILE to it: the file is then byte for byte what it was before \
      the edit. It truncates only when the file cut there is a valid archive and the bytes \
      after it are the start of a ptview append. An intact file is never changed.

      Examples:
        ptview repair model.pt
        ptview repair model.pt --dry-run --json

      Exit codes: 0 intact (already, or after the repair); 1 damaged in a way repair does \
      not undo (nothing changed), or the truncation failed; 2 FILE is unreadable; 64 usage \
      errors.
      """)

  @ArgumentParser.Argument(help: "The checkpoint file.", completion: .file()) var file: String
  @Flag(help: "Say what would be done; change nothing.") var dryRun = false
  @Flag(help: "Print the result as JSON.") var json = false

  @OptionGroup var remote: RemoteOptions

  func run() throws {
    if RemoteLocation.isRemote(file) && !dryRun {
      Diagnostics.stderr("ptview: \(file): repair changes a local file; this one is remote")
      throw ExitCode(1)
    }
    let source = try Loading.source(file)
    let q = JSONWriter.quoted
    func report(_ state: String, _ text: String, _ fields: [String]) {
      if json {
        let all = ["\"file\": \(q(file))", "\"state\": \(q(state))"] + fields
        Diagnostics.out("{\n  " + all.joined(separator: ",\n  ") + "\n}\n")
      } else {
        Diagnostics.out(text + "\n")
      }
    }
    switch AppendedArchive.diagnose(source) {
    case .intact(let shape):
      let appended = shape.lastAppend.map {
        "; last in-place edit appended at byte \($0.oldSize), \(shape.checkedRecords) appended records check out"
      }
      report(
        "intact", "\(file): intact\(appended ?? ""); nothing changed",
        [
          "\"size\": \(source.size)", "\"changed\": false",
          "\"last_append_at\": \(shape.lastAppend.map { String($0.oldSize) } ?? "null")",
          "\"checked_records\": \(shape.checkedRecords)",
        ])
    case .torn(let oldEnd, let reason):
      let cut = source.size - oldEnd
      if dryRun {
        report(
          "torn",
          "\(file): torn append: \(reason); repair would truncate it to \(oldEnd) bytes (removing \(cut))",
          [
            "\"size\": \(source.size)", "\"old_size\": \(oldEnd)", "\"changed\": false",
            "\"reason\": \(q(reason))",
          ])
        return
      }
      do { try AppendOutput.truncate(file, to: oldEnd, expecting: source.size) } catch {
        Diagnostics.stderr("ptview: \(file): \(error.message)")
        throw ExitCode(1)
      }
      let after = try Loading.source(file)
      guard after.size == oldEnd, case .success = AppendedArchive.intact(after) else {
        Diagnostics.stderr("ptview: \(file): truncated to \(oldEnd) bytes but it is not intact")
        throw ExitCode(1)
      }
      report(
        "repaired",
        "\(file): removed a torn append of \(cut) bytes; the file is as it was before that edit (\(oldEnd) bytes)",
        [
          "\"size\": \(oldEnd)", "\"old_size\": \(oldEnd)", "\"removed_bytes\": \(cut)",
          "\"changed\": true", "\"reason\": \(q(reason))",
        ])
    case .unrecoverable(let why):
      if json {
        report("damaged", "", ["\"changed\": false", "\"reason\": \(q(why))"])
      }
      Diagnostics.stderr("ptview: \(file): \(why); nothing changed")
      throw ExitCode(1)
    }
  }
}
