import Foundation
import PTViewTestSupport
import Testing

/// The built binary: outputs, exit codes, one-line errors.
@Suite(.serialized) struct CommandLineTests {
  let ptview = Fixtures.binary

  @Test("ls, info, tree and dis work on a real checkpoint")
  func basics() throws {
    let file = Fixtures.path("torch/train_ckpt_cuda0.pt")
    let ls = try run(ptview, ["ls", file])
    #expect(ls.status == 0 && ls.stdout.contains("model.") && ls.stdout.hasPrefix("KEY"))
    let info = try run(ptview, ["info", file, "--json"])
    #expect(info.status == 0)
    let json = try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any]
    #expect(json?["format"] as? String == "zip")
    #expect((json?["devices"] as? [String: Any])?["cuda:0"] != nil)
    let tree = try run(ptview, ["tree", file, "--depth", "2"])
    #expect(tree.status == 0 && tree.stdout.contains("optimizer"))
    let dis = try run(ptview, ["dis", file])
    let golden = try String(
      contentsOf: Fixtures.url("torch/train_ckpt_cuda0.pt.dis.txt"), encoding: .utf8)
    #expect(dis.stdout == golden)
  }

  @Test("dis of a legacy file shows all five pickles, like pickletools on one open file")
  func legacyDis() throws {
    let dis = try run(ptview, ["dis", Fixtures.path("torch/legacy_cuda0.pt")])
    let golden = try String(
      contentsOf: Fixtures.url("torch/legacy_cuda0.pt.dis.txt"), encoding: .utf8)
    #expect(dis.stdout == golden)
    #expect(dis.stdout.components(separatedBy: "highest protocol").count == 6)
  }

  @Test("unreadable input: exit 2 and one line naming the file, record and byte offset")
  func badInput() throws {
    for name in [
      "zip_truncated_512.pt", "zip_pid_string.pt", "binget_missing.pkl",
      "legacy_truncated_in_storage.pt",
    ] {
      let path = Fixtures.path("hostile/" + name)
      let result = try run(ptview, ["ls", path])
      #expect(result.status == 2, "\(name)")
      #expect(result.stderr.hasPrefix("ptview: \(path): "), "\(name): \(result.stderr)")
      #expect(result.stderr.contains("byte "), "\(name)")
      #expect(result.stderr.filter { $0 == "\n" }.count == 1, "\(name)")
      #expect(result.stdout.isEmpty)
    }
    let missing = try run(ptview, ["info", "/nonexistent.pt"])
    #expect(missing.status == 2 && missing.stderr.contains("No such file"))
  }

  @Test("usage errors exit 64")
  func usage() throws {
    #expect(try run(ptview, ["remap", Fixtures.path("torch/sd_cpu.pt")]).status == 64)
    #expect(
      try run(
        ptview,
        ["remap", Fixtures.path("torch/sd_cpu.pt"), "-o", "/tmp/x.pt", "--to", "NOT A DEVICE"]
      ).status == 64)
    #expect(try run(ptview, ["ls"]).status == 64)
  }

  @Test("without a terminal, ptview FILE prints the ls table")
  func defaultCommand() throws {
    let file = Fixtures.path("torch/sd_cpu.pt")
    #expect(try run(ptview, [file]).stdout == (try run(ptview, ["ls", file])).stdout)
  }

  @Test("remap refuses to overwrite without --force and leaves nothing behind")
  func remapRefusal() throws {
    let dir = NSTemporaryDirectory() + "ptview-cli-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try Data("keep".utf8).write(to: URL(fileURLWithPath: dir + "/out.pt"))
    let refused = try run(
      ptview, ["remap", Fixtures.path("torch/sd_cuda0.pt"), "--to", "cpu", "-o", dir + "/out.pt"])
    #expect(refused.status == 1 && refused.stderr.contains("--force"))
    #expect(try String(contentsOfFile: dir + "/out.pt", encoding: .utf8) == "keep")
    let done = try run(
      ptview,
      [
        "remap", Fixtures.path("torch/sd_cuda0.pt"), "--to", "cpu", "-o", dir + "/out.pt",
        "--force", "--json",
      ])
    #expect(done.status == 0)
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["out.pt"])
    let listing = try run(ptview, ["ls", "--json", dir + "/out.pt"])
    #expect(!listing.stdout.contains("cuda"))
  }

  @Test("scan of a folder: every regular file below it, sorted; links skipped; the worst exit")
  func scanFolder() throws {
    let dir = NSTemporaryDirectory() + "ptview-scan-\(UUID().uuidString)"
    let fm = FileManager.default
    try fm.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
    defer { try? fm.removeItem(atPath: dir) }
    try fm.copyItem(atPath: Fixtures.path("torch/sd_cpu.pt"), toPath: dir + "/b_safe.pt")
    try fm.copyItem(
      atPath: Fixtures.path("hostile/global_os_system.pkl"), toPath: dir + "/sub/a_bad.pkl")
    try fm.createSymbolicLink(atPath: dir + "/link.pkl", withDestinationPath: "sub/a_bad.pkl")
    let result = try run(ptview, ["scan", "--json", dir])
    #expect(result.status == 4)
    let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
    let files = (json?["files"] as? [[String: Any]])?.compactMap { $0["path"] as? String }
    #expect(files == [dir + "/b_safe.pt", dir + "/sub/a_bad.pkl"])
    #expect(json?["verdict"] as? String == "dangerous")
    let text = try run(ptview, ["scan", dir + "/sub/a_bad.pkl"])
    #expect(text.status == 4)
    // One site, one finding, rendered as CPython decodes the Python 2 string.
    #expect(text.stdout.components(separatedBy: "os.system(").count == 2, "\(text.stdout)")
    #expect(text.stdout.contains("os.system('echo ptview-hostile-fixture')"))
  }
}
