public import PTViewPickle

/// Python-level questions about graph nodes that torch semantics are built from.
extension ValueGraph {
  /// The `module.name` a global names, with Python 2 module names mapped to Python 3 ones the
  /// way the unpickler's `fix_imports` does (`__builtin__` -> `builtins`).
  public func globalName(_ id: ValueID) -> String? {
    guard case .global(let module, let nameCount) = self[id] else { return nil }
    let (m, n) = globalName(module: module, nameCount: nameCount)
    return PythonNames.fixed(module: m, name: n)
  }

  /// The callee's name of an object node (REDUCE callable or NEWOBJ class), if it is a global.
  public func calleeName(_ id: ValueID) -> String? {
    guard case .object(let index) = self[id] else { return nil }
    return globalName(construction(index).callee)
  }

  /// The positional arguments of an object node, if they are a tuple or list.
  public func callArguments(_ id: ValueID) -> [ValueID]? {
    guard case .object(let index) = self[id] else { return nil }
    return sequence(construction(index).args)
  }

  /// The state given to the last BUILD of `id`.
  public func buildState(_ id: ValueID) -> ValueID? {
    var state: ValueID? = nil
    for case .build(let s) in mutations(of: id) { state = s }
    return state
  }

  /// The key/value pairs of a dict node, or of a dict-like object (OrderedDict, defaultdict,
  /// Counter: items from its constructor's list of pairs, then from SETITEMs), with later
  /// values for a repeated simple key replacing earlier ones in place, as Python dicts do.
  public func dictItems(_ id: ValueID) -> [(key: ValueID, value: ValueID)]? {
    var raw: [(ValueID, ValueID)] = []
    switch self[id] {
    case .dict(let container):
      let items = self.container(container)
      var i = 0
      while i + 1 < items.count {
        raw.append((items[i], items[i + 1]))
        i += 2
      }
    case .object(let index):
      guard let name = globalName(construction(index).callee), PythonNames.dictLike.contains(name)
      else { return nil }
      // OrderedDict([[k, v], ...]) (Python 2 era) or OrderedDict({...}).
      if let args = sequence(construction(index).args), let first = args.first {
        if let pairs = sequence(first) {
          for pair in pairs {
            if let kv = sequence(pair), kv.count == 2 { raw.append((kv[0], kv[1])) }
          }
        } else if let inner = dictItems(first), name != "collections.defaultdict" {
          raw.append(contentsOf: inner.map { ($0.key, $0.value) })
        }
      }
      for case .setItem(let k, let v) in mutations(of: id) { raw.append((k, v)) }
    default:
      return nil
    }
    // Dedupe simple keys (str, int) the way dict assignment would: a later value for an equal
    // key replaces the earlier one in place. Hashes of the key bytes find candidates cheaply;
    // real pickles never repeat a key, so this is one hash per key.
    guard raw.count > 1 else { return raw.map { (key: $0.0, value: $0.1) } }
    if raw.count <= 8 {
      // Small dicts (an optimizer's per-parameter state, tens of thousands of them): compare
      // keys pairwise instead of hashing them into a table.
      var result: [(key: ValueID, value: ValueID)] = []
      result.reserveCapacity(raw.count)
      for (k, v) in raw {
        if simpleKeyHash(k) != nil,
          let equal = result.firstIndex(where: { sameSimpleKey($0.key, k) })
        {
          result[equal].value = v
        } else {
          result.append((k, v))
        }
      }
      return result
    }
    var position: [UInt64: Int] = [:]
    position.reserveCapacity(raw.count)
    var result: [(key: ValueID, value: ValueID)] = []
    result.reserveCapacity(raw.count)
    for (k, v) in raw {
      if let h = simpleKeyHash(k) {
        if let at = position[h] {
          if sameSimpleKey(result[at].key, k) {
            result[at].value = v
            continue
          }
          // A true hash collision (vanishingly rare): fall back to a scan.
          if let equal = result.firstIndex(where: { sameSimpleKey($0.key, k) }) {
            result[equal].value = v
            continue
          }
        } else {
          position[h] = result.count
        }
      }
      result.append((k, v))
    }
    return result
  }

  private func simpleKeyHash(_ id: ValueID) -> UInt64? {
    switch self[id] {
    case .string(let s), .legacyString(let s): hash(s)
    case .int(let v): UInt64(bitPattern: v) &* 0x9E37_79B9_7F4A_7C15 ^ 0x5555
    case .bool(let b): (b ? 1 : 0) &* 0x9E37_79B9_7F4A_7C15 ^ 0x5555
    default: nil
    }
  }

  private func sameSimpleKey(_ a: ValueID, _ b: ValueID) -> Bool {
    if a == b { return true }
    switch (self[a], self[b]) {
    case (.string(let x), .string(let y)), (.legacyString(let x), .legacyString(let y)),
      (.string(let x), .legacyString(let y)), (.legacyString(let x), .string(let y)):
      return bytes(x) == bytes(y)
    default:
      if let x = int(a), let y = int(b) { return x == y }
      return false
    }
  }

  /// The value stored under string key `key` in a dict (or dict-like) node.
  public func lookup(_ id: ValueID, _ key: String) -> ValueID? {
    guard let items = dictItems(id) else { return nil }
    return items.last(where: { string($0.key) == key })?.value
  }

  /// How a dict key or sequence index is written in a path: `str()` of the key.
  public func keyText(_ id: ValueID) -> String {
    switch self[id] {
    case .string(let s): return text(s)
    case .legacyString(let s): return String(decoding: bytes(s), as: UTF8.self)
    case .int(let v): return String(v)
    case .bigInt(let s): return PythonRepr.int(bytes: bytes(s))
    case .bool(let b): return b ? "True" : "False"
    case .float(let v): return PythonRepr.float(v)
    case .none: return "None"
    case .tuple(let s):
      let parts = ids(s).map { keyRepr($0) }
      return "(" + parts.joined(separator: ", ") + (parts.count == 1 ? ",)" : ")")
    case .global: return qualifiedName(id) ?? "<global>"
    default: return "<\(kindName(id))>"
    }
  }

  private func keyRepr(_ id: ValueID) -> String {
    if case .string(let s) = self[id] { return PythonRepr.string(utf8: bytes(s)) ?? "'?'" }
    return keyText(id)
  }

  /// Elements of a set node, or of `builtins.set([...])` / `builtins.frozenset([...])` calls.
  public func setElements(_ id: ValueID) -> [ValueID]? {
    switch self[id] {
    case .set(let c): return container(c)
    case .frozenset(let s): return Array(ids(s))
    case .object:
      guard let name = calleeName(id), name == "builtins.set" || name == "builtins.frozenset"
      else { return nil }
      guard let args = callArguments(id) else { return nil }
      if args.isEmpty { return [] }
      return sequence(args[0]) ?? setElements(args[0])
    default: return nil
    }
  }
}

/// Python's name fixups and the torch names the interpreter recognises.
public enum PythonNames {
  /// Modules renamed between Python 2 and 3 that appear in checkpoints
  /// (a subset of `_compat_pickle.IMPORT_MAPPING`).
  static let moduleMapping: [String: String] = [
    "__builtin__": "builtins", "copy_reg": "copyreg", "Queue": "queue", "repr": "reprlib",
    "_abcoll": "collections.abc", "UserDict": "collections", "UserList": "collections",
    "UserString": "collections", "whichdb": "dbm", "StringIO": "io", "cStringIO": "io",
    "cPickle": "pickle", "_winreg": "winreg", "thread": "_thread", "dummy_thread": "_dummy_thread",
    "exceptions": "builtins", "ConfigParser": "configparser", "SocketServer": "socketserver",
    "urlparse": "urllib.parse", "httplib": "http.client", "commands": "subprocess",
  ]

  /// `module.name` after the Python 2 -> 3 mapping.
  public static func fixed(module: String, name: String) -> String {
    if module == "UserDict" && name == "IterableUserDict" { return "collections.UserDict" }
    if module == "__builtin__" && name == "unicode" { return "builtins.str" }
    if module == "__builtin__" && name == "xrange" { return "builtins.range" }
    if module == "__builtin__" && name == "reduce" { return "functools.reduce" }
    if module == "itertools" && name == "izip" { return "builtins.zip" }
    return (moduleMapping[module] ?? module) + "." + name
  }

  /// Callables whose result is a dict filled by SETITEMs.
  public static let dictLike: Set<String> = [
    "collections.OrderedDict", "collections.defaultdict", "collections.Counter", "builtins.dict",
  ]
}
