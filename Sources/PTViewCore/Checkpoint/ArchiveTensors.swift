import PTViewPickle

/// The tensors of a zip archive's pickles: their rebuild calls interpreted, their storage
/// records checked against the directory, their paths found.
///
/// For an archive of tens of thousands of tensors these are the costs that follow the pickle
/// VM, and they are spread over two cores in two rounds. First: one core decodes the storage
/// pids and interprets the first half of the rebuild calls while the other finds every
/// tensor's path (paths only need to know which nodes are rebuild calls). Then: one core
/// interprets the second half and indexes the table while the other checks the storage
/// records. Rows and tensors are joined at the end; if a rebuild call turned out not to be a
/// tensor, the paths are found again over the finished table, so the result is always what a
/// walk over the table gives.
struct ArchiveTensors: Sendable {
  let graph: ValueGraph
  let pickles: [Checkpoint.PickleSection]
  let directory: ZipDirectory
  let root: String
  let isTorchScript: Bool
  /// The `<root>/data/<n>` records, when indexed already.
  let numbered: NumberedRecords?

  /// What reading found, or the first problem (then without tensors).
  struct Outcome: Sendable {
    var tensors: TensorTable = [:]
    var references: [StorageRef] = []
    var storages: StorageExtents = [:]
    var notes: [String] = []
    var entries: [TensorEntry] = []
    var sharingTruncated = false
    var problem: CheckpointError? = nil
  }

  /// Pickles with fewer nodes than this (about 1,500 tensors) are read on one thread.
  static let concurrentNodes = 20_000

  /// Interprets, checks and walks.
  func read() -> Outcome {
    let sections = pickles.filter { $0.storageFolder != nil && $0.name != "bytecode.pkl" }
    let interpreters = sections.map {
      TorchInterpreter(graph: graph, flavor: .zip(storageFolder: $0.storageFolder!))
    }
    guard !isTorchScript, sections.count == 1, let section = sections.first,
      section.name == "data.pkl"
    else { return readInOrder(sections, interpreters) }
    let interpreter = interpreters[0]
    let nodes = section.nodes
    let middle = nodes.lowerBound + nodes.count / 2
    // A small pickle (a few hundred tensors) is read in well under a millisecond: worker
    // threads would cost more than they save, so it is read on this thread alone.
    let concurrently = nodes.count >= Self.concurrentNodes

    let (first, rows) = Parallel.both(
      concurrently: concurrently,
      {
        Result { () throws(InterpretError) in
          let (decoded, references) = try interpreter.decodingStorages(in: nodes)
          let half = FirstHalf(decoded: decoded, references: references)
          half.run.keys.reserveCapacity(references.count)
          half.run.values.reserveCapacity(references.count)
          try decoded.tensorRun(in: nodes.lowerBound..<middle, into: &half.run)
          return half
        }
      },
      {
        TensorWalker(
          graph: graph, candidates: interpreter.rebuildCallCount,
          isTensor: { interpreter.isRebuildCall($0) }
        ).rows(from: section.root)
      })
    let half: FirstHalf
    switch first {
    case .success(let found): half = found
    case .failure(let error): return failed(interpretation(error, section))
    }

    let check = storageCheck
    let (second, checked) = Parallel.both(
      concurrently: concurrently,
      {
        Result { () throws(InterpretError) in
          try half.decoded.tensorRun(in: middle..<nodes.upperBound, into: &half.run)
          // The record check beside this takes a little longer: index the table meanwhile.
          return TensorTable.joined([half.run], nodeCount: graph.count)
        }
      },
      { Result { () throws(CheckpointError) in try check.run(half.references) } })
    let tensors: TensorTable
    switch second {
    case .success(let table): tensors = table
    case .failure(let error): return failed(interpretation(error, section))
    }
    let outcome: StorageRecordCheck.Outcome
    switch checked {
    case .success(let value): outcome = value
    case .failure(let error): return failed(error)
    }

    var read = Outcome(
      tensors: tensors, references: half.references, storages: outcome.storages,
      notes: outcome.notes)
    if !rows.truncatedSharing, let entries = rows.entries(with: read.tensors) {
      read.entries = entries
    } else {
      (read.entries, read.sharingTruncated) = walk.entries(read.tensors)
    }
    return read
  }

  /// TorchScript archives (several pickles with storages): interpret each in turn, check, walk.
  private func readInOrder(
    _ sections: [Checkpoint.PickleSection], _ interpreters: [TorchInterpreter]
  )
    -> Outcome
  {
    var read = Outcome()
    for (section, interpreter) in zip(sections, interpreters) {
      do {
        let found = try interpreter.interpret(section.nodes)
        if read.tensors.isEmpty {
          read.tensors = found.tensors
        } else {
          read.tensors.merge(found.tensors)
        }
        read.references += found.references
      } catch {
        return failed(interpretation(error, section))
      }
    }
    do {
      let outcome = try storageCheck.run(read.references)
      read.storages = outcome.storages
      read.notes = outcome.notes
    } catch {
      return failed(error)
    }
    (read.entries, read.sharingTruncated) = walk.entries(read.tensors)
    return read
  }

  /// The first round's interpretation, which the second round continues: a reference, so the
  /// second half is appended to the first in place rather than the two copied together. One
  /// job at a time writes it (the first round's, then the second's), with the rounds' join
  /// between them.
  private final class FirstHalf: @unchecked Sendable {
    let decoded: TorchInterpreter
    let references: [StorageRef]
    var run = TensorTable.Run()
    init(decoded: TorchInterpreter, references: [StorageRef]) {
      self.decoded = decoded
      self.references = references
    }
  }

  private var storageCheck: StorageRecordCheck {
    StorageRecordCheck(
      directory: directory, root: root, isTorchScript: isTorchScript, pickles: pickles,
      graph: graph, numbered: numbered)
  }

  private var walk: ZipTensorWalk {
    ZipTensorWalk(graph: graph, pickles: pickles, isTorchScript: isTorchScript)
  }

  private func interpretation(_ error: InterpretError, _ section: Checkpoint.PickleSection)
    -> CheckpointError
  {
    CheckpointError(
      .malformed, record: root + "/" + section.name, offset: Int64(error.offset), error.message)
  }

  /// A problem, with the paths a walk finds when no tensor is known (for `dis` and `tree` of a
  /// file torch would refuse).
  private func failed(_ problem: CheckpointError) -> Outcome {
    var read = Outcome(problem: problem)
    (read.entries, read.sharingTruncated) = walk.entries([:])
    return read
  }
}

/// Every storage record the pickles reference must exist and hold enough bytes. Checked once
/// per record (a storage shared by views is referenced many times), remembering the largest
/// need per directory entry in a plain array.
struct StorageRecordCheck: Sendable {
  let directory: ZipDirectory
  let root: String
  let isTorchScript: Bool
  let pickles: [Checkpoint.PickleSection]
  let graph: ValueGraph
  /// The `<root>/data/<n>` records, when indexed already.
  var numbered: NumberedRecords? = nil

  struct Outcome: Sendable {
    var storages: StorageExtents
    var notes: [String]
  }

  func run(_ references: [StorageRef]) throws(CheckpointError) -> Outcome {
    var needed = [Int64](repeating: -1, count: directory.entries.count)
    var order: [Int] = []
    var recordNames: [String] = []
    let folder = root + "/data/"
    let numbered =
      self.numbered.flatMap { $0.folder == folder ? $0 : nil }
      ?? NumberedRecords(directory, folder: folder)
    // By index, not `for storage in references`: copying each reference (and below, each
    // directory entry) retains and releases its strings, a measurable share of the check.
    for i in references.indices {
      let record = references[i].record
      guard
        let index = numbered.entry(record) ?? directory.entry(named: root + "/" + record)?.index
      else {
        let storage = references[i]
        if isTorchScript && storage.record.hasPrefix("traced_inputs/") { continue }
        let section = pickles.first(where: { $0.nodes.contains(Int(storage.pidNode.index)) })
        throw CheckpointError(
          .malformed, record: root + "/" + (section?.name ?? "data.pkl"),
          offset: Int64(graph.offset(of: storage.pidNode)),
          "storage record \(storage.record) is missing from the archive")
      }
      if needed[index] < 0 {
        order.append(index)
        recordNames.append(record)
      }
      needed[index] = max(needed[index], references[i].byteCount)
    }
    var outcome = Outcome(storages: [:], notes: [])
    outcome.storages.reserveCapacity(order.count)
    let entries = directory.entries
    for (index, record) in zip(order, recordNames) {
      let size = entries[index].uncompressedSize
      let isStored = entries[index].isStored
      let need = needed[index]
      if size < need && !record.hasPrefix("traced_inputs/") {
        throw CheckpointError(
          .malformed, record: entries[index].name, offset: entries[index].localHeaderOffset,
          "storage record holds \(size) bytes but its tensors need \(need)")
      }
      if size > need {
        outcome.notes.append(
          "record \(record) holds \(size) bytes, more than the \(need) its storage declares; torch.load refuses a size mismatch"
        )
      }
      if !isStored {
        outcome.notes.append(
          "record \(record) is compressed; torch.load(mmap=True) would read garbage from it")
      }
      outcome.storages[record] = Checkpoint.StorageExtent(
        record: record, dataOffset: nil, size: size, compressed: !isStored)
    }
    return outcome
  }
}

/// The tensor rows of an archive: from data.pkl, and for TorchScript also its constants.
struct ZipTensorWalk: Sendable {
  let graph: ValueGraph
  let pickles: [Checkpoint.PickleSection]
  let isTorchScript: Bool

  func entries(_ tensors: TensorTable) -> (entries: [TensorEntry], sharingTruncated: Bool) {
    var entries: [TensorEntry] = []
    var sharingTruncated = false
    if let main = pickles.first(where: { $0.name == "data.pkl" }) {
      if isTorchScript {
        entries = TorchScriptWalker(graph: graph, tensors: tensors).entries(from: main.root)
      } else {
        let result = TensorWalker(graph: graph, tensors: tensors).walk(from: main.root)
        entries = result.entries
        sharingTruncated = result.truncatedSharing
      }
    }
    if isTorchScript, let constants = pickles.first(where: { $0.name == "constants.pkl" }) {
      // Constants are `CONSTANTS.c<i>` in TorchScript code; they are not part of state_dict.
      if let items = graph.sequence(constants.root) {
        for (i, item) in items.enumerated() {
          let result = TensorWalker(graph: graph, tensors: tensors).walk(
            from: item, prefix: ["CONSTANTS", "c\(i)"])
          entries += result.entries.map {
            var e = $0
            e.inStateDict = false
            return e
          }
        }
      }
    }
    return (entries, sharingTruncated)
  }
}

/// The records torch names `data/<n>`, found by number: resolving tens of thousands of storage
/// references by building and hashing `root/data/<n>` strings costs more than the rest of the
/// check. Anything else (legacy keys, other folders) goes through the name index.
struct NumberedRecords: Sendable {
  private var slots: [Int32] = []
  /// The folder whose records these are (`archive/data/`).
  let folder: String

  /// Indexes the entries named `folder` + a decimal number without leading zeros.
  init(_ directory: ZipDirectory, folder: String) {
    self.folder = folder
    let prefix = Array(folder.utf8)
    // Bounded by the entry count, so a hostile name like data/99999999 costs nothing.
    let entries = directory.entries
    let limit = max(1024, 4 * entries.count)
    slots.reserveCapacity(entries.count)
    for i in entries.indices {
      guard let n = StorageExtents.number(in: entries[i].name, after: prefix), n < limit
      else { continue }
      if n >= slots.count {
        slots += [Int32](repeating: -1, count: max(n + 1 - slots.count, slots.count))
      }
      if slots[n] < 0 { slots[n] = Int32(entries[i].index) }
    }
  }

  /// The entry index of `data/<n>`, or nil when `record` is not of that form or is absent.
  func entry(_ record: String) -> Int? {
    guard let n = StorageExtents.dataNumber(record), n < slots.count, slots[n] >= 0 else {
      return nil
    }
    return Int(slots[n])
  }
}
