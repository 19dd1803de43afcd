import ArgumentParser
import PTViewCore
import PTViewFiles
import PTViewPickle
import PTViewValues

/// `ptview stats`: per-tensor value statistics, read from the storage records.
struct Stats: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "stats",
    abstract: "Count NaN/Inf/zeros and compute min/max/mean/std of every tensor's values.",
    usage: "ptview stats <file> [--only <only> ...] [--json] [<options>]",
    discussion: """
      Reads each tensor's values from its storage record (streamed, a few hundred KB at a \
      time, on every core; nothing is executed) and prints, per tensor: count (elements), \
      nan, posinf, neginf, zeros (0 for dtypes that cannot hold NaN or Inf), and min, max, \
      mean and std (sample standard deviation, torch's default) of the finite values, \
      computed in float64 as `t.to(torch.float64)` would. Quantized tensors are dequantized \
      as torch's dequantize() does; views, expanded and transposed tensors are read as \
      torch.load returns them; big-endian files are swapped.

      Complex tensors report counts only (nan: a NaN part; posinf/neginf: an infinite part; \
      zeros: both parts 0). Sparse COO and CSR tensors count as t.to_dense() does (the stored \
      values, and zeros for the rest) when no index repeats, nested tensors as their \
      components; packed quint4x2/quint2x4 tensors as dequantized. Tensors without values \
      (meta tensors, sparse tensors with unsorted or repeated indices, dtypes torch computes \
      nothing with) report their \
      count and null for everything else; the table says why.

      A torch.distributed.checkpoint folder is read as the file dcp_to_torch_save writes: \
      each tensor assembled from its chunks (read by byte range, never whole), keys nested \
      as torch nests them.

      --json prints one array, one object per tensor path (as `ls --json`), with the fields \
      key, count, nan, posinf, neginf, zeros, min, max, mean, std; absent statistics are null \
      (no finite value: min, max, mean, std; fewer than two: std).

      Examples:
        ptview stats model.pt
        ptview stats model.pt --only 'encoder.*.weight'
        ptview stats ./sharded-model/          # every shard's tensors
        ptview stats ./dcp-step-100/           # a DCP folder, chunks assembled
        ptview stats model.pt --json | jq '.[] | select(.nan > 0) | .key'

      Exit codes: 0 done (also when tensors hold NaN or Inf); 2 the input is unreadable (a \
      storage record missing, truncated or too small for its views: one line naming the \
      record and byte offset); 64 usage errors.
      """)

  @ArgumentParser.Argument(help: "The checkpoint file or folder.", completion: .file())
  var file: String
  @Option(help: "Only tensors whose key matches GLOB (`*` crosses dots; repeatable).")
  var only: [String] = []
  @Flag(help: "Print JSON for scripts.") var json = false
  @Flag(help: "Never show a progress bar.") var noProgress = false

  @OptionGroup var remote: RemoteOptions

  func run() throws {
    // One part per file: a folder's files are read one after the other, each through its own
    // source (its storages' offsets are its own), into one table.
    var parts: [(checkpoint: Checkpoint, source: any ByteSource, path: String)] = []
    if DistributedLoading.isDistributed(file) {
      let (checkpoint, source) = try DistributedLoading.values(file)
      parts = [(checkpoint, source, file)]
    } else {
      try openParts(&parts)
    }
    var rows: [Row] = []
    var reasons: [String: String] = [:]
    var work: [Job] = []
    var slots = 0
    for part in parts {
      let entries = part.checkpoint.entries.filter { entry in
        only.isEmpty || only.contains { Glob.matches($0, entry.key) }
      }
      var job = Job(
        reader: TensorValues(checkpoint: part.checkpoint, source: part.source), path: part.path)
      // Each tensor once, however many paths reach it.
      var byNode: [Int32: Int] = [:]
      for entry in entries {
        // A nested tensor has no single shape: count the elements of its buffer.
        let count =
          entry.tensor.layout == "nested"
          ? entry.tensor.components.first?.numel ?? 0 : entry.tensor.numel
        var row = Row(key: entry.key, dtype: entry.tensor.dtype.name, count: count)
        if let node = entry.tensor.node, let slot = byNode[node.index] {
          row.slot = slots + slot
        } else {
          let source: Result<StatisticsSource, TensorValues.NoValues>
          do { source = try job.reader.statisticsSource(entry.tensor) } catch {
            Diagnostics.fail(part.path, error)
          }
          switch source {
          case .success(let found):
            row.slot = slots + job.stored.count
            if let node = entry.tensor.node { byNode[node.index] = job.stored.count }
            job.stored.append(found.stored)
            job.implicitZeros.append(found.implicitZeros)
            if found.packed != nil { job.packed[job.stored.count - 1] = found }
          case .failure(let reason):
            reasons[entry.key] = reason.description
          }
        }
        rows.append(row)
      }
      work.append(job)
      slots += job.stored.count
    }
    func bytes(_ stored: [StoredTensor]) -> Int64 {
      stored.reduce(Int64(0)) { sum, tensor in
        sum.addingSaturated(
          tensor.layout.orderFree().layout.count.map { $0 * Int64(tensor.encoding.byteWidth) }
            ?? 0)
      }
    }
    let total = work.reduce(Int64(0)) { $0.addingSaturated(bytes($1.stored)) }
    let bar = ProgressBar(
      enabled: !noProgress && !json && Diagnostics.isTerminal(2), label: "reading")
    var statistics: [ValueStatistics] = []
    var before: Int64 = 0
    for job in work {
      let offset = before
      var part: [ValueStatistics]
      do {
        part = try job.reader.statistics(of: job.stored) { done in
          // Reads that span gaps may pass the estimate; a bar never passes 100%.
          bar.update(min(offset + done, total), total)
        }
        for (slot, source) in job.packed {
          part[slot] = try job.reader.packedStatistics(source)
        }
      } catch {
        bar.finish()
        Diagnostics.fail(job.path, error)
      }
      for (slot, zeros) in job.implicitZeros.enumerated() where zeros > 0 {
        part[slot].addImplicitZeros(zeros, complex: job.stored[slot].encoding.isComplex)
      }
      statistics += part
      before = before.addingSaturated(bytes(job.stored))
    }
    bar.finish()
    if json {
      Diagnostics.out(StatsReport.json(rows, statistics))
    } else {
      Diagnostics.out(StatsReport.table(rows, statistics, reasons: reasons))
    }
    Diagnostics.finish()
  }

  /// The parts of a file or a folder (one per file).
  func openParts(_ parts: inout [(checkpoint: Checkpoint, source: any ByteSource, path: String)])
    throws
  {
    switch try Loading.openFileOrFolder(file) {
    case .file(let checkpoint, let source): parts = [(checkpoint, source, file)]
    case .folder(let folder):
      FolderNotes.warn(folder)
      for (member, checkpoint) in folder.checkpoint.readMembers {
        guard let source = folder.sources[member.file.name] else { continue }
        parts.append((checkpoint, source, folder.path(of: member.file.name)))
      }
    }
  }

  /// The tensors of one file, read through its own source.
  struct Job {
    var reader: TensorValues
    var path: String
    var stored: [StoredTensor] = []
    /// A sparse tensor's unspecified elements, per slot: zeros to add to its statistics.
    var implicitZeros: [Int64] = []
    /// quint4x2/quint2x4, per slot: their bytes are unpacked apart from the others.
    var packed: [Int: StatisticsSource] = [:]
  }

  /// One tensor path and where its statistics are.
  struct Row {
    var key: String
    var dtype: String
    var count: Int64
    /// Index into the statistics; nil when the tensor has no values.
    var slot: Int?
  }
}

/// The stats output: JSON for scripts, an aligned table for people.
enum StatsReport {
  static func json(_ rows: [Stats.Row], _ statistics: [ValueStatistics]) -> String {
    var out = "["
    for (i, row) in rows.enumerated() {
      if i > 0 { out += "," }
      out += "\n{\"key\":" + JSONWriter.quoted(row.key)
      guard let slot = row.slot else {
        out += ",\"count\":\(row.count),\"nan\":null,\"posinf\":null,\"neginf\":null"
        out += ",\"zeros\":null,\"min\":null,\"max\":null,\"mean\":null,\"std\":null}"
        continue
      }
      let s = statistics[slot]
      out += ",\"count\":\(s.count),\"nan\":\(s.nan),\"posinf\":\(s.posinf)"
      out += ",\"neginf\":\(s.neginf),\"zeros\":\(s.zeros)"
      out += ",\"min\":" + number(s.min) + ",\"max\":" + number(s.max)
      out += ",\"mean\":" + number(s.mean) + ",\"std\":" + number(s.std) + "}"
    }
    return out + (rows.isEmpty ? "]\n" : "\n]\n")
  }

  /// A JSON number (shortest text that reads back as the same float64), or null. An
  /// infinite statistic (a variance past float64's range, as torch's is too) is written
  /// `1e999` / `-1e999`: plain JSON syntax that every float64 parser reads as infinity.
  static func number(_ value: Double?) -> String {
    guard let value, !value.isNaN else { return "null" }
    if value.isInfinite { return value > 0 ? "1e999" : "-1e999" }
    return value.description
  }

  static func table(
    _ rows: [Stats.Row], _ statistics: [ValueStatistics], reasons: [String: String]
  ) -> String {
    let header = [
      "", "KEY", "DTYPE", "COUNT", "NAN", "+INF", "-INF", "ZEROS", "MIN", "MAX", "MEAN", "STD",
    ]
    var table: [[String]] = [header]
    var notes: [String] = []
    var flagged: [String] = []
    for row in rows {
      guard let slot = row.slot else {
        table.append(["", row.key, row.dtype, String(row.count), "", "", "", "", "", "", "", ""])
        notes.append("\(row.key): \(reasons[row.key] ?? "no values")")
        continue
      }
      let s = statistics[slot]
      let bad = s.nan > 0 || s.posinf > 0 || s.neginf > 0
      if bad { flagged.append(row.key) }
      table.append([
        bad ? "!" : "", row.key, row.dtype, String(s.count), String(s.nan), String(s.posinf),
        String(s.neginf), String(s.zeros), short(s.min), short(s.max), short(s.mean), short(s.std),
      ])
    }
    var widths = [Int](repeating: 0, count: header.count)
    for line in table {
      for (i, cell) in line.enumerated() { widths[i] = max(widths[i], cell.count) }
    }
    var out = ""
    for line in table {
      var text = ""
      for (i, cell) in line.enumerated() {
        let pad = String(repeating: " ", count: widths[i] - cell.count)
        // Text columns left-aligned, numbers right-aligned.
        text += i <= 2 ? cell + pad : pad + cell
        if i < line.count - 1 { text += "  " }
      }
      while text.hasSuffix(" ") { text.removeLast() }
      out += text + "\n"
    }
    for note in notes { out += "  \(note)\n" }
    let counted = rows.filter { $0.slot != nil }.count
    if flagged.isEmpty {
      out += "\(counted) tensor\(counted == 1 ? "" : "s") read: no NaN or Inf\n"
    } else {
      out +=
        "! \(flagged.count) of \(counted) tensor\(counted == 1 ? "" : "s") hold NaN or Inf: "
        + flagged.prefix(10).joined(separator: ", ") + (flagged.count > 10 ? ", ..." : "") + "\n"
    }
    return out
  }

  /// About 6 significant digits, fixed or scientific as fits (the explorer's values pane
  /// writes them the same way).
  static func short(_ value: Double?) -> String { Format.statistic(value) }
}
