// libFuzzer entry point for the pickle VM, the container parsers, the edit planner and the
// rewriter, the safety scan and the load doctor, cat's printer, diff's value comparison, the
// export planner, the safetensors reader and the DCP `.metadata` reader. Built by Fuzz/run.sh with
// `swiftc -sanitize=fuzzer,address`; every input must decode or fail with an error value,
// never trap, hang or exhaust memory.
import PTViewCore
import PTViewEdit
import PTViewFiles
import PTViewJudge
import PTViewPickle

/// Edit requests every decodable checkpoint is planned and rewritten with: each either
/// plans and rewrites, or is refused with an error value.
let operationSets: [[EditOperation]] = [
  [.moveDevices(DeviceRules(defaultTarget: "cpu"), only: .all)],
  [.stateDict, .cast(DType.named("bfloat16")!)],
  [.stripPrefix("auto"), .drop("*.weight"), .rename(KeyPattern(old: "*", new: "x.*"))],
  [.extract("0"), .keep("*a*")],
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Array(UnsafeBufferPointer(start: data, count: size))

  // The VM, pickle after pickle, as the legacy format stacks them.
  var machine = Machine()
  var position = 0
  for _ in 0..<5 {
    guard position < bytes.count, let outcome = try? machine.load(bytes, from: position) else {
      break
    }
    // What decodes must re-encode (or refuse cleanly) and print.
    var writer = PickleWriter(graph: machine.graph)
    if let encoded = try? writer.write(outcome.root) {
      var again = Machine()
      _ = try? again.load(encoded)
    }
    var printer = TreePrinter(graph: machine.graph, tensors: [:])
    printer.maxDepth = 64
    _ = printer.render(outcome.root)
    position = outcome.end
  }
  _ = Disassembler.listing(bytes)

  // Whole-file readers: zip, legacy, safetensors, bare pickles.
  var reader = CheckpointReader()
  reader.strict = false
  if let checkpoint = try? reader.read(MemorySource(bytes)) {
    _ = ListReport.json(checkpoint.entries)
    _ = InfoReport(checkpoint).text
    fuzzValueReaders(checkpoint, bytes)
    if checkpoint.format == .zip || checkpoint.format == .legacy
      || checkpoint.format == .torchScript
    {
      for operations in operationSets {
        guard let plan = try? EditPlanner.plan(checkpoint, operations) else { continue }
        _ = try? CheckpointRewriter(checkpoint: checkpoint, source: MemorySource(bytes)).rewrite(
          plan.edits, outputPath: "out.pt")
      }
    }
  }
  fuzzSafetensors(bytes)
  // A DCP `.metadata`: every byte range checked against files of these sizes, then the
  // reports that walk the result (listing, info, the tree torch would rebuild).
  let fileSizes: [String: Int64] = [
    "__0_0.distcp": 4096, "__1_0.distcp": 1 << 20, "__0_1.distcp": 0,
  ]
  if let metadata = try? DistributedMetadataReader.read(bytes, fileSizes: fileSizes) {
    _ = DistributedReport.json(metadata)
    _ = DistributedReport.table(metadata)
    _ = DistributedReport.infoText(metadata)
    _ = DistributedReport.tree(metadata, maxDepth: nil)
    _ = metadata.files
  }
  // remap's patch of the ranges: every integer moved far (changing its width), the
  // result read again; hostile pickles give errors, never a crash.
  if let entries = try? DistributedMetadataPatch.entries(bytes) {
    var values: [Int: Int64] = [:]
    for entry in entries {
      values[entry.offsetAt] = entry.storage.offset &+ 70_000
      values[entry.lengthAt] = entry.storage.length &* 3
    }
    if let patched = try? DistributedMetadataPatch.patch(bytes, values) {
      _ = try? DistributedMetadataPatch.entries(patched)
    }
  }
  // The safety scan and the load doctor read the same hostile bytes.
  _ = SafetyScanner().scan(MemorySource(bytes), path: "fuzz.pt")
  _ = LoadDoctor().diagnose(MemorySource(bytes), path: "fuzz.pt")
  return 0
}

/// Tensors the value readers below are given: a hostile file may claim any shape, and reading
/// 10^12 legitimate elements (an expanded tensor over one stored element) is slow, not wrong.
let fuzzElementLimit: Int64 = 1 << 16

/// `cat`, `diff` and `export` over a decoded checkpoint, their values read from the same
/// hostile bytes: the printer (every layout it accepts, summaries included), the streamed
/// value comparison against a copy whose bytes differ, and the export planner.
func fuzzValueReaders(_ checkpoint: Checkpoint, _ bytes: [UInt8]) {
  let reader = TensorValues(checkpoint: checkpoint, source: MemorySource(bytes))
  let small = checkpoint.entries.filter { entry in
    var count: Int64 = 1
    for size in entry.tensor.shape {
      guard size >= 0 else { return false }
      let (product, overflow) = count.multipliedReportingOverflow(by: size)
      if overflow || product > fuzzElementLimit { return false }
      count = product
    }
    return true
  }
  for entry in small.prefix(64) { _ = try? reader.text(of: entry.tensor) }
  // The same tensors read from bytes that differ (every byte's low bit flipped in the second
  // half), so comparisons find changes, NaNs and differing bit patterns.
  var changed = bytes
  for index in (changed.count / 2)..<changed.count { changed[index] ^= 1 }
  let other = TensorValues(checkpoint: checkpoint, source: MemorySource(changed))
  var report = DiffReport(a: Array(small.prefix(64)), b: Array(small.prefix(64)))
  var diff = ValueDiff(a: reader, b: other)
  diff.workers = 1
  _ = try? diff.fill(&report)
  _ = try? ExportPlanner.plan(checkpoint, reader: reader)
}

/// The safetensors header parser and reader on their own, whatever the first bytes say.
func fuzzSafetensors(_ bytes: [UInt8]) {
  _ = try? SafetensorsReader.header(MemorySource(bytes))
  _ = try? SafetensorsReader.read(MemorySource(bytes))
}
