import Dispatch
public import PTViewPickle

/// Decompresses zip records (TorchScript deflates its `code/` files). The shell supplies one
/// backed by libzip, so this module stays free of C.
public protocol RecordDecompressor: Sendable {
  /// The uncompressed bytes of `entry`.
  func decompress(_ entry: ZipEntry) throws(CheckpointError) -> [UInt8]
}

/// Reads a checkpoint's structure and pickles from a `ByteSource`: the zip directory or legacy
/// layout, every pickle through the VM, the tensors through the interpreter. Tensor bytes are
/// never read.
public struct CheckpointReader: Sendable {
  /// VM limits.
  public var limits: Limits
  /// For compressed records; without one, only stored records can be read.
  public var decompressor: (any RecordDecompressor)?
  /// Largest pickle record read into memory.
  public var maxPickleBytes: Int64 = 1 << 30
  /// When false, problems found after the pickles decode (malformed storage pids, missing
  /// records) are recorded in `Checkpoint.problem` instead of thrown, so `dis` and `tree`
  /// can still show a file that torch would refuse.
  public var strict = true

  /// Creates a reader.
  public init(limits: Limits = .default, decompressor: (any RecordDecompressor)? = nil) {
    self.limits = limits
    self.decompressor = decompressor
  }

  /// Reads the checkpoint in `source`.
  /// - Throws: `CheckpointError` with the record and byte offset of the first problem.
  public func read(_ source: any ByteSource) throws(CheckpointError) -> Checkpoint {
    let prefix = try io { () throws(SourceError) in try source.read(at: 0, count: 4096) }
    switch DetectedFormat.detect(prefix: prefix, size: source.size) {
    case .zip: return try readZip(source)
    case .legacy: return try readLegacy(source)
    case .pickle: return try readPickleFile(source)
    case .safetensors: return try SafetensorsReader.read(source)
    case .tar:
      throw CheckpointError(
        .unsupportedFormat,
        "this is a torch <= 0.1.10 tar-format checkpoint; ptview does not read it yet (torch.load needs weights_only=False for it)"
      )
    case .previewRelease:
      throw CheckpointError(
        .unsupportedFormat,
        "this is a PyTorch preview-release archive (PYTORCH1); torch no longer reads it either")
    case .numpy:
      throw CheckpointError(
        .unsupportedFormat, "this is a NumPy .npy file, not a PyTorch checkpoint")
    case .json:
      throw ShardIndex.describe(source)
    case .empty:
      throw CheckpointError(.malformed, offset: 0, "the file is empty")
    case .unknown:
      throw CheckpointError(
        .malformed, offset: 0,
        "not a PyTorch checkpoint: no zip, legacy, pickle or safetensors signature at the start")
    }
  }

  private func io<T>(_ body: () throws(SourceError) -> T) throws(CheckpointError) -> T {
    do { return try body() } catch { throw CheckpointError(.io, error.message) }
  }

  // MARK: - Zip (torch.save >= 1.6, TorchScript)

  func readZip(_ source: any ByteSource) throws(CheckpointError) -> Checkpoint {
    do { return try readZipArchive(source) } catch {
      // A file an in-place edit was appending to when it stopped: say so, and how to undo it.
      if let torn = AppendedArchive.tornTailError(source) { throw torn }
      throw error
    }
  }

  private func readZipArchive(_ source: any ByteSource) throws(CheckpointError) -> Checkpoint {
    let (directory, early, numbered) = try directoryAndEarlyPickle(source)
    // An unfinished append whose own end records never made it: the old archive still parses.
    if directory.endRecordEnd < source.size,
      AppendedArchive.appendStarts(at: directory.endRecordEnd, in: source)
    {
      throw AppendedArchive.tornTailError(source)
        ?? CheckpointError(
          .malformed, offset: directory.endRecordEnd,
          "an unfinished ptview append follows the archive")
    }
    var appendedAt: Int64?
    var appendNote: String?
    do { appendedAt = try AppendedArchive.lastAppend(directory, in: source)?.oldSize } catch {
      // A torn append is an error; bytes that only look like a ptview trailer (the archive
      // reads, torch reads it) are a note, so a crafted record cannot make a file unreadable.
      if let torn = AppendedArchive.tornTailError(source) { throw torn }
      appendNote = "\(error.message) (byte \(error.offset)); `ptview repair` can tell more"
    }
    guard let first = directory.entries.first else {
      throw CheckpointError(.malformed, "the zip archive has no records")
    }
    guard let slash = first.name.firstIndex(of: "/") else {
      throw CheckpointError(
        .malformed, record: first.name, offset: first.localHeaderOffset,
        "file in archive is not in a subdirectory (torch needs one root folder)")
    }
    let root = String(first.name[..<slash])
    var notes: [String] = []
    let folder = Array((root + "/").utf8)
    let stray = directory.entries.filter { !StorageExtents.hasPrefix($0.name, bytes: folder) }
    if !stray.isEmpty {
      notes.append(
        "\(stray.count) record(s) outside the root folder '\(root)/' (e.g. \(stray[0].name)); torch.load refuses such archives"
      )
    }
    func small(_ name: String) throws(CheckpointError) -> String? {
      guard let entry = directory.entry(named: root + "/" + name) else { return nil }
      guard entry.uncompressedSize <= 4096 else { return nil }
      let bytes = try record(entry, in: source)
      return String(decoding: bytes, as: UTF8.self)
    }
    guard directory.entry(named: root + "/data.pkl") != nil else {
      if let format = try small("archive_format"), format.hasPrefix("pt2") {
        throw CheckpointError(
          .unsupportedFormat, record: root + "/archive_format",
          "this is a torch.export .pt2 archive; ptview does not read it yet (torch.export.load opens it)"
        )
      }
      throw CheckpointError(
        .malformed, record: root + "/data.pkl",
        "the archive has no data.pkl (records: \(directory.entries.prefix(5).map(\.name).joined(separator: ", ")))"
      )
    }
    let isTorchScript = directory.entry(named: root + "/constants.pkl") != nil
    var version = try small(".data/version")
    if version == nil { version = try small("version") }
    version = version?.trimmingBlanks()
    if version == nil { notes.append("no version record; torch.load requires one") }
    let byteorder = try small("byteorder")?.trimmingBlanks()
    let alignment = try small(".storage_alignment").flatMap { Int($0.trimmingBlanks()) }

    var machine = Machine(limits: limits)
    var pickles: [Checkpoint.PickleSection] = []
    var pickleNames = ["data.pkl"]
    if isTorchScript { pickleNames += ["constants.pkl", "traced_inputs.pkl", "bytecode.pkl"] }
    for name in pickleNames {
      guard let entry = directory.entry(named: root + "/" + name) else { continue }
      if name == "data.pkl", let early, early.entry == entry {
        machine = early.machine
        pickles.append(early.section)
        continue
      }
      pickles.append(try decode(entry: entry, name: name, source: source, machine: &machine))
    }
    let graph = machine.graph

    let read = ArchiveTensors(
      graph: graph, pickles: pickles, directory: directory, root: root,
      isTorchScript: isTorchScript, numbered: numbered
    ).read()
    if let problem = read.problem, strict { throw problem }
    notes += read.notes
    if read.sharingTruncated {
      notes.append(
        "the object graph shares containers exponentially; shared containers are listed at their first paths only"
      )
    }
    var checkpoint = Checkpoint(
      format: isTorchScript ? .torchScript : .zip, fileSize: source.size, archiveRoot: root,
      directory: directory, pickles: pickles, graph: graph, root: pickles.first?.root,
      tensors: read.tensors, entries: read.entries, storages: read.storages,
      byteorder: byteorder, version: version, storageAlignment: alignment, notes: notes,
      metadata: [], problem: read.problem)
    checkpoint.storageReferences = read.references
    checkpoint.appendedAt = appendedAt
    if let appendNote { checkpoint.notes.append(appendNote) }
    if isTorchScript {
      let (classes, problem) = scriptClasses(directory: directory, root: root, source: source)
      checkpoint.scriptClasses = classes
      if let problem { checkpoint.notes.append(problem) }
    }
    return checkpoint
  }

  /// The class declarations of a TorchScript archive's `code/` records. Optional knowledge:
  /// a record that cannot be read (no decompressor, damage, over the size bounds) leaves the
  /// declarations empty with a note, never fails the read.
  private func scriptClasses(directory: ZipDirectory, root: String, source: any ByteSource)
    -> ([String: ScriptClass], String?)
  {
    let folder = root + "/"
    var classes: [String: ScriptClass] = [:]
    var total: Int64 = 0
    for entry in directory.entries where entry.name.hasPrefix(folder + "code/") {
      let relative = String(entry.name.dropFirst(folder.count))
      guard let module = ScriptClassParser.module(ofCodePath: relative) else { continue }
      total += entry.uncompressedSize
      guard entry.uncompressedSize <= 16 << 20, total <= 256 << 20 else {
        return ([:], "TorchScript code is too large to read its class declarations (\(entry.name))")
      }
      do throws(CheckpointError) {
        let bytes = try record(entry, in: source)
        classes.merge(
          ScriptClassParser.parse(String(decoding: bytes, as: UTF8.self), module: module)
        ) { first, _ in first }
      } catch {
        return ([:], "TorchScript code could not be read (\(error.message))")
      }
    }
    return (classes, nil)
  }

  /// A pickle decoded before the directory was complete.
  struct EarlyPickle: Sendable {
    var entry: ZipEntry
    var machine: Machine
    var section: Checkpoint.PickleSection
  }

  /// A `data.pkl` smaller than this (about 1,000 tensors) is decoded after the directory, on
  /// the same thread: both take well under a millisecond then, less than starting a worker
  /// thread costs. (The file's size says nothing here: a 1 GB file of 200 tensors has a
  /// 20 KB pickle.)
  static let concurrentPickleBytes: Int64 = 128 << 10

  /// Reads the directory and, on a second thread, decodes `data.pkl` when it is the first
  /// record (torch always writes it first): for archives with tens of thousands of records the
  /// directory takes about as long as the pickle, and the two need not wait for each other.
  /// The early result is used only if the full directory agrees about that entry.
  private func directoryAndEarlyPickle(_ source: any ByteSource) throws(CheckpointError)
    -> (ZipDirectory, EarlyPickle?, NumberedRecords?)
  {
    let first = try? ZipDirectory.firstEntry(of: source)
    let candidate = first.flatMap { entry -> ZipEntry? in
      guard entry.isStored, let slash = entry.name.firstIndex(of: "/"),
        entry.name[entry.name.index(after: slash)...] == "data.pkl",
        entry.compressedSize >= Self.concurrentPickleBytes
      else { return nil }
      return entry
    }
    let slots = ZipSlots()
    let reader = self
    let work: @Sendable (Int) -> Void = { job in
      if job == 0 {
        do throws(ZipError) {
          let directory = try ZipDirectory(source: source)
          slots.directory = .success(directory)
          // The pickle takes longer than the directory: index the storage records meanwhile.
          if let first = directory.entries.first?.name, let slash = first.firstIndex(of: "/") {
            slots.numbered = NumberedRecords(
              directory, folder: String(first[..<slash]) + "/data/")
          }
        } catch {
          slots.directory = .failure(error)
        }
      } else if let entry = candidate {
        var machine = Machine(limits: reader.limits)
        if let section = try? reader.decode(
          entry: entry, name: "data.pkl", source: source, machine: &machine)
        {
          slots.early = EarlyPickle(entry: entry, machine: machine, section: section)
        }
      }
    }
    if candidate == nil {
      work(0)
    } else {
      DispatchQueue.concurrentPerform(iterations: 2, execute: work)
    }
    switch slots.directory {
    case .success(let directory)?: return (directory, slots.early, slots.numbered)
    case .failure(let error)?:
      throw CheckpointError(.malformed, offset: error.offset, error.message)
    case nil: throw CheckpointError(.malformed, "the zip directory could not be read")
    }
  }

  /// The bytes of a zip record (stored, or inflated by the decompressor).
  public func record(_ entry: ZipEntry, in source: any ByteSource) throws(CheckpointError)
    -> [UInt8]
  {
    let header: LocalHeader
    do { header = try ZipDirectory.localHeader(of: entry, in: source) } catch {
      throw CheckpointError(.malformed, record: entry.name, offset: error.offset, error.message)
    }
    if entry.isStored {
      guard entry.compressedSize <= maxPickleBytes else {
        throw CheckpointError(
          .malformed, record: entry.name, offset: header.dataOffset,
          "record is too large to read into memory (\(entry.compressedSize) bytes)")
      }
      do {
        return try source.readExactly(at: header.dataOffset, count: Int(entry.compressedSize))
      } catch {
        throw CheckpointError(.io, record: entry.name, offset: header.dataOffset, error.message)
      }
    }
    guard let decompressor else {
      throw CheckpointError(
        .malformed, record: entry.name, offset: header.dataOffset,
        "record is compressed (method \(entry.method)) and no decompressor is available")
    }
    guard entry.uncompressedSize <= maxPickleBytes else {
      throw CheckpointError(
        .malformed, record: entry.name, offset: header.dataOffset,
        "record is too large to inflate into memory (\(entry.uncompressedSize) bytes)")
    }
    return try decompressor.decompress(entry)
  }

  private func decode(entry: ZipEntry, name: String, source: any ByteSource, machine: inout Machine)
    throws(CheckpointError) -> Checkpoint.PickleSection
  {
    let bytes = try record(entry, in: source)
    // Offsets inside compressed records are record offsets; stored ones are file offsets.
    var base = 0
    if entry.isStored {
      do { base = Int(try ZipDirectory.localHeader(of: entry, in: source).dataOffset) } catch {
        throw CheckpointError(.malformed, record: entry.name, offset: error.offset, error.message)
      }
    }
    let before = machine.graph.count
    let outcome: Machine.Outcome
    do { outcome = try machine.load(bytes, base: base) } catch {
      throw CheckpointError(
        .malformed, record: entry.name, offset: Int64(error.offset), error.summary)
    }
    let stem = String(name.dropLast(4))
    return Checkpoint.PickleSection(
      name: name, fileOffset: Int64(base), length: Int64(bytes.count), root: outcome.root,
      declaredProtocol: outcome.declaredProtocol, highestProtocol: outcome.highestProtocol,
      nodes: before..<machine.graph.count, storageFolder: stem)
  }

  // MARK: - Legacy stream (torch.save before 1.6, or _use_new_zipfile_serialization=False)

  /// The five pickles of a legacy file and where the storage data begins.
  struct LegacyPickles {
    var machine: Machine
    var sections: [Checkpoint.PickleSection]
    var dataStart: Int64
  }

  func readLegacyPickles(_ source: any ByteSource) throws(CheckpointError) -> LegacyPickles {
    let names = ["magic", "protocol", "sys_info", "main", "keys"]
    var window = min(source.size, 1 << 20)
    let cap = min(source.size, maxPickleBytes)
    while true {
      let bytes = try io { () throws(SourceError) in
        try source.readExactly(at: 0, count: Int(window))
      }
      var machine = Machine(limits: limits)
      var sections: [Checkpoint.PickleSection] = []
      var position = 0
      do {
        for name in names {
          let before = machine.graph.count
          let outcome = try machine.load(bytes, base: 0, from: position)
          sections.append(
            Checkpoint.PickleSection(
              name: name, fileOffset: Int64(position), length: Int64(outcome.end - position),
              root: outcome.root, declaredProtocol: outcome.declaredProtocol,
              highestProtocol: outcome.highestProtocol, nodes: before..<machine.graph.count,
              storageFolder: nil))
          position = outcome.end
        }
        return LegacyPickles(machine: machine, sections: sections, dataStart: Int64(position))
      } catch {
        let ranOut: Bool
        switch error.reason {
        case .endOfData, .truncated: ranOut = true
        case .invalidArgument(let why): ranOut = why == "no newline found"
        default: ranOut = false
        }
        if ranOut && window < cap {
          window = min(cap, window * 4)
          continue
        }
        let part = names[min(sections.count, names.count - 1)]
        throw CheckpointError(
          .malformed, record: "legacy \(part) pickle", offset: Int64(error.offset), error.summary)
      }
    }
  }

  func readLegacy(_ source: any ByteSource) throws(CheckpointError) -> Checkpoint {
    let legacy = try readLegacyPickles(source)
    let graph = legacy.machine.graph
    let sections = legacy.sections
    guard case .bigInt(let magic) = graph[sections[0].root],
      Array(graph.bytes(magic)) == DetectedFormat.legacyMagicValue
    else {
      throw CheckpointError(
        .malformed, record: "legacy magic pickle", offset: 0, "magic number mismatch")
    }
    guard graph.int(sections[1].root) == 1001 else {
      throw CheckpointError(
        .malformed, record: "legacy protocol pickle", offset: sections[1].fileOffset,
        "unsupported legacy protocol version \(graph.int(sections[1].root).map(String.init) ?? "?") (expected 1001)"
      )
    }
    let main = sections[3]
    var tensors: TensorTable = [:]
    var storages: StorageExtents = [:]
    var notes: [String] = []
    var references: [StorageRef] = []
    do throws(CheckpointError) {
      (tensors, storages, notes) = try legacyStorages(source, legacy)
      do {
        references = try TorchInterpreter(graph: graph, flavor: .legacy).storageReferences(
          in: main.nodes)
      } catch {
        throw CheckpointError(
          .malformed, record: "legacy main pickle", offset: Int64(error.offset), error.message)
      }
    } catch {
      if strict { throw error }
      let result = TensorWalker(graph: graph, tensors: [:]).walk(from: main.root)
      return Checkpoint(
        format: .legacy, fileSize: source.size, archiveRoot: nil, directory: nil, pickles: sections,
        graph: graph, root: main.root, tensors: [:], entries: result.entries, storages: [:],
        byteorder: nil, version: "1001", storageAlignment: nil, notes: [], metadata: [],
        problem: error)
    }
    let result = TensorWalker(graph: graph, tensors: tensors).walk(from: main.root)
    if result.truncatedSharing {
      notes.append("shared containers are listed at their first paths only")
    }
    var checkpoint = Checkpoint(
      format: .legacy, fileSize: source.size, archiveRoot: nil, directory: nil, pickles: sections,
      graph: graph, root: main.root, tensors: tensors, entries: result.entries, storages: storages,
      byteorder: nil, version: "1001", storageAlignment: nil, notes: notes, metadata: [],
      problem: nil)
    checkpoint.storageReferences = references
    return checkpoint
  }

  /// Interprets the legacy main pickle and lays out the storages that follow the key list.
  private func legacyStorages(_ source: any ByteSource, _ legacy: LegacyPickles)
    throws(CheckpointError) -> (TensorTable, StorageExtents, [String])
  {
    let graph = legacy.machine.graph
    let sections = legacy.sections
    let main = sections[3]
    let interpreter = TorchInterpreter(graph: graph, flavor: .legacy)
    let tensors: TensorTable
    do { tensors = try interpreter.tensors(in: main.nodes) } catch {
      throw CheckpointError(
        .malformed, record: "legacy main pickle", offset: Int64(error.offset), error.message)
    }
    // Storage types by key, from the pids (each key's element size decides its byte length).
    var byKey: [String: StorageRef] = [:]
    for index in main.nodes {
      let id = ValueID(Int32(index))
      guard case .persistentID = graph[id], let ref = try? interpreter.storageRef(id) else {
        continue
      }
      if byKey[ref.key] == nil { byKey[ref.key] = ref }
    }
    guard let keys = graph.sequence(sections[4].root) else {
      throw CheckpointError(
        .malformed, record: "legacy keys pickle", offset: sections[4].fileOffset,
        "the storage key list is not a list")
    }
    var storages: StorageExtents = [:]
    var offset = legacy.dataStart
    var notes: [String] = []
    for keyNode in keys {
      guard let key = graph.string(keyNode) else {
        throw CheckpointError(
          .malformed, record: "legacy keys pickle", offset: Int64(graph.offset(of: keyNode)),
          "storage key is not a string")
      }
      guard let ref = byKey[key] else {
        throw CheckpointError(
          .malformed, record: "legacy keys pickle", offset: Int64(graph.offset(of: keyNode)),
          "storage key \(key) is listed but no tensor references it")
      }
      let header: [UInt8]
      do { header = try source.readExactly(at: offset, count: 8) } catch {
        throw CheckpointError(
          .malformed, record: "legacy storage \(key)", offset: offset,
          "its 8-byte size header is past the end of the file")
      }
      let numel = Int64(bitPattern: header.le(0, 8))
      guard numel >= 0, numel == ref.numel else {
        throw CheckpointError(
          .malformed, record: "legacy storage \(key)", offset: offset,
          "size header says \(numel) elements but the pickle says \(ref.numel)")
      }
      let size = ref.byteCount
      guard size <= source.size - offset - 8 else {
        throw CheckpointError(
          .malformed, record: "legacy storage \(key)", offset: offset,
          "storage data (\(size) bytes) runs past the end of the file")
      }
      storages[key] = Checkpoint.StorageExtent(
        record: key, dataOffset: offset + 8, size: size, compressed: false)
      offset += 8 + size
    }
    if offset < source.size {
      notes.append("\(source.size - offset) bytes after the last storage are ignored")
    }
    for tensor in tensors.values {
      if let s = tensor.storage, storages[s.view?.key ?? s.key] == nil && storages[s.key] == nil {
        throw CheckpointError(
          .malformed, record: "legacy main pickle", offset: Int64(graph.offset(of: s.pidNode)),
          "storage \(s.key) is referenced but not in the key list")
      }
    }
    return (tensors, storages, notes)
  }

  // MARK: - A bare pickle (pickle.dump output, or a legacy file at another protocol)

  func readPickleFile(_ source: any ByteSource) throws(CheckpointError) -> Checkpoint {
    let size = min(source.size, maxPickleBytes)
    let bytes = try io { () throws(SourceError) in try source.readExactly(at: 0, count: Int(size)) }
    var machine = Machine(limits: limits)
    let outcome: Machine.Outcome
    do { outcome = try machine.load(bytes) } catch {
      throw CheckpointError(
        .malformed, record: "pickle", offset: Int64(error.offset), error.summary)
    }
    if case .bigInt(let magic) = machine.graph[outcome.root],
      Array(machine.graph.bytes(magic)) == DetectedFormat.legacyMagicValue
    {
      return try readLegacy(source)
    }
    // A lone integer followed by more pickles is the legacy layout with a wrong magic number
    // (torch: "Invalid magic number; corrupt file?").
    var rootIsInteger = false
    switch machine.graph[outcome.root] {
    case .int, .bigInt: rootIsInteger = true
    default: break
    }
    if rootIsInteger, bytes.count > outcome.end, bytes[outcome.end] == 0x80 {
      throw CheckpointError(
        .malformed, record: "legacy magic pickle", offset: 0,
        "magic number mismatch: not a torch.save file, or a corrupt one")
    }
    let graph = machine.graph
    let tensors =
      (try? TorchInterpreter(graph: graph, flavor: .zip(storageFolder: "data")).tensors()) ?? [:]
    let section = Checkpoint.PickleSection(
      name: "pickle", fileOffset: 0, length: Int64(outcome.end), root: outcome.root,
      declaredProtocol: outcome.declaredProtocol, highestProtocol: outcome.highestProtocol,
      nodes: 0..<graph.count, storageFolder: nil)
    var notes = [
      "a bare pickle, not a torch.save file: torch.load cannot read it (it expects a zip or the legacy magic number)"
    ]
    if Int64(outcome.end) < source.size {
      notes.append("\(source.size - Int64(outcome.end)) bytes follow the pickle")
    }
    let result = TensorWalker(graph: graph, tensors: tensors).walk(from: outcome.root)
    return Checkpoint(
      format: .pickle, fileSize: source.size, archiveRoot: nil, directory: nil, pickles: [section],
      graph: graph, root: outcome.root, tensors: tensors, entries: result.entries, storages: [:],
      byteorder: nil, version: nil, storageAlignment: nil, notes: notes, metadata: [], problem: nil)
  }
}

/// Results of the two jobs of `directoryAndEarlyPickle`, each written by one job and read after
/// both have finished.
private final class ZipSlots: @unchecked Sendable {
  var directory: Result<ZipDirectory, ZipError>?
  var early: CheckpointReader.EarlyPickle?
  var numbered: NumberedRecords?
}
