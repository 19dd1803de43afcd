import PTViewCore
import PTViewPickle

/// The bytes of one pickle of the file, handed over by the shell (the explorer reads nothing
/// itself): `base` is the offset of `bytes[0]` in the numbering the graph's offsets use (the
/// file for stored records and legacy files, the record for inflated ones).
public struct PickleBytes: Sendable {
  public var base: Int
  public var bytes: [UInt8]
  /// The offset of `bytes[0]` as `ptview dis` (and pickletools) number it: 0 for a record of
  /// an archive, the file offset for a legacy file's pickles.
  public var listingBase: Int

  public init(base: Int, bytes: [UInt8], listingBase: Int) {
    self.base = base
    self.bytes = bytes
    self.listingBase = listingBase
  }

  /// The offset `ptview dis` prints for a graph offset inside these bytes.
  public func listingOffset(_ graphOffset: Int) -> Int { graphOffset - base + listingBase }
}

/// Reads the first bytes of a storage record for the opcode pane's hex view: the shell does
/// the reading, the explorer only asks, for the focused tensor only.
public protocol StorageHeadReader: Sendable {
  /// Up to 32 bytes from the start of `record` (nil when they cannot be read cheaply).
  func head(of record: String) -> [UInt8]?
}

/// What the opcode pane shows for a node: the lines of `ptview dis` (pickletools' text) around
/// the opcode that made the node, and which of them are the node's own.
struct OpcodeWindow: Hashable, Sendable {
  /// The node.
  var node: ValueID
  /// The pickle it comes from (`data.pkl`).
  var section: String
  /// Listing lines, exactly as `ptview dis` prints them.
  var lines: [String]
  /// Indices of the node's own lines: the opcode that made it, and its memo store.
  var own: Set<Int>
  /// Why there is no listing, when there is none.
  var note: String?
  /// The first bytes of the tensor's storage record, as hex lines (tensors only).
  var hex: [String] = []

  /// Lines kept above the node's opcode.
  static let before = 4

  /// The window for `node`, `height` lines tall. The listing is made from the start of the
  /// pickle (MARK indentation and memo checks depend on everything before) and stops as soon
  /// as the window is full.
  static func make(
    node: ValueID, checkpoint: Checkpoint, pickles: [String: PickleBytes], height: Int
  ) -> OpcodeWindow {
    let graph = checkpoint.graph
    let i = Int(node.index)
    guard i >= 0, i < graph.count,
      let section = checkpoint.pickles.first(where: { $0.nodes.contains(i) })
    else {
      return OpcodeWindow(node: node, section: "", lines: [], own: [], note: "not from a pickle")
    }
    guard let source = pickles[section.name] else {
      return OpcodeWindow(
        node: node, section: section.name, lines: [], own: [],
        note: "the bytes of \(section.name) are not at hand (a compressed record)")
    }
    let target = source.listingOffset(graph.offset(of: node))
    var kept: [String] = []
    var offsets: [Int] = []
    var reached = false
    var afterTarget = 0
    let limit = max(height, before + 1)
    _ = Disassembler.disassembleWhile(source.bytes, base: source.listingBase, from: 0) { line in
      let offset = Self.offset(of: line)
      if !reached, let offset, offset >= target { reached = true }
      kept.append(line)
      offsets.append(offset ?? -1)
      if !reached {
        if kept.count > before {
          kept.removeFirst()
          offsets.removeFirst()
        }
        return true
      }
      afterTarget += 1
      return kept.count < limit
    }
    var own: Set<Int> = []
    if let at = offsets.firstIndex(of: target) {
      own.insert(at)
      // The memo store right after it belongs to the node too.
      if at + 1 < kept.count, Self.isMemoStore(kept[at + 1]) { own.insert(at + 1) }
    }
    return OpcodeWindow(node: node, section: section.name, lines: kept, own: own, note: nil)
  }

  /// The offset a listing line starts with (`   42: ...`), nil for the closing line.
  static func offset(of line: String) -> Int? {
    var value = 0
    var digits = 0
    for byte in line.utf8 {
      if byte == 0x20 && digits == 0 { continue }
      if byte >= 0x30 && byte <= 0x39 {
        value = value * 10 + Int(byte - 0x30)
        digits += 1
        continue
      }
      return byte == 0x3A && digits > 0 ? value : nil
    }
    return nil
  }

  static func isMemoStore(_ line: String) -> Bool {
    line.contains(" BINPUT ") || line.contains(" LONG_BINPUT ") || line.contains(" PUT ")
      || line.hasSuffix(" MEMOIZE") || line.contains(" MEMOIZE ")
  }

  static func hex(_ value: Int, _ width: Int) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
  }

  /// Hex lines of `bytes` (16 a line, offsets from 0), like `xxd`.
  static func hexLines(_ bytes: [UInt8]) -> [String] {
    var out: [String] = []
    var start = 0
    while start < bytes.count {
      let chunk = bytes[start..<min(start + 16, bytes.count)]
      var line = hex(start, 8) + ": "
      line += chunk.map { hex(Int($0), 2) }.joined(separator: " ")
      line += String(repeating: " ", count: (16 - chunk.count) * 3) + "  "
      line += String(chunk.map { $0 >= 0x20 && $0 < 0x7F ? Character(UnicodeScalar($0)) : "." })
      out.append(line)
      start += 16
    }
    return out
  }
}
