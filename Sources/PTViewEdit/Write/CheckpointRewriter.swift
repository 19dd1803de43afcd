public import PTViewCore
import PTViewPickle

/// Produces the write plan for a checkpoint with edits applied, in the input's own container:
/// torch's zip layout (record order kept, pickles re-encoded, everything else copied byte for
/// byte with its CRC), or the legacy stream (main pickle re-encoded, the rest copied).
public struct CheckpointRewriter: Sendable {
  /// What the rewrite did, for the report and the verification.
  public struct Result: Sendable {
    /// The bytes to write.
    public var plan: WritePlan
    /// Zip records as written (empty for legacy output).
    public var records: [TorchZipWriter.WrittenRecord]
    /// The output's root folder (zip).
    public var root: String?
    /// Pickles re-encoded (names relative to the root, or `main` for legacy).
    public var rewrittenPickles: [String]
    /// Protocol declared by the input's main pickle.
    public var inputProtocol: Int?
    /// Highest opcode protocol in the input's main pickle.
    public var inputHighestProtocol: Int?
    /// Opcodes outside torch's weights_only set that the output still needs.
    public var unsafeOpcodes: [String]
    /// `torch.device("...")` literals rewritten in TorchScript code: (record, from, to, count).
    public var codeRewrites: [(record: String, from: String, to: String, count: Int)]
    /// Code literals left alone, with the reason.
    public var codeLeftAlone: [String]
    /// Records dropped (outside the root folder, which torch refuses).
    public var droppedRecords: [String]
    /// Records added because torch requires them (`version`).
    public var addedRecords: [String] = []
    /// Storage records left out because nothing in the output uses them any more.
    public var omittedStorages: [String] = []
    /// TorchScript records left out because the output is a plain `torch.save` file now.
    public var omittedScriptRecords: Int = 0
    /// Records copied unchanged.
    public var copiedRecords: Int
    /// For an in-place append: the input's size, where the appended bytes start (the plan is
    /// those bytes only). Nil for a whole new file.
    public var appendedAt: Int64? = nil
  }

  /// Why `checkpoint` cannot be edited in place by appending, or nil when it can: legacy
  /// files have no directory to supersede, casts rewrite storage bytes, and an archive must
  /// end with its own end record (nothing after it) so an append can be undone exactly.
  public static func appendRefusal(_ checkpoint: Checkpoint, _ edits: [Edit]) -> String? {
    guard checkpoint.format == .zip || checkpoint.format == .torchScript,
      let directory = checkpoint.directory, checkpoint.archiveRoot != nil
    else { return "\(checkpoint.format.rawValue) files cannot be appended to" }
    if edits.contains(where: { if case .castStorage = $0 { true } else { false } }) {
      return "--cast converts storage bytes, which an append cannot do without copying them"
    }
    guard directory.endRecordEnd == checkpoint.fileSize else {
      return "bytes follow the archive's end record"
    }
    return nil
  }

  /// The checkpoint being rewritten.
  public let checkpoint: Checkpoint
  /// Its bytes.
  public let source: any ByteSource
  /// For compressed code records (TorchScript).
  public let decompressor: (any RecordDecompressor)?

  /// Creates a rewriter.
  public init(
    checkpoint: Checkpoint, source: any ByteSource, decompressor: (any RecordDecompressor)? = nil
  ) {
    self.checkpoint = checkpoint
    self.source = source
    self.decompressor = decompressor
  }

  /// What the edits ask of the container, worked out once.
  struct Layout {
    /// The object the main pickle returns.
    var root: ValueID?
    /// Storage records the output keeps (nil: all of them).
    var kept: Set<String>?
    /// Storages converted on the way.
    var conversions: [String: Conversion]
    /// Rules for TorchScript code literals.
    var codeRules: DeviceRules?
    /// True when a TorchScript archive becomes a plain `torch.save` file (its root changed).
    var plainArchive: Bool
  }

  /// Plans the output.
  /// - Parameters:
  ///   - edits: the changes.
  ///   - outputPath: where the file will live (the zip root is named after it, as torch would).
  ///   - appending: plan an in-place append instead (see `appendRefusal`): unchanged records
  ///     stay where they are and the plan holds only what goes after the input's last byte.
  public func rewrite(_ edits: [Edit], outputPath: String, appending: Bool = false)
    throws(CheckpointError) -> Result
  {
    if appending, let why = Self.appendRefusal(checkpoint, edits) {
      throw CheckpointError(.unsupportedFormat, "cannot append: \(why)")
    }
    let edited = GraphEditor.edit(edits, checkpoint)
    let graph = edited.graph
    var layout = Layout(
      root: edited.root, kept: nil, conversions: [:], codeRules: nil, plainArchive: false)
    let bigEndian = checkpoint.byteorder == "big"
    for edit in edits {
      switch edit {
      case .rewriteCode(let rules): layout.codeRules = rules
      case .castStorage(let record, let from, let to):
        guard let conversion = Conversion(from: from, to: to, bigEndian: bigEndian, record: record)
        else {
          throw CheckpointError(
            .unsupportedFormat, record: record, "cannot convert \(from.name) to \(to.name)")
        }
        layout.conversions[record] = conversion
      case .newRoot, .newStateDict: layout.plainArchive = checkpoint.format == .torchScript
      default: break
      }
    }
    if edits.contains(where: \.changesStructure) {
      layout.kept = EditPlanner.reachableRecords(edits, checkpoint)
    }
    let codeRules = layout.codeRules
    let main = checkpoint.pickles.first(where: { $0.name == "data.pkl" || $0.name == "main" })
    var result = Result(
      plan: WritePlan(), records: [], root: nil, rewrittenPickles: [],
      inputProtocol: main?.declaredProtocol, inputHighestProtocol: main?.highestProtocol,
      unsafeOpcodes: [], codeRewrites: [], codeLeftAlone: [], droppedRecords: [], copiedRecords: 0)
    var unsafe: Set<String> = []
    func encode(_ section: Checkpoint.PickleSection) throws(CheckpointError) -> [UInt8] {
      var writer = PickleWriter(graph: graph)
      let isMain = section.name == main?.name
      do {
        let bytes = try writer.write(isMain ? (layout.root ?? section.root) : section.root)
        for op in writer.unsafeOpcodes { unsafe.insert(op.info.name) }
        return bytes
      } catch {
        throw CheckpointError(
          .malformed, record: section.name, offset: Int64(error.offset),
          "cannot rewrite: \(error.message)")
      }
    }

    switch checkpoint.format {
    case .legacy:
      let sections = checkpoint.pickles
      guard sections.count == 5 else {
        throw CheckpointError(.malformed, "legacy file without its five pickles")
      }
      var plan = WritePlan()
      plan.copy(offset: 0, length: sections[3].fileOffset)
      plan.append(try encode(sections[3]))
      result.rewrittenPickles = ["main"]
      if layout.kept == nil && layout.conversions.isEmpty {
        plan.copy(
          offset: sections[4].fileOffset, length: checkpoint.fileSize - sections[4].fileOffset)
        result.copiedRecords = 4 + checkpoint.storages.count
      } else {
        // The key list names exactly the storages that follow (torch asserts each was seen
        // in the main pickle), so it is written anew; each storage keeps its 8-byte
        // element count and its bytes, converted where a cast asks.
        let kept = checkpoint.storages.values.filter { layout.kept?.contains($0.record) ?? true }
        result.omittedStorages = checkpoint.storages.values.map(\.record).filter {
          !(layout.kept?.contains($0) ?? true)
        }
        plan.append(LegacyKeys.pickle(kept.map(\.record)))
        result.rewrittenPickles.append("keys")
        for extent in kept {
          guard let data = extent.dataOffset else {
            throw CheckpointError(.malformed, record: extent.record, "storage without an offset")
          }
          plan.copy(offset: data - 8, length: 8)
          if let conversion = layout.conversions[extent.record] {
            plan.convert(offset: data, length: extent.size, conversion)
          } else {
            plan.copy(offset: data, length: extent.size)
          }
        }
        let end =
          checkpoint.storages.values.compactMap { e in e.dataOffset.map { $0 + e.size } }
          .max() ?? checkpoint.fileSize
        if end < checkpoint.fileSize {
          plan.copy(offset: end, length: checkpoint.fileSize - end)
        }
        result.copiedRecords = 4 + kept.count
      }
      result.plan = plan
    case .zip, .torchScript:
      try rewriteZip(
        edits, layout: layout, outputPath: outputPath, codeRules: codeRules, appending: appending,
        result: &result, encode: encode)
    case .safetensors, .pickle:
      throw CheckpointError(
        .unsupportedFormat,
        "\(checkpoint.format.rawValue) files carry no storage locations to rewrite")
    }
    result.unsafeOpcodes = unsafe.sorted()
    return result
  }

  private func rewriteZip(
    _ edits: [Edit], layout: Layout, outputPath: String, codeRules: DeviceRules?, appending: Bool,
    result: inout Result, encode: (Checkpoint.PickleSection) throws(CheckpointError) -> [UInt8]
  ) throws(CheckpointError) {
    guard let directory = checkpoint.directory, let oldRoot = checkpoint.archiveRoot else {
      throw CheckpointError(.malformed, "zip checkpoint without a directory")
    }
    // An append keeps the archive's root: kept records' local headers carry it, and Python's
    // zipfile checks that local and central names agree.
    let root = appending ? oldRoot : ArchiveNaming.root(forPath: outputPath)
    result.root = root
    // Which pickles to re-encode: torch.save's data.pkl always (normalising its protocol);
    // TorchScript pickles only when an edit touches them (their C++ loader is pickier).
    var editedRecords: Set<String> = []
    for case .moveStorage(let record, _) in edits { editedRecords.insert(record) }
    editedRecords.formUnion(layout.conversions.keys)
    let mainChanged = edits.contains {
      switch $0 {
      case .newRoot, .newStateDict, .renameKey, .dropItem: true
      default: false
      }
    }
    var editedNodes: Set<Int> = []
    for case .setDeviceArgument(let node, _) in edits { editedNodes.insert(Int(node.index)) }
    var rewrite: [String: Checkpoint.PickleSection] = [:]
    for section in checkpoint.pickles {
      if section.name == "data.pkl" && (checkpoint.format == .zip || mainChanged) {
        rewrite[section.name] = section
        continue
      }
      let touched =
        checkpoint.storageReferences.contains {
          editedRecords.contains($0.record) && section.nodes.contains(Int($0.pidNode.index))
        } || editedNodes.contains { section.nodes.contains($0) }
      if touched { rewrite[section.name] = section }
    }
    var alignment: Int64 = 64
    if let a = checkpoint.storageAlignment, a > 0, a <= 1 << 20 { alignment = Int64(a) }
    var writer = TorchZipWriter(
      alignment: alignment, baseOffset: appending ? checkpoint.fileSize : 0)
    var oldDirectory: [UInt8] = []
    var marker: AppendMarker?
    if appending {
      do {
        marker = try AppendMarker.forAppend(to: source, oldSize: checkpoint.fileSize, role: .head)
        writer.raw(marker!.bytes)
        oldDirectory = try source.readExactly(
          at: directory.centralDirectoryOffset, count: Int(directory.centralDirectorySize))
      } catch {
        throw CheckpointError(.io, error.message)
      }
      result.appendedAt = checkpoint.fileSize
    }
    for entry in directory.entries {
      guard entry.name.hasPrefix(oldRoot + "/") else {
        result.droppedRecords.append(entry.name)
        continue
      }
      let relative = String(entry.name.dropFirst(oldRoot.count + 1))
      let name = root + "/" + relative
      let isStorage = checkpoint.storages[relative] != nil
      if isStorage, let kept = layout.kept, !kept.contains(relative) {
        result.omittedStorages.append(relative)
        continue
      }
      // A TorchScript archive whose root changed is a plain torch.save file now: its code,
      // constants and debug records would make torch.load treat it as TorchScript again.
      if layout.plainArchive && !isStorage
        && !["data.pkl", "byteorder", ".format_version", ".storage_alignment"].contains(relative)
      {
        result.omittedScriptRecords += 1
        continue
      }
      if let section = rewrite[relative] {
        let bytes = try encode(section)
        // An append keeps a pickle that re-encodes to its own bytes: a remap that changes
        // nothing (or a second identical one) then appends nothing.
        let same =
          appending && entry.isStored && entry.compressedSize == Int64(bytes.count)
          && entry.crc32 == CRC32.checksum(bytes)
          && (try? CheckpointReader(decompressor: decompressor).record(entry, in: source)) == bytes
        if !same {
          writer.add(name, .bytes(bytes))
          result.rewrittenPickles.append(relative)
          continue
        }
      }
      if let codeRules, checkpoint.format == .torchScript, relative.hasPrefix("code/"),
        relative.hasSuffix(".py")
      {
        let original = try CheckpointReader(decompressor: decompressor).record(entry, in: source)
        let (text, changes, skipped) = CodeDeviceRewriter.rewrite(original, rules: codeRules)
        result.codeLeftAlone += skipped.map { "\(relative): \($0)" }
        if !changes.isEmpty {
          writer.add(name, .bytes(text))
          for change in changes {
            result.codeRewrites.append((relative, change.from, change.to, change.count))
          }
          continue
        }
      }
      if appending, layout.conversions[relative] == nil {
        let position = entry.directoryPosition
        guard position + entry.directoryLength <= oldDirectory.count else {
          throw CheckpointError(
            .malformed, record: entry.name, "central directory entry outside the directory")
        }
        // Its data offset is not needed to list it (nor to check it: its header is not
        // rewritten), and reading 80,000 local headers would cost more than the append.
        let dataOffset = checkpoint.storages[relative]?.dataOffset ?? -1
        writer.add(
          name,
          .kept(
            entry,
            directoryBytes: Array(oldDirectory[position..<(position + entry.directoryLength)]),
            dataOffset: dataOffset))
        result.copiedRecords += 1
        continue
      }
      let header: LocalHeader
      do { header = try ZipDirectory.localHeader(of: entry, in: source) } catch {
        throw CheckpointError(.malformed, record: entry.name, offset: error.offset, error.message)
      }
      guard entry.method == 0 || entry.method == 8 else {
        throw CheckpointError(
          .malformed, record: entry.name, offset: entry.localHeaderOffset,
          "unsupported compression method \(entry.method)")
      }
      if let conversion = layout.conversions[relative] {
        guard entry.method == 0 else {
          throw CheckpointError(
            .unsupportedFormat, record: entry.name, offset: entry.localHeaderOffset,
            "cannot cast a compressed storage record")
        }
        writer.add(
          name,
          .converted(
            offset: header.dataOffset, length: entry.compressedSize, conversion: conversion))
        continue
      }
      writer.add(
        name,
        .copy(
          offset: header.dataOffset, compressedSize: entry.compressedSize,
          uncompressedSize: entry.uncompressedSize, method: entry.method, crc32: entry.crc32))
      result.copiedRecords += 1
    }
    // torch.load requires a version record; an archive without one gets torch's own "3".
    let hasVersion =
      !layout.plainArchive
      && (directory.entry(named: oldRoot + "/version") != nil
        || directory.entry(named: oldRoot + "/.data/version") != nil)
    if !hasVersion {
      writer.add(root + "/version", .bytes(Array("3\n".utf8)))
      result.addedRecords.append("version")
    }
    if var trailer = marker {
      trailer.role = .trailer
      writer.raw(trailer.bytes)
    }
    result.plan = writer.finish()
    result.records = writer.records
  }
}

/// Rewrites `torch.device("X")` literals in TorchScript code without changing the text's
/// length (the `.debug_pkl` source ranges point into it): a shorter device is padded with
/// spaces after the closing parenthesis; a longer one cannot be written and is reported.
public enum CodeDeviceRewriter {
  /// One kind of change made.
  public struct Change: Sendable, Equatable {
    public var from: String
    public var to: String
    public var count: Int
  }

  /// The rewritten text, the changes, and the literals that could not be rewritten.
  public static func rewrite(_ text: [UInt8], rules: DeviceRules) -> ([UInt8], [Change], [String]) {
    let needle = Array("torch.device(\"".utf8)
    var out = text
    var changes: [String: Change] = [:]
    var order: [String] = []
    var skipped: [String] = []
    var i = 0
    while i + needle.count < out.count {
      guard out[i] == needle[0], Array(out[i..<(i + needle.count)]) == needle else {
        i += 1
        continue
      }
      let start = i + needle.count
      guard let close = out[start...].firstIndex(of: UInt8(ascii: "\"")), close + 1 < out.count,
        out[close + 1] == UInt8(ascii: ")"), close - start < 64
      else {
        i = start
        continue
      }
      let device = String(decoding: out[start..<close], as: UTF8.self)
      if let target = rules.target(for: device) {
        let old = Array(out[start...(close + 1)])  // X")
        let new = Array(target.utf8) + [UInt8(ascii: "\""), UInt8(ascii: ")")]
        if new.count <= old.count {
          let padded = new + [UInt8](repeating: 0x20, count: old.count - new.count)
          out.replaceSubrange(start...(close + 1), with: padded)
          let key = device + "\u{0}" + target
          if changes[key] == nil {
            order.append(key)
            changes[key] = Change(from: device, to: target, count: 0)
          }
          changes[key]!.count += 1
        } else {
          skipped.append(
            "torch.device(\"\(device)\") kept: \"\(target)\" is longer and the code's debug ranges would shift"
          )
        }
      }
      i = close + 2
    }
    return (out, order.map { changes[$0]! }, skipped)
  }
}

/// The legacy format's storage key list: a protocol-2 pickle of a list of str, as torch
/// writes it after the main pickle.
enum LegacyKeys {
  static func pickle(_ keys: [String]) -> [UInt8] {
    var out: [UInt8] = [0x80, 0x02, 0x5D]  // PROTO 2, EMPTY_LIST
    var i = 0
    while i < keys.count {
      let batch = keys[i..<min(keys.count, i + 1000)]
      out.append(0x28)  // MARK
      for key in batch {
        let bytes = Array(key.utf8)
        out.append(0x58)  // BINUNICODE
        let n = UInt32(bytes.count)
        out += [UInt8(n & 0xFF), UInt8((n >> 8) & 0xFF), UInt8((n >> 16) & 0xFF), UInt8(n >> 24)]
        out += bytes
      }
      out.append(0x65)  // APPENDS
      i += batch.count
    }
    out.append(0x2E)  // STOP
    return out
  }
}
