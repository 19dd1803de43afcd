import PTViewCore
import PTViewEdit
import PTViewPickle
import PTViewTestSupport
import Testing

/// Rules, planning and the rewrite, in memory (real torch judges the files in Tests/Interop).
@Suite struct RemapTests {
  @Test(
    "globs: * crosses dots, ? is one character",
    arguments: [
      ("cuda:*", "cuda:0", true), ("cuda:*", "cpu", false), ("*", "mps", true),
      ("model.*", "model.a.b", true),
      ("*.weight", "layers.0.attn.weight", true), ("layers.?.w", "layers.1.w", true),
      ("layers.?.w", "layers.10.w", false),
      ("a*b*c", "axxbyyc", true), ("a*b*c", "axxbyy", false),
    ] as [(String, String, Bool)])
  func glob(_ pattern: String, _ text: String, _ expected: Bool) {
    #expect(Glob.matches(pattern, text) == expected)
  }

  @Test("rules: first match wins, --to takes the rest, a rule to the same place keeps it")
  func rules() throws {
    let rules = DeviceRules(
      rules: [
        try DeviceRules.parse("cuda:1=cuda:0"), try DeviceRules.parse("cuda:*=cpu"),
        try DeviceRules.parse("mps=mps"),
      ],
      defaultTarget: "cpu")
    #expect(rules.target(for: "cuda:1") == "cuda:0")
    #expect(rules.target(for: "cuda:3") == "cpu")
    #expect(rules.target(for: "mps") == nil)
    #expect(rules.target(for: "xpu:0") == "cpu")
    #expect(rules.target(for: "cpu") == nil)
    #expect(throws: RuleError.self) { _ = try DeviceRules.parse("cuda:0") }
    #expect(throws: RuleError.self) { _ = try DeviceRules.parse("cuda:0=CUDA!") }
  }

  @Test("--only moves a storage when a selected tensor uses it and names the others")
  func only() throws {
    let checkpoint = try Fixtures.fullCheckpoint("torch/train_ckpt_cuda0.pt")
    let plan = RemapPlanner.plan(
      checkpoint, rules: DeviceRules(defaultTarget: "cpu"), only: ["model.*"])
    let moved = Set(plan.moves.flatMap(\.tensors))
    #expect(!moved.isEmpty && moved.allSatisfy { $0.hasPrefix("model.") })
  }

  @Test("rewriting in memory moves every storage, keeps everything else, and verifies")
  func rewrite() throws {
    for name in [
      "sd_cuda0.pt", "legacy_cuda0.pt", "ts_scripted_cuda0.pt", "sd_proto4.pt", "sd_mixed.pt",
    ] {
      let input = try Fixtures.bytes("torch/" + name)
      let checkpoint = try Fixtures.fullCheckpoint("torch/" + name)
      let plan = RemapPlanner.plan(checkpoint, rules: DeviceRules(defaultTarget: "cpu"))
      let rewriter = CheckpointRewriter(checkpoint: checkpoint, source: MemorySource(input))
      let result = try rewriter.rewrite(plan.edits, outputPath: "/tmp/out.cpu.pt")
      let output = Fixtures.execute(result.plan, input: input)
      let reread = try CheckpointReader().read(MemorySource(output))
      #expect(reread.entries.allSatisfy { $0.tensor.device == "cpu" }, "\(name)")
      #expect(reread.entries.map(\.key) == checkpoint.entries.map(\.key), "\(name)")
      let problems = RewriteVerifier.problems(
        input: checkpoint, inputSource: MemorySource(input), output: reread,
        outputSource: MemorySource(output), edits: plan.edits, rewrite: result)
      #expect(problems.isEmpty, "\(name): \(problems)")
      if checkpoint.format != .legacy { #expect(reread.archiveRoot == "out.cpu", "\(name)") }
    }
  }

  @Test(
    "torch's root naming",
    arguments: [
      ("dir/my.model.v2.pth", "my.model.v2"), ("noext", "noext"), (".hidden.pt", ".hidden"),
      ("a/pytorch_model.bin", "pytorch_model"), ("ünï.pt", "archive"), ("x.", "x"), ("a..pt", "a."),
    ] as [(String, String)])
  func rootNames(_ path: String, _ root: String) {
    #expect(ArchiveNaming.root(forPath: path) == root)
  }

  @Test("the zip layout: every record's data aligned, descriptors, zip64 tail, readable back")
  func zipLayout() throws {
    var writer = TorchZipWriter()
    let records: [(String, [UInt8])] = [
      ("r/data.pkl", [0x80, 0x02, 0x4E, 0x2E]), ("r/.format_version", Array("1".utf8)),
      ("r/data/0", [UInt8](repeating: 7, count: 100)), ("r/data/1", []),
      ("r/version", Array("3\n".utf8)),
    ]
    for (name, data) in records { writer.add(name, .bytes(data)) }
    let bytes = Fixtures.execute(writer.finish(), input: [])
    let directory = try ZipDirectory(source: MemorySource(bytes))
    #expect(directory.entries.map(\.name) == records.map(\.0))
    #expect(directory.hasZip64End)
    for (entry, record) in zip(directory.entries, records) {
      let header = try ZipDirectory.localHeader(of: entry, in: MemorySource(bytes))
      #expect(header.dataOffset % 64 == 0)
      #expect(
        Array(bytes[Int(header.dataOffset)..<Int(header.dataOffset) + record.1.count]) == record.1)
      #expect(entry.crc32 == CRC32.checksum(record.1))
      #expect(entry.flags == (record.1.isEmpty ? 0x0800 : 0x0808))
    }
  }

  @Test("CRC-32 matches zlib's") func crc() {
    #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    #expect(CRC32.checksum([]) == 0)
  }
}
