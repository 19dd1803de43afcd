import Foundation
import PTViewCore
import PTViewEdit
import PTViewFiles
import PTViewJudge
import PTViewPipeline
import PTViewTestSupport
import Testing

@testable import PTViewTUI

/// The explorer on a folder: one tree over every shard, a FILE column, moves planned per
/// shard, the graph of the focused tensor's shard, and a DCP folder read-only.
@Suite("folder view")
struct FolderViewTests {
  static let shardNames = (1...3).map { "pytorch_model-0000\($0)-of-00003.bin" }

  /// The `hf_bin_cuda` fixture as the shell hands it to the explorer.
  static func hfFolder() throws -> FolderShards {
    let base = "folders/hf_bin_cuda/"
    let shards = try shardNames.map { name in
      FolderShards.Shard(
        name: name, checkpoint: try Fixtures.checkpoint(base + name),
        size: Int64(try Fixtures.bytes(base + name).count))
    }
    var total: Int64 = 0
    for name in try FileManager.default.contentsOfDirectory(atPath: Fixtures.path(base)) {
      total += Int64(try Fixtures.bytes(base + name).count)
    }
    return FolderShards(name: "hf_bin_cuda", format: "3 shards", shards: shards, totalBytes: total)
  }

  static func hfModel(_ size: Size = .standard) throws -> Model {
    Model(folder: try hfFolder(), path: "fixtures/hf_bin_cuda", size: size)
  }

  static func dcpMetadata(_ name: String) throws -> (DistributedMetadata, total: Int64) {
    let folder = Fixtures.path("dcp/" + name)
    let bytes = try Fixtures.bytes("dcp/\(name)/.metadata")
    var sizes: [String: Int64] = [:]
    var total: Int64 = Int64(bytes.count)
    for file in try FileManager.default.contentsOfDirectory(atPath: folder)
    where file.hasSuffix(".distcp") {
      sizes[file] = Int64(try Fixtures.bytes("dcp/\(name)/" + file).count)
      total += sizes[file]!
    }
    return (try DistributedMetadataReader.read(bytes, fileSizes: sizes), total)
  }

  static func dcpModel(_ size: Size = .standard, name: String = "sharded") throws -> Model {
    let (metadata, total) = try dcpMetadata(name)
    return Model(
      folder: FolderShards(name: name, distributed: metadata, totalBytes: total),
      path: "fixtures/" + name, size: size)
  }

  /// The values side of the shell for a DCP folder: the folder assembled in place as `ptview
  /// stats DIR` reads it, its entries matched to the rows by key (`entries(forKeys:)`).
  /// `reversed` turns the archive's entries around: the fixtures' archives happen to list
  /// the tensors in row order, which a match by position would get right by chance.
  static func dcpValues(_ model: Model, name: String, reversed: Bool = true) throws
    -> ValuesShell
  {
    let (metadata, _) = try dcpMetadata(name)
    let archive = try ExportPipeline.distributedArchive(
      metadata: metadata, folder: Fixtures.path("dcp/" + name), root: "archive", mode: .view)
    var checkpoint = try CheckpointReader().read(archive.source)
    if reversed { checkpoint.entries.reverse() }
    let rows = try #require(model.folder).entries(forKeys: checkpoint.entries.map(\.key))
    return ValuesShell(checkpoint: checkpoint, source: archive.source, rows: rows)
  }

  /// Sends the shell's answers to `effects` (and to what they lead to).
  static func deliver(_ model: inout Model, _ shell: ValuesShell, _ effects: [Effect]) throws {
    var pending = effects
    while !pending.isEmpty {
      let answers = try shell.answers(pending)
      pending = []
      for message in answers { pending += model.update(message) }
    }
  }

  @Test("a sharded folder at 80 columns: the header counts every shard, FILE shows 1/3")
  func folder80() throws {
    Golden.check(try Self.hfModel().render(), "folder-80x24")
  }

  @Test("a sharded folder at 120 columns: FILE shows 00001-of-00003")
  func folder120() throws {
    Golden.check(try Self.hfModel(Size(columns: 120, rows: 30)).render(), "folder-120x30")
  }

  @Test("the header counts the tensors of all shards (tied weights once, per shard)")
  func header() throws {
    let folder = try Self.hfFolder()
    let model = Model(folder: folder, path: "x/hf_bin_cuda")
    var distinct = 0
    for shard in folder.shards {
      distinct += Set(shard.checkpoint.entries.compactMap(\.tensor.node)).count
    }
    #expect(model.header.tensors == distinct)
    #expect(
      model.tree.entries.count == folder.shards.reduce(0) { $0 + $1.checkpoint.entries.count })
    #expect(model.header.fileName == "hf_bin_cuda")
    #expect(model.header.format == "3 shards")
  }

  @Test("M plans every shard as remap FOLDER does, and the tree shows every tensor moving")
  func moveAll() throws {
    var model = try Self.hfModel()
    model.press(.character("M"), .enter)
    let folder = try Self.hfFolder()
    var expected = 0
    for shard in folder.shards {
      let plan = try EditPlanner.plan(
        shard.checkpoint, [.moveDevices(DeviceRules(defaultTarget: "cpu"), only: .all)])
      expected += plan.edits.count
    }
    #expect(model.plan?.edits.count == expected)
    #expect(model.pending.tensors == model.header.tensors)
    #expect(model.pending.count[0] == Int32(model.tree.entries.count))
  }

  @Test("w offers FOLDER.cpu and sends the staged moves to the shell's folder writer")
  func writeRequest() throws {
    var model = try Self.hfModel()
    model.press(.character("M"), .enter, .character("w"))
    let effects = model.press(.enter)
    #expect(effects == [.checkOutput(path: "fixtures/hf_bin_cuda.cpu")])
    _ = model.update(.outputChecked(path: "fixtures/hf_bin_cuda.cpu", .exists))
    let write = model.press(.character("y"))
    guard case .write(let request) = write.first else {
      Issue.record("no write: \(write)")
      return
    }
    #expect(request.overwrite)
    #expect(request.operations == [.moveDevices(DeviceRules(defaultTarget: "cpu"), only: .all)])
  }

  @Test("m on a subtree spread over shards moves its tensors in every shard")
  func subtreeAcrossShards() throws {
    var model = try Self.hfModel()
    let h = try #require(model.tree.preorder.first { model.tree[$0].key == "transformer.h" })
    model.reveal(h)
    #expect(model.nodeFile[Int(h)] == Tree.mixed)
    model.press(.character("m"), .enter)
    #expect(model.pending.count[Int(h)] == model.tree[h].tensors)
    #expect(model.pending.tensors == Int(model.tree[h].tensors))
    let files = Set(
      model.tree.subtree(h).compactMap { id in
        model.pending.count[Int(id)] > 0 ? model.tree.entry(of: id)?.file : nil
      })
    #expect(files.count == 3)
  }

  @Test("the folder's verdicts arrive after the first screen; the header shows them")
  func verdicts() throws {
    var model = try Self.hfModel(Size(columns: 120, rows: 24))
    model.assessing = true
    let name = "folders/hf_bin_cuda/" + Self.shardNames[0]
    let report = SafetyScanner().scan(MemorySource(try Fixtures.bytes(name)), path: name)
    _ = model.update(
      .assessed(
        AssessmentDelivery(
          checkpoint: try Fixtures.checkpoint(name),
          assessment: Assessment(scan: report, doctor: nil))))
    #expect(!model.assessing)
    #expect(model.safety.scan == .safe)
    let header = model.render().lines[0]
    #expect(header.contains("scan: safe"))
    #expect(header.contains("3 shards"))
  }

  @Test("a file the scan flags: its rows carry the mark; the status and the pane name it")
  func flaggedShard() throws {
    // hf_bin_cuda with its second shard swapped for a state_dict whose pickle calls exec.
    let base = "folders/hf_bin_cuda/"
    let bad = "security/files/fk_injected_exec_state_dict.pt"
    let files = [
      (Self.shardNames[0], base + Self.shardNames[0]), ("injected.bin", bad),
      (Self.shardNames[2], base + Self.shardNames[2]),
    ]
    var shards: [FolderShards.Shard] = []
    var scans: [Assessment?] = []
    for (name, path) in files {
      let bytes = try Fixtures.bytes(path)
      shards.append(
        FolderShards.Shard(
          name: name, checkpoint: try Fixtures.checkpoint(path), size: Int64(bytes.count)))
      scans.append(
        Assessment(scan: SafetyScanner().scan(MemorySource(bytes), path: name), doctor: nil))
    }
    let folder = FolderShards(name: "mixed", format: "3 files", shards: shards, totalBytes: 0)
    var model = Model(folder: folder, path: "x/mixed", size: Size(columns: 100, rows: 30))
    model.assessing = true
    _ = model.update(
      .assessed(
        AssessmentDelivery(
          checkpoint: shards[0].checkpoint,
          assessment: Assessment(scan: scans[1]?.scan, doctor: nil), shards: scans)))
    #expect(model.safety.scan == .dangerous)
    #expect(model.safety.flaggedShards.map(\.name) == ["injected.bin"])
    #expect(model.status?.text.contains("injected.bin dangerous") == true)
    // Every tensor row of the flagged file is marked, no other.
    for id in model.tree.preorder where model.tree[id].kind == .tensor {
      let file = model.tree.entry(of: id)?.file
      #expect((model.safety.level(of: id) == .dangerous) == (file == "injected.bin"))
    }
    Golden.check(model.render(), "folder-flagged-shard")
    model.press(.character("!"))
    #expect(model.tree.entry(of: try #require(model.focusedNode))?.file == "injected.bin")
    Golden.check(model.render(), "folder-flagged-shard-jump")
  }

  @Test("the filter works across shards")
  func filterAcrossShards() throws {
    var model = try Self.hfModel()
    model.press(.character("f"))
    _ = model.type("mlp")
    model.press(.enter)
    let files = Set(
      model.rows.compactMap { model.tree.entry(of: $0)?.file })
    #expect(files.count >= 2)
  }

  @Test("x drops a key of one shard; the other shards are planned without it, as edit FOLDER")
  func dropOneShard() throws {
    var model = try Self.hfModel()
    model.press(.character("/"))
    _ = model.type("ln_f.bias")
    model.press(.enter, .character("x"))
    #expect(model.staging.operations == [.drop("transformer.ln_f.bias")])
    #expect(model.plan?.dropped == ["transformer.ln_f.bias"])
    let e = try #require(model.tree.entries.firstIndex { $0.key == "transformer.ln_f.bias" })
    #expect(model.edit.dropped[Int(model.tree.entryNode[e])])
  }

  @Test("c casts every torch shard, planned as edit FOLDER --cast plans it")
  func castFolder() throws {
    var model = try Self.hfModel()
    model.press(.character("c"), .enter)
    let bf16 = try #require(DType.named("bfloat16"))
    #expect(model.staging.operations == [.cast(bf16)])
    let folder = try Self.hfFolder()
    let casts = try folder.shards.reduce(0) {
      $0 + (try EditPlanner.plan($1.checkpoint, [.cast(bf16)])).casts.count
    }
    #expect(model.plan?.casts.count == casts)
    #expect(model.edit.castCount[0] == Int32(model.tree.entries.count))
  }

  /// The `hf_safetensors` fixture (transformers' own save_pretrained) as the shell hands it.
  static func safetensorsFolder() throws -> FolderShards {
    let base = "folders/hf_safetensors/"
    let shards = try (1...3).map { n in
      let name = "model-0000\(n)-of-00003.safetensors"
      let bytes = try Fixtures.bytes(base + name)
      return FolderShards.Shard(
        name: name, checkpoint: try SafetensorsReader.read(MemorySource(bytes)),
        size: Int64(bytes.count))
    }
    return FolderShards(name: "hf_safetensors", format: "3 shards", shards: shards, totalBytes: 0)
  }

  @Test("extract and state_dict are refused on folders; key edits, drops and casts are not")
  func folderRefusals() {
    #expect(FolderShards.refusal([.extract("model")])?.contains("not yet on folders") == true)
    #expect(FolderShards.refusal([.stateDict]) != nil)
    #expect(FolderShards.refusal([.cast(DType.named("bfloat16")!), .drop("x")]) == nil)
  }

  @Test("c and P on safetensors shards: every float tensor cast, keys planned over the folder")
  func safetensorsCastAndStrip() throws {
    let folder = try Self.safetensorsFolder()
    var model = Model(folder: folder, path: "fixtures/hf_safetensors")
    model.press(.character("c"), .enter)
    let bf16 = try #require(DType.named("bfloat16"))
    #expect(model.staging.operations == [.cast(bf16)])
    let floats = folder.entries.count {
      $0.tensor.dtype != bf16 && EditOperation.isFloating($0.tensor.dtype)
    }
    #expect(floats > 0)
    #expect(model.plan?.casts.count == floats)
    #expect(model.edit.castCount[0] == Int32(floats))
    #expect(model.edit.bytesSaved > 0)
    // strip `transformer.`: the prefix only some keys have (lm_head is tied and not saved).
    let strip = try #require(model.prefixChoices().first { $0 == "transformer." })
    let keys = folder.shards.flatMap { $0.checkpoint.entries.map(\.key) }
    let keyPlan = try FolderKeyPlan.plan(keys: keys, [.stripPrefix(strip)])
    let staged = model.stageOperations(model.staging.operations + [.stripPrefix(strip)], "strip")
    #expect(staged)
    let renamed = Dictionary(
      uniqueKeysWithValues: (model.plan?.renamed ?? []).map { ($0.from, $0.to) })
    #expect(renamed == Dictionary(uniqueKeysWithValues: keyPlan.renamed.map { ($0.from, $0.to) }))
    #expect(!renamed.isEmpty)
    let e = try #require(model.tree.entries.firstIndex { $0.key == "transformer.ln_f.weight" })
    let node = model.tree.entryNode[e]
    #expect(model.plannedKey(node) == "ln_f.weight")
    #expect(model.edit.castCount[Int(node)] == 1)
  }

  @Test("a rename on safetensors shards that matches no key is refused with the folder's words")
  func safetensorsRenameRefused() throws {
    var model = Model(folder: try Self.safetensorsFolder(), path: "fixtures/hf_safetensors")
    let ok = model.stageOperations(
      [.rename(try KeyPattern.parse("nothere.=x."))], "rename")
    #expect(!ok)
    #expect(model.status?.text.contains("no key starts with it") == true)
    #expect(model.staging.isEmpty)
  }

  @Test("M alone on safetensors shards: nothing to move, and it says why")
  func safetensorsMoveOnly() throws {
    var model = Model(folder: try Self.safetensorsFolder(), path: "fixtures/hf_safetensors")
    model.press(.character("M"), .enter)
    #expect(model.staging.isEmpty)
    #expect(model.status?.text.contains("store no device") == true)
  }

  @Test("Tab opens the graph of the focused tensor's shard")
  func graphOfShard() throws {
    var model = try Self.hfModel()
    // The first row of the last shard: ln_f.weight.
    let e = try #require(model.tree.entries.firstIndex { $0.key == "transformer.ln_f.weight" })
    model.reveal(model.tree.entryNode[e])
    model.press(.tab)
    #expect(model.graphShard == 2)
    #expect(model.showingGraph)
    model.press(.tab)
    #expect(model.focusedNode == model.tree.entryNode[e])
  }

  @Test("shard names shorten to what tells them apart")
  func shortNames() throws {
    let folder = try Self.hfFolder()
    #expect(folder.shortNames(width: 40) == Self.shardNames)
    #expect(folder.shortNames(width: 28) == Self.shardNames.map { String($0.dropLast(4)) })
    #expect(folder.shortNames(width: 14) == ["00001-of-00003", "00002-of-00003", "00003-of-00003"])
    #expect(folder.shortNames(width: 7) == ["1/3", "2/3", "3/3"])
  }

  @Test("DeepSpeed's file names shorten to the words that differ")
  func deepSpeedNames() {
    let names = [
      "global_step2/mp_rank_00_model_states.pt",
      "global_step2/zero_pp_rank_0_mp_rank_00_optim_states.pt",
      "global_step2/zero_pp_rank_1_mp_rank_00_optim_states.pt",
    ]
    var folder = FolderShards(name: "ds", format: "3 files", shards: [], totalBytes: 0)
    folder.fileNames = names
    #expect(folder.shortNames(width: 40) == names.map { String($0.dropFirst(13).dropLast(3)) })
    #expect(folder.shortNames(width: 16) == ["model", "zero_pp_0_optim", "zero_pp_1_optim"])
    #expect(Set(folder.shortNames(width: 8)).count == 3)
  }

  @Test("DCP rows find their values by key, whatever the assembled archive's order")
  func dcpKeyMatch() throws {
    let model = try Self.dcpModel(name: "nested")
    let shell = try Self.dcpValues(model, name: "nested")
    let rows = try #require(shell.rows)
    let entries = model.tree.entries
    // Every row has its tensor, and each is matched by its key, not its position.
    #expect(Set(rows.filter { $0 >= 0 }).count == entries.count)
    for (i, row) in rows.enumerated() where row >= 0 {
      #expect(entries[Int(row)].key == shell.checkpoint.entries[i].key)
    }
    #expect(rows.enumerated().contains { $0.element != Int32($0.offset) })
  }

  @Test("v on a DCP folder's row: the values of the assembled tensor, as for one file")
  func dcpValuesPane() throws {
    var model = try Self.dcpModel(name: "nested")
    let shell = try Self.dcpValues(model, name: "nested")
    try Self.deliver(&model, shell, model.update(.key(.character("v"))))
    var steps = 0
    while model.focusedKey != "half" && steps < 20 {
      try Self.deliver(&model, shell, model.update(.key(.down)))
      steps += 1
    }
    #expect(model.focusedKey == "half")
    Golden.check(model.render(), "folder-dcp-values-half")
    try Self.deliver(&model, shell, model.update(.key(.escape)))
    try Self.deliver(&model, shell, model.update(.key(.character("V"))))
    #expect(model.status?.text.contains("no NaN or Inf in 5 tensors") == true)
  }

  @Test("a DCP folder: dtype, global shape, files; read-only, and M says why")
  func dcp() throws {
    var model = try Self.dcpModel()
    Golden.check(model.render(), "folder-dcp-80x24")
    model.press(.character("M"))
    #expect(model.staging.isEmpty)
    #expect(model.mode == .browse)
    #expect(model.status?.text.contains("records no devices") == true)
  }
}
