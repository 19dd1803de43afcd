public import PTViewCore

/// Reads a written file back and checks it against the input: the same tensors with the
/// expected devices, the same storage sizes, copied records carrying the input's checksums at
/// aligned offsets, and sampled bytes equal. Samples (the first and last 4 KiB of each copied
/// run) catch misplaced copies without reading gigabytes a second time.
public enum RewriteVerifier {
  /// Problems found; empty when the output is right.
  public static func problems(
    input: Checkpoint, inputSource: any ByteSource, output: Checkpoint,
    outputSource: any ByteSource, plan: EditPlan, rewrite: CheckpointRewriter.Result
  ) -> [String] {
    problems(
      input: input, inputSource: inputSource, output: output, outputSource: outputSource,
      edits: plan.edits, outputKeys: plan.outputKeys, rewrite: rewrite)
  }

  /// Problems found; empty when the output is right.
  public static func problems(
    input: Checkpoint, inputSource: any ByteSource, output: Checkpoint,
    outputSource: any ByteSource,
    edits: [Edit], outputKeys: [String]? = nil, rewrite: CheckpointRewriter.Result
  ) -> [String] {
    var problems: [String] = []
    var moves: [String: String] = [:]
    for case .moveStorage(let record, let to) in edits { moves[record] = to }
    var casts: [String: DType] = [:]
    var castFrom: [String: DType] = [:]
    for case .castStorage(let record, let from, let to) in edits {
      casts[record] = to
      castFrom[record] = from
    }
    let keysChange = edits.contains {
      switch $0 {
      case .newRoot, .newStateDict, .renameKey, .dropItem: true
      default: false
      }
    }
    let omitted = Set(rewrite.omittedStorages)
    if keysChange {
      // Tensors moved, renamed or left out: check each output tensor against the storage it
      // reads, and that the keys the plan promised are there.
      let present = Set(output.entries.map(\.key))
      if let outputKeys {
        let missing = outputKeys.filter { !present.contains($0) }
        if !missing.isEmpty {
          problems.append(
            "the output lacks \(missing.count) planned key(s), e.g. \(missing.prefix(3).joined(separator: ", "))"
          )
        }
      }
      for entry in output.entries {
        for storage in entry.tensor.allStorages {
          guard input.storages[storage.record] != nil else {
            problems.append("tensor \(entry.key) reads \(storage.record), which the input lacks")
            continue
          }
          let want = moves[storage.record]
          if let want, storage.location != want {
            problems.append(
              "storage \(storage.record) is tagged \(storage.location), expected \(want)")
          }
          if let to = casts[storage.record], storage.storageDType != to {
            problems.append(
              "storage \(storage.record) is \(storage.storageDType.name), expected \(to.name)")
          }
        }
      }
      storageSizeChecks(input, output, omitted, casts, castFrom, &problems)
      containerChecks(input, inputSource, output, outputSource, rewrite, &problems)
      return problems
    }
    var argumentDevices: [String: String] = [:]
    for case .setDeviceArgument(let node, let to) in edits {
      for entry in input.entries where entry.tensor.deviceNode == node {
        argumentDevices[entry.key] = to
      }
    }
    if input.entries.count != output.entries.count {
      problems.append(
        "the output lists \(output.entries.count) tensors, the input \(input.entries.count)")
    }
    for (a, b) in zip(input.entries, output.entries) {
      let ta = a.tensor
      let tb = b.tensor
      let castTo = ta.storage.flatMap { casts[$0.record] }
      guard a.path == b.path, castTo.map({ tb.dtype == $0 }) ?? (ta.dtype == tb.dtype),
        ta.shape == tb.shape, ta.stride == tb.stride,
        ta.offset == tb.offset, ta.requiresGrad == tb.requiresGrad, ta.layout == tb.layout,
        ta.allStorages.map(\.record) == tb.allStorages.map(\.record)
      else {
        problems.append("tensor \(a.key) differs after rewriting")
        continue
      }
      var expected = ta.device
      if let record = ta.storage?.record, let to = moves[record] { expected = to }
      if let to = argumentDevices[a.key] { expected = to }
      if ta.storage == nil, ta.layout != nil, let first = ta.allStorages.first,
        let to = moves[first.record]
      {
        expected = to
      }
      if tb.device != expected {
        problems.append("tensor \(a.key) is on \(tb.device), expected \(expected)")
      }
      for (sa, sb) in zip(ta.allStorages, tb.allStorages) {
        let want = moves[sa.record] ?? sa.location
        if sb.location != want {
          problems.append("storage \(sa.record) is tagged \(sb.location), expected \(want)")
        }
      }
    }
    storageSizeChecks(input, output, [], casts, castFrom, &problems)
    containerChecks(input, inputSource, output, outputSource, rewrite, &problems)
    return problems
  }

  /// Every input storage the output keeps is there, with its size (scaled by a cast).
  private static func storageSizeChecks(
    _ input: Checkpoint, _ output: Checkpoint, _ omitted: Set<String>,
    _ casts: [String: DType], _ castFrom: [String: DType], _ problems: inout [String]
  ) {
    for (record, extent) in input.storages where !omitted.contains(record) {
      guard let out = output.storages[record] else {
        problems.append("storage \(record) is missing from the output")
        continue
      }
      let expected =
        casts[record].map { to in
          extent.size / Int64(max(1, castFrom[record]?.elementSize ?? 1))
            * Int64(to.elementSize)
        } ?? extent.size
      if out.size != expected {
        problems.append("storage \(record) has \(out.size) bytes, expected \(expected)")
      }
    }
  }

  /// Records read back as written, aligned, and copied ones with the input's bytes.
  private static func containerChecks(
    _ input: Checkpoint, _ inputSource: any ByteSource, _ output: Checkpoint,
    _ outputSource: any ByteSource, _ rewrite: CheckpointRewriter.Result,
    _ problems: inout [String]
  ) {
    // Container-level checks.
    if let inDir = input.directory, let outDir = output.directory, let inRoot = input.archiveRoot {
      let inByName = Dictionary(
        inDir.entries.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
      for (written, read) in zip(rewrite.records, outDir.entries) {
        guard written.name == read.name, written.converted || written.crc32 == read.crc32,
          written.compressedSize == read.compressedSize,
          written.uncompressedSize == read.uncompressedSize
        else {
          problems.append("record \(written.name) reads back differently from how it was written")
          continue
        }
        if written.kept {
          // Left where it was (an in-place append writes nothing before the old end): the
          // entry must point at the input's record, with its checksum and sizes. Its header and
          // data are the input's own bytes; reading them again would prove nothing.
          // The first slash by its UTF-8 byte: a Character search costs microseconds a name.
          guard let slash = read.name.utf8.firstIndex(of: UInt8(ascii: "/")),
            let original = inByName[inRoot + "/" + read.name[read.name.utf8.index(after: slash)...]]
          else {
            problems.append("kept record \(read.name) is not in the input")
            continue
          }
          if read.localHeaderOffset != original.localHeaderOffset || read.crc32 != original.crc32
            || read.compressedSize != original.compressedSize || read.method != original.method
          {
            problems.append(
              "record \(read.name) at \(read.localHeaderOffset) is not the input's record at \(original.localHeaderOffset)"
            )
          }
          continue
        }
        let header: LocalHeader
        do { header = try ZipDirectory.localHeader(of: read, in: outputSource) } catch {
          problems.append("record \(read.name): \(error.message)")
          continue
        }
        if header.dataOffset != written.dataOffset {
          problems.append(
            "record \(read.name) data starts at \(header.dataOffset), expected \(written.dataOffset)"
          )
        }
        if read.method == 0,
          header.dataOffset % (rewrite.plan.size > 0 ? alignment(output) : 64) != 0
        {
          problems.append("record \(read.name) data at \(header.dataOffset) is not aligned")
        }
        guard written.copied, let slash = read.name.firstIndex(of: "/") else { continue }
        let relative = read.name[read.name.index(after: slash)...]
        guard let original = inByName[inRoot + "/" + relative] else { continue }
        if original.crc32 != read.crc32 {
          problems.append(
            "record \(relative) checksum \(read.crc32) differs from the input's \(original.crc32)")
        }
        if let inHeader = try? ZipDirectory.localHeader(of: original, in: inputSource),
          !samplesMatch(
            inputSource, inHeader.dataOffset, outputSource, header.dataOffset,
            original.compressedSize)
        {
          problems.append("record \(relative) bytes differ from the input's")
        }
      }
      if outDir.entries.count != rewrite.records.count {
        problems.append(
          "the output has \(outDir.entries.count) records, \(rewrite.records.count) were written")
      }
    } else if input.format == .legacy {
      let converted = Set(
        output.storageReferences.filter { ref in
          input.storageReferences.first { $0.record == ref.record }?.storageDType
            != ref.storageDType
        }.map(\.record))
      for (record, extent) in input.storages where !converted.contains(record) {
        guard let out = output.storages[record], let a = extent.dataOffset, let b = out.dataOffset
        else { continue }
        if !samplesMatch(inputSource, a, outputSource, b, extent.size) {
          problems.append("storage \(record) bytes differ from the input's")
        }
      }
    }
  }

  private static func alignment(_ checkpoint: Checkpoint) -> Int64 {
    Int64(max(1, checkpoint.storageAlignment ?? 64))
  }

  /// Compares the first and last 4 KiB of two byte ranges.
  static func samplesMatch(
    _ a: any ByteSource, _ offsetA: Int64, _ b: any ByteSource, _ offsetB: Int64, _ length: Int64
  ) -> Bool {
    let window = min(length, 4096)
    guard window > 0 else { return true }
    for start in Set([0, length - window]) {
      guard let x = try? a.readExactly(at: offsetA + start, count: Int(window)),
        let y = try? b.readExactly(at: offsetB + start, count: Int(window)), x == y
      else { return false }
    }
    return true
  }
}
