public import PTViewCore
public import PTViewEdit
import PTViewFiles
import PTViewZip

/// `ptview remap` on a torch.distributed.checkpoint folder.
///
/// DCP's tensors record no device, but a pickled value (a tuple holding tensors) is a whole
/// torch.save archive inside a `.distcp` file, loaded with a plain torch.load: its tensors go
/// back where they were saved. Remapping one rewrites that archive exactly as `remap` rewrites
/// a single `.pt` (`RemapPlanner`, `CheckpointRewriter`), which changes its length; so every
/// later range of the same file moves, and `.metadata` must say where each range is now.
///
/// The new folder is written beside OUT and renamed into place: a rewritten `.distcp` is the
/// old file with each remapped range replaced (everything between ranges copied as it was),
/// `.metadata` is patched in place (`DistributedMetadataPatch`: only the offset and length
/// integers change), every other file is copied byte for byte. Before the rename the new
/// folder is read back: its `.metadata` must describe the same items with the moved ranges,
/// and each remapped value must read and need no further move.
public enum DistributedRemap {
  /// A pickled value that moves.
  public struct Value: Sendable {
    /// Its key.
    public var fqn: String
    /// Where it was and where it is in the output.
    public var from: DistributedMetadata.Storage
    public var to: DistributedMetadata.Storage
    /// Storage moves inside it.
    public var moves: [RemapPlan.Move]
  }

  /// What a remap wrote.
  public struct Report: Sendable {
    public var output: String
    /// Values rewritten, in `.metadata` order.
    public var values: [Value]
    /// `.distcp` files rewritten; every other file was copied.
    public var rewrittenFiles: [String]
    public var copiedFiles: [String]
    /// `storage_data` entries whose range changed in `.metadata`.
    public var patchedRanges: Int
  }

  /// A value's rewrite, planned.
  struct Planned {
    var fqn: String
    var storage: DistributedMetadata.Storage
    var moves: [RemapPlan.Move]
    /// The new archive: chunks copy from the value's own file.
    var plan: WritePlan
    /// Tensors in the value, and each storage record's location once moved (what the read
    /// back must find).
    var tensors: Int
    var locations: [String: String]
  }

  /// The pickled values `rules` (limited to tensors whose dotted key `only` selects) would
  /// move, each with its new archive planned; empty when there is nothing to do.
  static func plan(
    _ metadata: DistributedMetadata, folder: String, rules: DeviceRules, only: TensorSelection
  ) throws(WriteFailure) -> [Planned] {
    var out: [Planned] = []
    var sources: [String: FileSource] = [:]
    for item in metadata.items {
      guard case .bytes(let storage) = item.kind else { continue }
      let path = "\(folder)/\(storage.file)"
      if sources[storage.file] == nil {
        do { sources[storage.file] = try FileSource(path: path) } catch {
          throw WriteFailure(kind: .unreadable, message: "\(path): \(error.message)")
        }
      }
      let slice = SliceSource(sources[storage.file]!, start: storage.offset, size: storage.length)
      let decompressor = LazyLibzip(source: slice, name: storage.file)
      let saved: Checkpoint
      do { saved = try CheckpointReader(decompressor: decompressor).read(slice) } catch {
        throw WriteFailure(
          kind: .unreadable,
          message: "\(path): \(item.fqn): the value at byte \(storage.offset): \(error.description)"
        )
      }
      guard !saved.entries.isEmpty else { continue }
      // Inner keys as stats names them: the value's path, then the key inside it.
      let prefix = item.path.map { part -> String in
        switch part {
        case .key(let k): k
        case .index(let i): String(i)
        }
      }.joined(separator: ".")
      var selection = TensorSelection.all
      if only != .all {
        let keys = saved.entries.map(\.key).filter {
          only.contains($0.isEmpty ? prefix : prefix + "." + $0)
        }
        guard !keys.isEmpty else { continue }
        selection = .keys(Set(keys))
      }
      let remap = RemapPlanner.plan(saved, moves: [(rules, selection)])
      guard !remap.edits.isEmpty else { continue }
      let rewriter = CheckpointRewriter(
        checkpoint: saved, source: slice, decompressor: decompressor)
      let result: CheckpointRewriter.Result
      do {
        result = try rewriter.rewrite(
          remap.edits, outputPath: (saved.archiveRoot ?? "archive") + ".pt")
      } catch {
        throw WriteFailure(
          kind: .failed,
          message: "\(path): \(item.fqn): the value at byte \(storage.offset): \(error.description)"
        )
      }
      // The rewriter's plan copies from the value's range; make it copy from the file.
      var plan = WritePlan()
      for chunk in result.plan.chunks {
        switch chunk {
        case .bytes(let b): plan.append(b)
        case .copy(let o, let l): plan.copy(offset: storage.offset + o, length: l)
        case .convert:
          throw WriteFailure(kind: .failed, message: "\(item.fqn): a remap does not convert")
        }
      }
      var locations: [String: String] = [:]
      for ref in saved.storageReferences { locations[ref.record] = ref.location }
      for move in remap.moves { locations[move.record] = move.to }
      out.append(
        Planned(
          fqn: item.fqn, storage: storage, moves: remap.moves, plan: plan,
          tensors: saved.entries.count, locations: locations))
    }
    return out
  }

  /// Whether `rules` move any pickled value of the folder (`--only` limiting them).
  public static func needed(
    _ metadata: DistributedMetadata, folder: String, rules: DeviceRules, only: TensorSelection
  ) throws(WriteFailure) -> Bool {
    !(try plan(metadata, folder: folder, rules: rules, only: only)).isEmpty
  }

  /// Writes the remapped folder to `output` (see the type's comment). The `.metadata` is read
  /// again here, and its ranges re-checked against the files, so what is patched is exactly
  /// what was checked.
  public static func write(
    folder: String, output: String, rules: DeviceRules, only: TensorSelection, overwrite: Bool
  ) throws(WriteFailure) -> Report {
    func unreadable(_ file: String, _ why: String) -> WriteFailure {
      WriteFailure(kind: .unreadable, message: "\(folder)/\(file): \(why)")
    }
    if AtomicOutput.sameFile(folder, output) {
      throw WriteFailure(kind: .isInput, message: "\(output) is the input folder")
    }
    if !overwrite && AtomicOutput.exists(output) {
      throw WriteFailure(kind: .exists, message: "\(output) already exists")
    }
    guard let names = Folder.list(folder)?.sorted() else {
      throw WriteFailure(kind: .unreadable, message: "\(folder): cannot list the folder")
    }
    var sizes: [String: Int64] = [:]
    var sources: [String: FileSource] = [:]
    for name in names where name.hasSuffix(".distcp") {
      guard Folder.isRegularFile(folder + "/" + name) else { continue }
      do { sources[name] = try FileSource(path: folder + "/" + name) } catch {
        throw unreadable(name, error.message)
      }
      sizes[name] = sources[name]!.size
    }
    let metadataBytes: [UInt8]
    let metadata: DistributedMetadata
    let entries: [DistributedMetadataPatch.Entry]
    do {
      let source = try FileSource(path: folder + "/.metadata")
      guard source.size <= 1 << 30 else { throw unreadable(".metadata", "is \(source.size) bytes") }
      metadataBytes = try source.readExactly(at: 0, count: Int(source.size))
    } catch let error as WriteFailure {
      throw error
    } catch {
      throw unreadable(".metadata", "\(error)")
    }
    do {
      metadata = try DistributedMetadataReader.read(metadataBytes, fileSizes: sizes)
      entries = try DistributedMetadataPatch.entries(metadataBytes)
    } catch {
      throw unreadable(".metadata", error.description)
    }
    let planned = try plan(metadata, folder: folder, rules: rules, only: only)

    // Per file: the rewritten ranges in order, each range's new place, and the file's plan.
    var byFile: [String: [Planned]] = [:]
    for p in planned { byFile[p.storage.file, default: []].append(p) }
    var moved: [String: [StoredRange: DistributedMetadata.Storage]] = [:]
    var filePlans: [String: WritePlan] = [:]
    for (file, values) in byFile {
      // One rewrite per range (two keys may name the same bytes).
      var seen: Set<StoredRange> = []
      let ranges = values.sorted { $0.storage.offset < $1.storage.offset }.filter {
        seen.insert(StoredRange($0.storage)).inserted
      }
      // A rewritten range must not overlap any other range of the file: it would change
      // bytes another key reads.
      let others = Set(entries.filter { $0.storage.file == file }.map { StoredRange($0.storage) })
      for r in ranges {
        let a = StoredRange(r.storage)
        if let clash = others.first(where: { $0 != a && $0.overlaps(a) }) {
          throw unreadable(
            file,
            "\(r.fqn): the value at byte \(a.offset) overlaps the range at byte \(clash.offset); not rewritten"
          )
        }
      }
      for (a, b) in zip(ranges, ranges.dropFirst())
      where StoredRange(a.storage).overlaps(StoredRange(b.storage)) {
        throw unreadable(
          file, "\(b.fqn): the value at byte \(b.storage.offset) overlaps \(a.fqn); not rewritten")
      }
      var plan = WritePlan()
      var cursor: Int64 = 0
      var shifts: [(end: Int64, delta: Int64)] = []
      var delta: Int64 = 0
      var places: [StoredRange: DistributedMetadata.Storage] = [:]
      for r in ranges {
        plan.copy(offset: cursor, length: r.storage.offset - cursor)
        let newOffset = plan.size
        for chunk in r.plan.chunks {
          switch chunk {
          case .bytes(let b): plan.append(b)
          case .copy(let o, let l): plan.copy(offset: o, length: l)
          case .convert: break
          }
        }
        places[StoredRange(r.storage)] = .init(
          file: file, offset: newOffset, length: r.plan.size)
        delta += r.plan.size - r.storage.length
        shifts.append((r.storage.offset + r.storage.length, delta))
        cursor = r.storage.offset + r.storage.length
      }
      plan.copy(offset: cursor, length: sizes[file]! - cursor)
      // Every other range moves by what the rewritten ranges before it grew or shrank.
      for range in others where places[range] == nil {
        let shift = shifts.last(where: { $0.end <= range.offset })?.delta ?? 0
        places[range] = .init(file: file, offset: range.offset + shift, length: range.length)
      }
      moved[file] = places
      filePlans[file] = plan
    }

    // The patched .metadata: both integers of every entry in a rewritten file.
    var values: [Int: Int64] = [:]
    var patched = 0
    for entry in entries {
      guard let place = moved[entry.storage.file]?[StoredRange(entry.storage)] else { continue }
      for (at, value) in [(entry.offsetAt, place.offset), (entry.lengthAt, place.length)] {
        if let other = values[at], other != value {
          throw unreadable(
            ".metadata",
            "\(entry.fqn): byte \(at) holds an integer two storage ranges share; not patched")
        }
        values[at] = value
      }
      if place != entry.storage { patched += 1 }
    }
    let newMetadata: [UInt8]
    do { newMetadata = try DistributedMetadataPatch.patch(metadataBytes, values) } catch {
      throw unreadable(".metadata", error.description)
    }

    // Write everything into a temporary folder, check it, rename it into place.
    let temporary: String
    do { temporary = try FolderOutput.makePendingTemporary(near: output) } catch {
      throw WriteFailure(kind: .failed, message: error.message)
    }
    FolderOutput.copyMode(from: folder, to: temporary)
    var copied: [String] = []
    do throws(WriteError) {
      for name in names {
        let from = folder + "/" + name
        let to = temporary + "/" + name
        if name == ".metadata" {
          try FolderOutput.write(newMetadata, to: to)
        } else if let plan = filePlans[name] {
          try AtomicOutput.write(plan, from: sources[name]!, to: to, mode: sources[name]!.mode)
        } else if Folder.isRegularFile(from) {
          try FolderOutput.copy(from, to: to) { _ in }
          copied.append(name)
        } else {
          throw WriteError("\(from) is not a regular file; a DCP folder holds only files")
        }
      }
    } catch {
      FolderOutput.discard(temporary)
      throw WriteFailure(kind: .failed, message: error.message)
    }
    FolderOutput.sync(folder: temporary)
    if let problem = verify(temporary, metadata: metadata, moved: moved, planned: planned) {
      FolderOutput.discard(temporary)
      throw WriteFailure(kind: .failed, message: "\(output) was written but \(problem)")
    }
    do { try FolderOutput.commit(temporary, to: output, replace: overwrite) } catch {
      FolderOutput.discard(temporary)
      throw WriteFailure(kind: .failed, message: error.message)
    }
    let report = planned.map { p in
      Value(
        fqn: p.fqn, from: p.storage, to: moved[p.storage.file]![StoredRange(p.storage)]!,
        moves: p.moves)
    }
    return Report(
      output: output, values: report, rewrittenFiles: filePlans.keys.sorted(), copiedFiles: copied,
      patchedRanges: patched)
  }

  /// Reads the written folder back: nil when it says what was meant.
  static func verify(
    _ path: String, metadata: DistributedMetadata,
    moved: [String: [StoredRange: DistributedMetadata.Storage]],
    planned: [Planned]
  ) -> String? {
    var sizes: [String: Int64] = [:]
    for name in Folder.list(path) ?? [] where name.hasSuffix(".distcp") {
      if let s = try? FileSource(path: path + "/" + name) { sizes[name] = s.size }
    }
    let written: DistributedMetadata
    do {
      let source = try FileSource(path: path + "/.metadata")
      let bytes = try source.readExactly(at: 0, count: Int(source.size))
      written = try DistributedMetadataReader.read(bytes, fileSizes: sizes)
    } catch {
      return "its .metadata does not read back: \(error)"
    }
    func place(_ s: DistributedMetadata.Storage) -> DistributedMetadata.Storage {
      moved[s.file]?[StoredRange(s)] ?? s
    }
    var expected = metadata
    for i in expected.items.indices {
      switch expected.items[i].kind {
      case .bytes(let s): expected.items[i].kind = .bytes(place(s))
      case .tensor(let dtype, let shape, var chunks):
        for c in chunks.indices { chunks[c].storage = place(chunks[c].storage) }
        expected.items[i].kind = .tensor(dtype: dtype, shape: shape, chunks: chunks)
      }
    }
    guard written == expected else {
      return
        "its .metadata does not describe the moved ranges (a range's integer is shared with another field)"
    }
    for p in planned {
      let s = place(p.storage)
      guard let file = try? FileSource(path: path + "/" + s.file) else {
        return "\(s.file) cannot be reopened"
      }
      let slice = SliceSource(file, start: s.offset, size: s.length)
      guard
        let saved = try? CheckpointReader(decompressor: LazyLibzip(source: slice, name: s.file))
          .read(slice)
      else { return "\(p.fqn) does not read back at byte \(s.offset) of \(s.file)" }
      guard saved.entries.count == p.tensors else {
        return "\(p.fqn) holds \(saved.entries.count) tensors at byte \(s.offset), not \(p.tensors)"
      }
      for ref in saved.storageReferences where p.locations[ref.record] != ref.location {
        return
          "\(p.fqn): \(ref.record) is on \(ref.location), not \(p.locations[ref.record] ?? "?")"
      }
    }
    return nil
  }
}

/// A byte range of a file, as a dictionary key.
struct StoredRange: Hashable {
  var offset: Int64
  var length: Int64
  init(_ s: DistributedMetadata.Storage) {
    offset = s.offset
    length = s.length
  }
  func overlaps(_ other: StoredRange) -> Bool {
    length > 0 && other.length > 0 && offset < other.offset + other.length
      && other.offset < offset + length
  }
}
