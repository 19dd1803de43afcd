import PTViewCore
import PTViewEdit
import PTViewFiles

#if canImport(Glibc)
  import Glibc
#endif

extension ExportPipeline {
  /// `export FOLDER -o OUT` to shards, written while the folder's files are planned: each
  /// output shard is written as soon as save_pretrained's split closes it, and the plans of
  /// the tensors in it are let go. Memory holds the input being planned, the tensors of the
  /// shard being filled (and the pickles of the inputs they are gathered through, when
  /// any are views), and a key and a shard number per tensor for the index; never the
  /// whole folder's plans.
  ///
  /// The split is the one `ShardPlan.split` makes over the whole folder (it only ever looks
  /// at the shard being filled). How many shards there are is known only at the end, and it
  /// is in every shard's name: unless the caller knows it (`shardCount`), shards are written
  /// under numbered names and renamed when the last is written. A torch shard's archive
  /// is named after its file, so torch shards need the count up front.
  public struct ShardWriter {
    let torch: Bool
    let limit: Int64
    let folder: String
    let shardCount: Int?
    let total: Int64
    let progress: @Sendable (Int64, Int64) -> Void
    var inputs: [ExportInput] = []
    var paths: [String] = []
    /// Inputs below this one hold byte ranges only (their gathers are written).
    var released = 0
    /// Every key planned so far, packed, with its input and (once written) its shard.
    var keys = KeyLedger()
    var current: [ExportTensor] = []
    /// The ledger positions of `current`'s tensors.
    var positions: [Int] = []
    var currentSize: Int64 = 0
    var written: [ExportReport.File] = []
    var done: Int64 = 0
    var report = ExportReport(
      format: "safetensors", files: [], tensors: 0, dataBytes: 0, leftOut: [], gathered: 0)

    /// A writer into the folder `folder` (made, empty, by the caller). `total`: the bytes
    /// the progress counts to (an estimate when the data is not known before planning).
    public init(
      torch: Bool, limit: Int64, folder: String, shardCount: Int?, total: Int64,
      progress: @escaping @Sendable (Int64, Int64) -> Void
    ) {
      self.torch = torch
      self.limit = limit
      self.folder = folder
      self.shardCount = torch ? shardCount : nil
      self.total = max(total, 1)
      self.progress = progress
      if torch { report.format = "pt" }
    }

    /// Plans one more input (its keys `keep` accepts) and writes the shards it closes.
    public mutating func add(_ input: FolderInput, keep: (String) -> Bool)
      throws(WriteFailure)
    {
      let origin = inputs.count
      let planned = try ExportPipeline.planTensors(input, keep: keep)
      inputs.append(planned.input)
      paths.append(input.path)
      report.leftOut += planned.leftOut
      for var tensor in planned.tensors {
        if let other = keys.add(tensor.layout.key, input: origin) {
          throw ExportPipeline.duplicateKey(tensor.layout.key, paths[other], input.path)
        }
        let position = keys.count - 1
        tensor.origin = origin
        let size = tensor.layout.byteCount
        // save_pretrained's split (`ShardPlan.split`), one tensor at a time.
        if size > limit {
          try write([tensor], at: [position])
          continue
        }
        if currentSize + size > limit {
          try write(current, at: positions)
          current = []
          positions = []
          currentSize = 0
        }
        current.append(tensor)
        positions.append(position)
        currentSize += size
      }
      release()
    }

    /// Writes the last shard, names the shards and writes the index; what was written.
    public mutating func finish() throws(WriteFailure) -> ExportReport {
      if !current.isEmpty || written.isEmpty { try write(current, at: positions) }
      current = []
      positions = []
      let count = written.count
      var names: [String] = []
      for n in 0..<count {
        let name =
          torch
          ? ExportPipeline.torchShardName(n, of: count) : ShardPlan.fileName(n, of: count)
        let path = folder + "/" + name
        if written[n].path != path {
          do { try FolderOutput.renameFile(written[n].path, to: path) } catch {
            throw WriteFailure(kind: .failed, message: error.message)
          }
          written[n].path = path
        }
        names.append(name)
      }
      report.files = written
      if count > 1 {
        // Streamed from the packed keys in byte order, as save_pretrained sorts them.
        let order = keys.sortedOrder()
        let path = folder + "/" + (torch ? torchIndexName : ShardPlan.indexName)
        var size: Int64 = 0
        do {
          try AtomicOutput.writeStreaming(to: path, mode: 0o644) { fd throws(WriteError) in
            try ShardPlan.streamIndexJSON(
              totalSize: report.dataBytes, count: order.count,
              entry: { (keys.key(Int(order[$0])), names[keys.shard(Int(order[$0]))]) }
            ) { piece throws(WriteError) in
              try AtomicOutput.writeChunk(piece, to: fd, destination: path)
              size += Int64(piece.count)
            }
          }
        } catch {
          throw WriteFailure(kind: .failed, message: error.message)
        }
        report.files.append(.init(path: path, size: size, tensors: 0))
      }
      progress(total, total)
      return report
    }

    /// Writes one shard under its name (or a numbered one until the count is known).
    private mutating func write(_ group: [ExportTensor], at positions: [Int])
      throws(WriteFailure)
    {
      let n = written.count
      let name: String
      if let shardCount, torch {
        name = ExportPipeline.torchShardName(n, of: shardCount)
      } else {
        name = ".shard-\(n)" + (torch ? ".bin" : ".safetensors")
      }
      let before = done
      let (total, progress) = (total, progress)
      let file = try ExportPipeline.writeGroup(
        group, torch: torch, readers: inputs, to: folder + "/" + name,
        mode: ExportPipeline.fileMode(inputs)
      ) { bytes in progress(min(total, before + bytes), total) }
      let bytes = group.reduce(Int64(0)) { $0 + $1.layout.byteCount }
      done += bytes
      progress(min(total, done), total)
      written.append(file)
      report.tensors += group.count
      report.dataBytes += bytes
      report.gathered += group.count { if case .gather = $0.bytes { true } else { false } }
      for position in positions { keys.setShard(position, n) }
    }

    /// Lets go of the pickles of inputs whose gathered tensors are all written.
    private mutating func release() {
      let needed = current.lazy.map(\.origin).min() ?? inputs.count
      while released < needed {
        let input = inputs[released]
        inputs[released] = ExportInput(
          reader: TensorValues(
            checkpoint: ExportPipeline.rangesOnly(input.reader.checkpoint), source: input.source),
          source: input.source)
        released += 1
      }
    }
  }
}

/// The keys of a folder export, packed: each key's UTF-8 bytes end to end, with its input and
/// its output shard. About 45 bytes and a hash a tensor, where a `String` pair costs twice
/// that: what the duplicate check and the index need, for every tensor of the folder.
struct KeyLedger {
  private var bytes: [UInt8] = []
  private var ends: [Int] = []
  private var inputs: [UInt32] = []
  private var shards: [UInt32] = []
  private var hashes: Set<Int> = []

  var count: Int { ends.count }

  /// Records `key` of input `input`; the input that already has it, if one does.
  mutating func add(_ key: String, input: Int) -> Int? {
    if !hashes.insert(key.hashValue).inserted {
      // Seen, or a hash shared by another key: the packed keys say which.
      let wanted = Array(key.utf8)
      for i in 0..<count where range(i).count == wanted.count {
        if bytes[range(i)].elementsEqual(wanted) { return Int(inputs[i]) }
      }
    }
    bytes += key.utf8
    ends.append(bytes.count)
    inputs.append(UInt32(truncatingIfNeeded: input))
    shards.append(0)
    return nil
  }

  private func range(_ i: Int) -> Range<Int> { (i == 0 ? 0 : ends[i - 1])..<ends[i] }

  mutating func setShard(_ i: Int, _ shard: Int) { shards[i] = UInt32(truncatingIfNeeded: shard) }

  func key(_ i: Int) -> String { String(decoding: bytes[range(i)], as: UTF8.self) }

  func shard(_ i: Int) -> Int { Int(shards[i]) }

  /// Positions in byte order of the keys (the order `ShardPlan.indexJSON` sorts by).
  func sortedOrder() -> [UInt32] {
    var order = (0..<count).map { UInt32(truncatingIfNeeded: $0) }
    bytes.withUnsafeBufferPointer { all in
      order.sort { a, b in
        let (x, y) = (range(Int(a)), range(Int(b)))
        let common = min(x.count, y.count)
        let cmp = memcmp(all.baseAddress! + x.lowerBound, all.baseAddress! + y.lowerBound, common)
        return cmp != 0 ? cmp < 0 : x.count < y.count
      }
    }
    return order
  }
}
