public import PTViewCore
import PTViewEdit
import PTViewFiles

/// A safetensors shard rewritten by key edits and casts (`edit FOLDER` on safetensors
/// shards): the tensors that stay, under their new keys, floating ones converted to the cast
/// dtype, the others copied by the kernel; the header's metadata kept. Written like every
/// export (temporary file, sync, rename) and read back.
public enum SafetensorsRewrite {
  /// What one rewrite did.
  public struct Outcome: Sendable {
    /// Tensors written.
    public var tensors: Int
    /// Tensors converted to the cast dtype.
    public var cast: Int
    /// The file's size.
    public var size: Int64
    /// Bytes of tensor data written.
    public var dataBytes: Int64
  }

  /// Rewrites the safetensors file `inputPath` (`checkpoint`, read through `source`) to
  /// `outputPath`:
  /// each tensor whose key `outputKey` maps goes in under the new key (`nil`: left out),
  /// converted to `cast` when it is floating and of another dtype.
  public static func write(
    checkpoint: Checkpoint, source: any ByteSource, inputPath: String, outputPath: String,
    outputKey: (String) -> String?, cast: DType?,
    progress: @escaping @Sendable (Int64, Int64) -> Void
  ) throws(WriteFailure) -> Outcome {
    let header: SafetensorsReader.Header
    do { header = try SafetensorsReader.header(source) } catch {
      throw WriteFailure(kind: .unreadable, message: "\(inputPath): \(error.description)")
    }
    var tensors: [ExportTensor] = []
    var converted = 0
    // Data order: save_file's layout, and reading in order.
    let entries = header.entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
    for entry in entries {
      guard let key = outputKey(entry.name) else { continue }
      let offset = header.dataStart + entry.begin
      let length = entry.end - entry.begin
      if let (cast, code) = SafetensorsEditPlan.castTarget(entry.dtype, to: cast),
        let conversion = Conversion(from: entry.dtype, to: cast, bigEndian: false)
      {
        let elements = length / Int64(max(1, entry.dtype.elementSize))
        tensors.append(
          ExportTensor(
            layout: .init(
              key: key, code: code, shape: entry.shape,
              byteCount: elements * Int64(cast.elementSize)),
            bytes: .convert(offset: offset, length: length, conversion)))
        converted += 1
      } else {
        tensors.append(
          ExportTensor(
            layout: .init(key: key, code: entry.code, shape: entry.shape, byteCount: length),
            bytes: .copy(offset: offset, length: length)))
      }
    }
    var metadata = header.metadata
    if !metadata.contains(where: { $0.0 == "format" }) { metadata.insert(("format", "pt"), at: 0) }
    let ordered = ExportPipeline.order(tensors)
    let bytes = SafetensorsLayout.header(ordered.map(\.layout), metadata: metadata)
    let reader = TensorValues(checkpoint: checkpoint, source: source)
    do {
      try ExportWriter.write(
        header: bytes, tensors: ordered, reader: reader, input: source, to: outputPath,
        mode: ((source as? FileSource)?.mode ?? 0o644) & 0o666, progress: progress)
    } catch {
      throw WriteFailure(kind: .failed, message: error.message)
    }
    let size = try ExportPipeline.verify(
      outputPath, header: bytes, tensors: ordered, input: source)
    return Outcome(
      tensors: ordered.count, cast: converted, size: size,
      dataBytes: ordered.reduce(0) { $0 + $1.layout.byteCount })
  }
}
