public import PTViewPickle

/// What ptview's VM does with the bytes of one pickle, in a form a differential test can set
/// beside CPython's unpickler: every import (`find_class`), every call or construction, every
/// extension code and persistent id, in stream order, and where decoding stopped.
/// `ptview scan --vm-trace` prints it (docs/safety.md).
public struct PickleTrace: Sendable {
  /// `["g", module, name]`, `["c"]` (a call), `["n"]` (`cls.__new__`), `["e", code]`, `["p"]`.
  public var events: [[String]] = []
  /// Index just past STOP when the pickle decoded.
  public var end: Int?
  /// Offset of the opcode that failed, when it did not.
  public var errorOffset: Int?
  public var error: String?

  /// Decodes the pickle at the start of `bytes` as `pickle.load(file)` reads it (frames that
  /// lie about their length are read the way a file reader reads them; see EffectiveStream).
  public init(_ bytes: [UInt8], limits: Limits = .default) {
    var machine = Machine(limits: limits)
    machine.lenient = true
    let stream = EffectiveStream.fileReader(bytes, from: 0)
    let decoded = stream.diverged ? stream.bytes : bytes
    do {
      let outcome = try machine.load(decoded)
      // A file reader has read the whole frame that holds STOP: the next pickle starts there.
      end = stream.nextStart ?? outcome.end
    } catch let e {
      errorOffset = stream.diverged ? stream.sourceIndex(e.offset) : e.offset
      error = e.description
    }
    let graph = machine.graph
    for index in 0..<graph.count {
      let id = ValueID(Int32(index))
      switch graph[id] {
      case .global(let module, let nameCount):
        let (m, n) = graph.globalName(module: module, nameCount: nameCount)
        events.append(["g", m, n])
      case .object(let i):
        switch graph.construction(i) {
        case .reduce: events.append(["c"])
        case .newobj(let cls, _):
          // INST/OBJ without arguments: CPython calls `cls.__new__(cls)` for a class (every
          // global, in the oracle) and calls anything else.
          let offset = graph.offset(of: id)
          let op = offset >= 0 && offset < decoded.count ? decoded[offset] : 0
          let isGlobal: Bool
          switch graph[cls] {
          case .global, .ext: isGlobal = true  // both come from find_class
          default: isGlobal = false
          }
          let instOrObj = op == Opcode.inst.rawValue || op == Opcode.obj.rawValue
          events.append(instOrObj && !isGlobal ? ["c"] : ["n"])
        case .newobjEx: events.append(["n"])
        }
      case .ext(let code): events.append(["e", String(code)])
      case .persistentID: events.append(["p"])
      default: break
      }
    }
  }

  /// One line of JSON.
  public func json(path: String) -> String {
    let list = events.map { "[" + $0.map(Self.quote).joined(separator: ",") + "]" }
    return "{\"path\":\(Self.quote(path)),\"events\":[\(list.joined(separator: ","))],"
      + "\"end\":\(end.map(String.init) ?? "null"),"
      + "\"error_offset\":\(errorOffset.map(String.init) ?? "null"),"
      + "\"error\":\(error.map(Self.quote) ?? "null")}"
  }

  static func quote(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
      switch u {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case _ where u.value < 0x20 || (u.value >= 0xD800 && u.value < 0xE000):
        out +=
          "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count)
          + String(u.value, radix: 16)
      default: out.unicodeScalars.append(u)
      }
    }
    return out + "\""
  }
}
