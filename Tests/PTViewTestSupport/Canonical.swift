import PTViewCore
import PTViewPickle

/// The canonical structure of a decoded pickle, in the JSON form that
/// `Scripts/make_pickle_corpus.py` writes from CPython's own unpickler: the differential tests
/// compare the two texts.
///
/// Rules (mirrored from the generator): mutable and call-made kinds get ids in depth-first
/// pre-order and later visits become refs; immutable kinds are written in full each time; set
/// items are sorted by their canonical text rendered against a snapshot of the id map.
public struct Canonical {
  private let graph: ValueGraph
  private var ids: [Int32: Int] = [:]

  /// Canonical JSON text (sorted keys, compact) of the value at `root`.
  public static func text(_ graph: ValueGraph, _ root: ValueID) -> String {
    var canon = Canonical(graph: graph)
    return canon.walk(root).text
  }

  private init(graph: ValueGraph) { self.graph = graph }

  private func hex<C: Collection<UInt8>>(_ bytes: C) -> String {
    let digits = Array("0123456789abcdef")
    var out = ""
    out.reserveCapacity(bytes.count * 2)
    for b in bytes {
      out.append(digits[Int(b >> 4)])
      out.append(digits[Int(b & 15)])
    }
    return out
  }

  private mutating func newID(_ id: ValueID) -> Int {
    let k = ids.count
    ids[id.index] = k
    return k
  }

  /// Set items in canonical order, equal elements once (a set holds each value once; the
  /// stream may add one twice).
  private mutating func sortedItems(_ items: [ValueID]) -> [ValueID] {
    var seen: Set<String> = []
    let keyed = items.compactMap { item -> (String, ValueID)? in
      var snapshot = self
      let text = snapshot.walk(item).text
      return seen.insert(text).inserted ? (text, item) : nil
    }
    return keyed.sorted { $0.0.unicodeScalars.lexicographicallyPrecedes($1.0.unicodeScalars) }.map(
      \.1)
  }

  private mutating func walk(_ id: ValueID) -> CanonNode {
    switch graph[id] {
    case .none: return .object([("t", .string("none"))])
    case .bool(let b): return .object([("t", .string("bool")), ("v", .bool(b))])
    case .int(let v): return .object([("t", .string("int")), ("v", .string(String(v)))])
    case .bigInt(let s):
      return .object([
        ("t", .string("int")),
        ("v", .string(PyLong.decimal(graph.bytes(s), maxDigits: 100_000) ?? "?")),
      ])
    case .float(let v):
      return .object([("t", .string("float")), ("bits", .string(hex(bigEndian(v.bitPattern))))])
    case .string(let s):
      return .object([("t", .string("str")), ("hex", .string(hex(graph.bytes(s))))])
    case .legacyString(let s):
      // The generator unpickles with encoding='latin1': Python 2 strings become str.
      var utf8: [UInt8] = []
      for b in graph.bytes(s) { UTF8Writer.append(UInt32(b), to: &utf8) }
      return .object([("t", .string("str")), ("hex", .string(hex(utf8)))])
    case .bytes(let s):
      return .object([("t", .string("bytes")), ("hex", .string(hex(graph.bytes(s))))])
    case .tuple(let s):
      return .object([("t", .string("tuple")), ("items", .array(graph.ids(s).map { walk($0) }))])
    case .frozenset(let s):
      let items = sortedItems(Array(graph.ids(s)))
      return .object([("t", .string("frozenset")), ("items", .array(items.map { walk($0) }))])
    case .global:
      guard case .global(let module, let nameCount) = graph[id] else { return .null }
      let (m, n) = graph.globalName(module: module, nameCount: nameCount)
      return .object([("t", .string("global")), ("module", .string(m)), ("name", .string(n))])
    case .ext(let code):
      return .object([("t", .string("ext")), ("code", .string(String(code)))])
    default:
      break
    }
    if let k = ids[id.index] { return .object([("t", .string("ref")), ("id", .int(k))]) }
    switch graph[id] {
    case .bytearray(let s):
      let k = newID(id)
      return .object([
        ("t", .string("bytearray")), ("id", .int(k)), ("hex", .string(hex(graph.bytes(s)))),
      ])
    case .list(let c):
      let k = newID(id)
      return .object([
        ("t", .string("list")), ("id", .int(k)),
        ("items", .array(graph.container(c).map { walk($0) })),
      ])
    case .dict(let c):
      let k = newID(id)
      let items = graph.container(c)
      var pairs: [CanonNode] = []
      var i = 0
      while i + 1 < items.count {
        let key = walk(items[i])
        pairs.append(.array([key, walk(items[i + 1])]))
        i += 2
      }
      return .object([("t", .string("dict")), ("id", .int(k)), ("items", .array(pairs))])
    case .set(let c):
      let k = newID(id)
      let items = sortedItems(graph.container(c))
      return .object([
        ("t", .string("set")), ("id", .int(k)), ("items", .array(items.map { walk($0) })),
      ])
    case .persistentID(let pid):
      let k = newID(id)
      return .object([("t", .string("persid")), ("id", .int(k)), ("pid", walk(pid))])
    case .object(let index):
      let k = newID(id)
      var fields: [(String, CanonNode)]
      switch graph.construction(index) {
      case .reduce(let callable, let args):
        fields = [
          ("t", .string("reduce")), ("id", .int(k)), ("callable", walk(callable)),
          ("args", walk(args)),
        ]
      case .newobj(let cls, let args):
        fields = [
          ("t", .string("newobj")), ("id", .int(k)), ("cls", walk(cls)), ("args", walk(args)),
        ]
      case .newobjEx(let cls, let args, let kwargs):
        fields = [
          ("t", .string("newobj_ex")), ("id", .int(k)), ("cls", walk(cls)), ("args", walk(args)),
          ("kwargs", walk(kwargs)),
        ]
      }
      var mutations: [CanonNode] = []
      for m in graph.mutations(of: id) {
        switch m {
        case .build(let s):
          mutations.append(.object([("op", .string("build")), ("state", walk(s))]))
        case .setItem(let key, let v):
          let kc = walk(key)
          mutations.append(.object([("op", .string("setitem")), ("key", kc), ("value", walk(v))]))
        case .append(let v):
          mutations.append(.object([("op", .string("append")), ("value", walk(v))]))
        case .add(let v): mutations.append(.object([("op", .string("add")), ("value", walk(v))]))
        }
      }
      fields.append(("mutations", .array(mutations)))
      return .object(fields)
    default:
      return .null
    }
  }

  private func bigEndian(_ bits: UInt64) -> [UInt8] {
    (0..<8).map { UInt8((bits >> UInt64(56 - 8 * $0)) & 0xFF) }
  }

  /// Re-renders JSON text (the generator's files) with sorted keys, compactly.
  public static func normalize(_ json: String) throws -> String {
    CanonNode(try JSONParser.parse(Array(json.utf8), maxDepth: 100_000)).text
  }
}

/// A JSON value that renders exactly like Python's `json.dumps(sort_keys=True,
/// separators=(",", ":"))`.
public indirect enum CanonNode {
  case null
  case bool(Bool)
  case int(Int)
  case number(String)
  case string(String)
  case array([CanonNode])
  case object([(String, CanonNode)])

  init(_ value: JSONValue) {
    switch value {
    case .null: self = .null
    case .bool(let b): self = .bool(b)
    case .number(_, let text): self = .number(text)
    case .string(let s): self = .string(s)
    case .array(let a): self = .array(a.map(CanonNode.init))
    case .object(let m): self = .object(m.map { ($0.0, CanonNode($0.1)) })
    }
  }

  /// The rendered text.
  public var text: String {
    var out = ""
    render(into: &out)
    return out
  }

  private func render(into out: inout String) {
    switch self {
    case .null: out += "null"
    case .bool(let b): out += b ? "true" : "false"
    case .int(let i): out += String(i)
    case .number(let t): out += t
    case .string(let s): out += Self.quote(s)
    case .array(let items):
      out += "["
      for (i, item) in items.enumerated() {
        if i > 0 { out += "," }
        item.render(into: &out)
      }
      out += "]"
    case .object(let members):
      out += "{"
      let sorted = members.sorted { $0.0.utf16.lexicographicallyPrecedes($1.0.utf16) }
      for (i, (k, v)) in sorted.enumerated() {
        if i > 0 { out += "," }
        out += Self.quote(k) + ":"
        v.render(into: &out)
      }
      out += "}"
    }
  }

  private static func quote(_ s: String) -> String {
    var out = "\""
    for unit in s.utf16 {
      switch unit {
      case 0x22: out += "\\\""
      case 0x5C: out += "\\\\"
      case 0x0A: out += "\\n"
      case 0x0D: out += "\\r"
      case 0x09: out += "\\t"
      case 0x08: out += "\\b"
      case 0x0C: out += "\\f"
      case 0x20..<0x7F: out.unicodeScalars.append(UnicodeScalar(UInt8(unit)))
      default: out += "\\u" + String(unit, radix: 16).leftPadded(4)
      }
    }
    return out + "\""
  }
}

extension String {
  fileprivate func leftPadded(_ width: Int) -> String {
    count >= width ? self : String(repeating: "0", count: width - count) + self
  }
}
