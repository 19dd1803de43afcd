public import PTViewCore
public import PTViewEdit
import PTViewPickle
public import PTViewValues

/// One tensor of a safetensors export: its header fields and where its bytes come from.
public struct ExportTensor: Sendable {
  /// How the tensor's bytes are produced.
  public enum Bytes: Sendable {
    /// A byte range of the input, already row-major and little-endian: copied by the kernel.
    case copy(offset: Int64, length: Int64)
    /// Gathered element by element: a view with strides or an offset, a big-endian storage,
    /// or values with torch's negative or conjugate bit set.
    case gather(StoredTensor, transform: ElementTransform)
    /// A byte range of the input converted to another floating dtype (`edit --cast` of a
    /// safetensors shard): read, converted and written through a bounded buffer.
    case convert(offset: Int64, length: Int64, Conversion)
  }

  /// The header entry (key, dtype code, header shape, byte count).
  public var layout: SafetensorsLayout.Tensor
  /// Where the bytes come from.
  public var bytes: Bytes
  /// Which input they come from (an index into the writer's inputs: a folder's shards).
  public var origin: Int

  /// Describes a tensor to write.
  public init(layout: SafetensorsLayout.Tensor, bytes: Bytes, origin: Int = 0) {
    self.layout = layout
    self.bytes = bytes
    self.origin = origin
  }
}

/// One input of an export: a file and the reader of its tensors' values.
public struct ExportInput: Sendable {
  /// Reads the tensors' values (gathered views).
  public var reader: TensorValues
  /// The file's bytes.
  public var source: any ByteSource
  /// An input.
  public init(reader: TensorValues, source: any ByteSource) {
    self.reader = reader
    self.source = source
  }
}

/// What is done to each element of a gathered tensor after it is read: swapped to
/// little-endian, then negated or conjugated as torch's lazy bits ask.
public struct ElementTransform: Sendable, Equatable {
  /// Bytes per element.
  public var width: Int
  /// Bytes per swapped unit (a complex number's parts are swapped separately); 0: no swap.
  public var swapUnit: Int
  /// How torch's negative bit is applied (none when the bit is not set).
  public var negate: Negation
  /// Whether the imaginary part's sign is flipped (torch's conjugate bit on a complex dtype).
  public var conjugate: Bool

  /// How an element is negated.
  public enum Negation: Sendable, Equatable {
    case none
    /// IEEE-style floats: flip the sign bit of each part of `unit` bytes.
    case signBit(unit: Int)
    /// Two's complement integers.
    case twosComplement
  }

  /// Whether elements are copied unchanged.
  public var isIdentity: Bool { swapUnit <= 1 && negate == .none && !conjugate }

  /// Applies the transform to `count` elements at `pointer` (little-endian on the way out).
  public func apply(_ pointer: UnsafeMutableRawPointer, count: Int) {
    if swapUnit > 1 {
      let units = count * width / swapUnit
      for u in 0..<units {
        let p = pointer + u * swapUnit
        var i = 0
        var j = swapUnit - 1
        while i < j {
          let a = p.load(fromByteOffset: i, as: UInt8.self)
          p.storeBytes(
            of: p.load(fromByteOffset: j, as: UInt8.self), toByteOffset: i, as: UInt8.self)
          p.storeBytes(of: a, toByteOffset: j, as: UInt8.self)
          i += 1
          j -= 1
        }
      }
    }
    switch negate {
    case .none: break
    case .signBit(let unit):
      for k in 0..<(count * width / unit) {
        let top = k * unit + unit - 1
        let b = pointer.load(fromByteOffset: top, as: UInt8.self)
        pointer.storeBytes(of: b ^ 0x80, toByteOffset: top, as: UInt8.self)
      }
    case .twosComplement:
      for e in 0..<count {
        // Invert every byte, then add one with carry, little-endian.
        var carry: UInt16 = 1
        for k in 0..<width {
          let at = e * width + k
          let sum = UInt16(~pointer.load(fromByteOffset: at, as: UInt8.self)) + carry
          pointer.storeBytes(of: UInt8(truncatingIfNeeded: sum), toByteOffset: at, as: UInt8.self)
          carry = sum >> 8
        }
      }
    }
    if conjugate {
      let half = width / 2
      for e in 0..<count {
        let top = e * width + half + half - 1
        let b = pointer.load(fromByteOffset: top, as: UInt8.self)
        pointer.storeBytes(of: b ^ 0x80, toByteOffset: top, as: UInt8.self)
      }
    }
  }
}

/// Why an export cannot be done: refused (exit 1: a dtype or layout safetensors cannot
/// hold, two paths with one key) or the input is unreadable (exit 2).
public struct ExportRefusal: Error, Sendable, CustomStringConvertible {
  /// One line.
  public var message: String
  /// True when the input is at fault (unreadable, exit 2) rather than the request.
  public var unreadable: Bool
  /// Creates a refusal.
  public init(_ message: String, unreadable: Bool = false) {
    self.message = message
    self.unreadable = unreadable
  }
  public var description: String { message }
}

/// Decides, for each tensor `ls` lists, how it goes into a safetensors file, and which
/// other values of the checkpoint are left out.
public enum ExportPlanner {
  /// A value that is not a tensor and is not written: its dotted key and Python type.
  public struct LeftOut: Sendable, Equatable {
    /// The dotted key.
    public var key: String
    /// What it is (`int`, `str`, `dict`, a class name).
    public var kind: String
  }

  /// The tensors to write (in `ls` order) and the values left out.
  public struct Selection: Sendable {
    /// Tensors in key order.
    public var tensors: [ExportTensor]
    /// Non-tensor values that are not written.
    public var leftOut: [LeftOut]

    /// A selection.
    public init(tensors: [ExportTensor], leftOut: [LeftOut]) {
      self.tensors = tensors
      self.leftOut = leftOut
    }
  }

  /// Plans the export of every tensor of `checkpoint` (read through `reader`).
  /// - Throws: `ExportRefusal` naming the key and the dtype or layout.
  public static func plan(_ checkpoint: Checkpoint, reader: TensorValues) throws(ExportRefusal)
    -> Selection
  {
    var tensors: [ExportTensor] = []
    var keys: Set<String> = []
    var skipped: [LeftOut] = []
    for entry in checkpoint.entries {
      let key = entry.key
      // Not in the state_dict torch would give: a module's non-persistent buffers and a
      // TorchScript module's constants.
      if !entry.inStateDict {
        skipped.append(LeftOut(key: key, kind: "non-persistent buffer"))
        continue
      }
      if checkpoint.format == .torchScript && entry.path.first == "CONSTANTS" {
        skipped.append(LeftOut(key: key, kind: "TorchScript constant"))
        continue
      }
      guard keys.insert(key).inserted else {
        throw ExportRefusal(
          "two values have the key \(key); safetensors keys must be unique")
      }
      tensors.append(try plan(entry.tensor, key: key, reader: reader))
    }
    return Selection(tensors: tensors, leftOut: skipped + leftOut(checkpoint))
  }

  static func plan(_ tensor: TensorInfo, key: String, reader: TensorValues) throws(ExportRefusal)
    -> ExportTensor
  {
    let name = tensor.dtype.name
    guard let code = SafetensorsReader.code(forTorchName: name) else {
      throw ExportRefusal("\(key): dtype \(name) has no safetensors equivalent")
    }
    if let layout = tensor.layout {
      throw ExportRefusal("\(key): a \(layout) tensor; safetensors holds only dense tensors")
    }
    if tensor.device == "meta" && tensor.storage == nil {
      throw ExportRefusal("\(key): a meta tensor has no values to write")
    }
    if code == "F4" && tensor.shape.isEmpty {
      throw ExportRefusal("\(key): a 0-dim float4_e2m1fn_x2 tensor has no safetensors shape")
    }
    // Dtypes ptview decodes no values of are located as bytes of the same width.
    var located = tensor
    if ValueEncoding(torchName: name) == nil, tensor.dtype.elementSize == 1 {
      located.dtype = DType.named("uint8") ?? tensor.dtype
    }
    let availability: ValueAvailability
    do { availability = try reader.locate(located) } catch {
      throw ExportRefusal(error.description, unreadable: true)
    }
    guard case .stored(let stored) = availability else {
      if case .none(let why) = availability { throw ExportRefusal("\(key): \(why)") }
      throw ExportRefusal("\(key): no values")
    }
    let width = stored.encoding.byteWidth
    var transform = ElementTransform(
      width: width, swapUnit: 0, negate: .none, conjugate: false)
    if stored.bigEndian {
      if case .complex(let part) = stored.encoding {
        transform.swapUnit = part.byteWidth
      } else {
        transform.swapUnit = width
      }
    }
    if stored.negated {
      switch stored.encoding {
      case .float(let f) where [.float64, .float32, .float16, .bfloat16].contains(f):
        transform.negate = .signBit(unit: width)
      case .complex(let f) where [.float64, .float32].contains(f):
        transform.negate = .signBit(unit: f.byteWidth)
      case .signed, .unsigned:
        transform.negate = .twosComplement
      default:
        throw ExportRefusal("\(key): torch's negative bit on \(name) is not written yet")
      }
    }
    if stored.conjugated, case .complex = stored.encoding { transform.conjugate = true }
    let count = stored.layout.count ?? 0
    let (byteCount, overflow) = count.multipliedReportingOverflow(by: Int64(width))
    if overflow {
      throw ExportRefusal("\(key): shape \(tensor.shape) has more bytes than a file can hold")
    }
    // An expanded view repeats its storage's values; written out it can be far bigger than
    // the file (a hostile one, petabytes). Past 16x its storage and 1 GiB it is refused.
    let storageBytes = stored.storageElements.multipliedReportingOverflow(by: Int64(width))
    if byteCount > max(1 << 30, storageBytes.overflow ? .max : 16 &* storageBytes.partialValue) {
      throw ExportRefusal(
        "\(key): a view of \(byteCount) bytes over a storage of \(storageBytes.partialValue) bytes; ptview writes at most 16x a storage (and 1 GiB) for one view"
      )
    }
    let header = SafetensorsLayout.Tensor(
      key: key, code: code, shape: SafetensorsLayout.headerShape(tensor.shape, code: code),
      byteCount: byteCount)
    let coalesced = stored.layout.coalesced()
    let contiguous =
      count == 0 || coalesced.shape.isEmpty
      || (coalesced.shape.count == 1 && coalesced.strides[0] == 1)
    if contiguous && transform.isIdentity {
      return ExportTensor(
        layout: header,
        bytes: .copy(
          offset: stored.dataOffset + stored.layout.offset * Int64(width), length: byteCount))
    }
    return ExportTensor(layout: header, bytes: .gather(stored, transform: transform))
  }

  /// Values below the root that are not tensors and hold none: dict entries and sequence
  /// items, with their dotted keys. Objects that hold tensors (modules) are not listed;
  /// at most 10,000 values are.
  static func leftOut(_ checkpoint: Checkpoint) -> [LeftOut] {
    guard let root = checkpoint.root else { return [] }
    let graph = checkpoint.graph
    var holders: Set<String> = []
    for entry in checkpoint.entries {
      // Longest prefix first: once one is known, every shorter one is too. (The full path
      // is a tensor, found in the table.)
      for n in stride(from: entry.path.count - 1, through: 0, by: -1) {
        guard holders.insert(entry.path.prefix(n).joined(separator: "\u{0}")).inserted else {
          break
        }
      }
    }
    var out: [LeftOut] = []
    var seen: Set<Int32> = []
    var work: [(ValueID, [String])] = [(root, [])]
    while let (id, path) = work.popLast(), out.count < 10_000 {
      if checkpoint.tensors[id] != nil { continue }
      let joined = path.joined(separator: "\u{0}")
      guard holders.contains(joined) else {
        out.append(LeftOut(key: path.joined(separator: "."), kind: kind(of: id, graph)))
        continue
      }
      guard seen.insert(id.index).inserted else { continue }
      var children: [(ValueID, [String])] = []
      if let items = graph.dictItems(id) {
        for item in items { children.append((item.value, path + [graph.keyText(item.key)])) }
      } else if let elements = graph.elements(id) {
        for (i, item) in elements.enumerated() { children.append((item, path + [String(i)])) }
      }
      work += children.reversed()
    }
    return out
  }

  private static func kind(of id: ValueID, _ graph: ValueGraph) -> String {
    if let callee = graph.calleeName(id) { return callee }
    return graph.kindName(id)
  }
}
