/// Writes a value graph back out as a protocol-2 pickle, using the opcodes torch's
/// `weights_only` unpickler accepts wherever the value allows it.
///
/// Whatever protocol the input used (0 to 5), the output is protocol 2, so a rewritten file
/// also loads with `weights_only=True` when its globals allow. Objects referenced more than
/// once are memoized once and fetched afterwards, so sharing survives; recursive tuples and
/// recursive reductions follow CPython's pickler (POP and GET), the only case that needs an
/// opcode outside the weights_only set.
public struct PickleWriter {
  /// A value the writer cannot express at protocol 2.
  public struct WriteError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The node's byte offset in the input.
    public var offset: Int
    /// What could not be written.
    public var message: String
    public var description: String { "\(message) (at byte \(offset))" }
  }

  /// The opcodes torch's weights_only unpickler accepts (torch-format.md §2.1).
  public static let weightsOnlyOpcodes: Set<Opcode> = [
    .global, .newobj, .reduce, .build, .append, .appends, .setitem, .setitems, .mark, .tuple,
    .tuple1, .tuple2, .tuple3, .none, .newfalse, .newtrue, .emptyTuple, .emptyList, .emptyDict,
    .emptySet, .binint, .binint1, .binint2, .binfloat, .binunicode, .shortBinstring, .binpersid,
    .binget, .longBinget, .binput, .longBinput, .long1, .proto, .stop,
  ]

  /// Deepest nesting written before giving up (recursion is bounded; inputs are hostile).
  public var maxDepth = 5_000

  private let graph: ValueGraph
  private var out: [UInt8] = []
  private var memo: [Int32: Int] = [:]
  private var shared: [Int32] = []
  private var inProgress: Set<Int32> = []

  /// Opcodes outside the weights_only set that the last `write` had to use.
  public private(set) var unsafeOpcodes: Set<Opcode> = []

  /// Creates a writer over `graph`.
  public init(graph: ValueGraph) {
    self.graph = graph
  }

  /// The pickle bytes for the value at `root`: PROTO 2, the value, STOP.
  /// - Throws: `WriteError` for values protocol 2 cannot express or nesting past `maxDepth`.
  public mutating func write(_ root: ValueID) throws(WriteError) -> [UInt8] {
    out = [Opcode.proto.rawValue, 2]
    memo = [:]
    unsafeOpcodes = []
    inProgress = []
    shared = graph.referenceCounts(from: [root])
    try save(root, depth: 0)
    op(.stop)
    return out
  }

  // MARK: - Emission helpers

  private mutating func op(_ opcode: Opcode) {
    out.append(opcode.rawValue)
    if !Self.weightsOnlyOpcodes.contains(opcode) { unsafeOpcodes.insert(opcode) }
  }

  private mutating func u32(_ value: Int) {
    let v = UInt32(truncatingIfNeeded: value)
    out.append(contentsOf: [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)])
  }

  private mutating func unicode<C: Collection<UInt8>>(_ utf8: C) {
    op(.binunicode)
    u32(utf8.count)
    out.append(contentsOf: utf8)
  }

  private mutating func unicode(_ text: String) { unicode(Array(text.utf8)) }

  private mutating func global(_ module: String, _ name: String) {
    op(.global)
    out.append(contentsOf: Array(module.utf8) + [0x0A] + Array(name.utf8) + [0x0A])
  }

  private mutating func put(_ id: ValueID) {
    let index = memo.count
    memo[id.index] = index
    if index < 256 {
      op(.binput)
      out.append(UInt8(index))
    } else {
      op(.longBinput)
      u32(index)
    }
  }

  private mutating func get(_ index: Int) {
    if index < 256 {
      op(.binget)
      out.append(UInt8(index))
    } else {
      op(.longBinget)
      u32(index)
    }
  }

  private func isShared(_ id: ValueID) -> Bool {
    let i = Int(id.index)
    return i < shared.count && shared[i] > 1
  }

  private mutating func memoizeIfShared(_ id: ValueID) {
    if isShared(id) && memo[id.index] == nil { put(id) }
  }

  private mutating func integer(_ value: Int64) {
    if value >= 0 && value < 256 {
      op(.binint1)
      out.append(UInt8(value))
    } else if value >= 0 && value < 65536 {
      op(.binint2)
      out.append(UInt8(value & 0xFF))
      out.append(UInt8(value >> 8))
    } else if value >= Int64(Int32.min) && value <= Int64(Int32.max) {
      op(.binint)
      u32(Int(value))
    } else {
      long(PyLong.bytes(value))
    }
  }

  private mutating func long(_ bytes: [UInt8]) {
    if bytes.count < 256 {
      op(.long1)
      out.append(UInt8(bytes.count))
    } else {
      op(.long4)
      u32(bytes.count)
    }
    out.append(contentsOf: bytes)
  }

  /// Latin-1 decoding of raw bytes, as UTF-8 (how protocol 2 carries `bytes`).
  private func latin1(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
    var utf8: [UInt8] = []
    utf8.reserveCapacity(bytes.count)
    for b in bytes { UTF8Writer.append(UInt32(b), to: &utf8) }
    return utf8
  }

  // MARK: - Values

  private mutating func save(_ id: ValueID, depth: Int) throws(WriteError) {
    if let index = memo[id.index] {
      get(index)
      return
    }
    guard depth < maxDepth else {
      throw WriteError(offset: graph.offset(of: id), message: "nesting deeper than \(maxDepth) levels")
    }
    switch graph[id] {
    case .none: op(.none)
    case .bool(let b): op(b ? .newtrue : .newfalse)
    case .int(let v): integer(v)
    case .bigInt(let s): long(PyLong.minimal(Array(graph.bytes(s))))
    case .float(let v):
      op(.binfloat)
      let bits = v.bitPattern
      for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8((bits >> UInt64(shift)) & 0xFF)) }
    case .string(let s):
      unicode(graph.bytes(s))
    case .legacyString(let s):
      let raw = graph.bytes(s)
      if raw.count < 256 {
        op(.shortBinstring)
        out.append(UInt8(raw.count))
        out.append(contentsOf: raw)
      } else if UTF8Writer.isValid(raw) {
        // torch decodes Python 2 strings as UTF-8, so BINUNICODE gives the same value.
        unicode(raw)
      } else {
        op(.binstring)
        u32(raw.count)
        out.append(contentsOf: raw)
      }
    case .bytes(let s):
      let raw = graph.bytes(s)
      if raw.isEmpty {
        global("__builtin__", "bytes")
        op(.emptyTuple)
      } else {
        global("_codecs", "encode")
        unicode(latin1(raw))
        unicode("latin1")
        op(.tuple2)
      }
      op(.reduce)
    case .bytearray(let s):
      global("__builtin__", "bytearray")
      unicode(latin1(graph.bytes(s)))
      unicode("latin-1")
      op(.tuple2)
      op(.reduce)
    case .tuple(let s):
      try saveTuple(id, Array(graph.ids(s)), depth: depth)
      return
    case .list(let c):
      op(.emptyList)
      put(id)  // always: every cycle passes through a list, dict or object, and ends at its GET
      try batch(graph.container(c), pairs: false, depth: depth)
    case .dict(let c):
      op(.emptyDict)
      put(id)
      try batch(graph.container(c), pairs: true, depth: depth)
    case .set(let c):
      try saveCollectionCall(id, module: "__builtin__", name: "set", items: graph.container(c), depth: depth)
    case .frozenset(let s):
      try saveCollectionCall(id, module: "__builtin__", name: "frozenset", items: Array(graph.ids(s)), depth: depth)
    case .global(let module, let nameCount):
      let (m, n) = graph.globalName(module: module, nameCount: nameCount)
      global(m, n)
    case .ext(let code):
      if code < 256 {
        op(.ext1)
        out.append(UInt8(code))
      } else if code < 65536 {
        op(.ext2)
        out.append(UInt8(code & 0xFF))
        out.append(UInt8(code >> 8))
      } else {
        op(.ext4)
        u32(Int(code))
      }
    case .persistentID(let pid):
      try save(pid, depth: depth + 1)
      op(.binpersid)
    case .object(let index):
      try saveObject(id, graph.construction(index), depth: depth)
    }
    if memo[id.index] == nil {
      if case .object = graph[id] { put(id) } else { memoizeIfShared(id) }
    }
    try saveMutations(id, depth: depth)
  }

  /// Emits MARK/APPENDS or MARK/SETITEMS in batches of 1000, as CPython does. Single items
  /// also use the batch form: TorchScript's C++ unpickler accepts it everywhere.
  private mutating func batch(_ items: [ValueID], pairs: Bool, depth: Int) throws(WriteError) {
    let step = pairs ? 2000 : 1000
    var start = 0
    while start < items.count {
      let end = min(items.count, start + step)
      op(.mark)
      for item in items[start..<end] { try save(item, depth: depth + 1) }
      op(pairs ? .setitems : .appends)
      start = end
    }
  }

  private mutating func saveCollectionCall(
    _ id: ValueID, module: String, name: String, items: [ValueID], depth: Int
  ) throws(WriteError) {
    global(module, name)
    op(.emptyList)
    try batch(items, pairs: false, depth: depth)
    op(.tuple1)
    op(.reduce)
  }

  private mutating func saveTuple(_ id: ValueID, _ items: [ValueID], depth: Int) throws(WriteError) {
    if items.isEmpty {
      op(.emptyTuple)
      memoizeIfShared(id)
      return
    }
    inProgress.insert(id.index)
    if items.count > 3 { op(.mark) }
    for item in items { try save(item, depth: depth + 1) }
    inProgress.remove(id.index)
    if let index = memo[id.index] {
      // The tuple was reached through its own elements and memoized there (CPython's
      // recursive-tuple case): drop what we pushed and fetch the memoized one.
      if items.count > 3 {
        op(.popMark)
      } else {
        for _ in items { op(.pop) }
      }
      get(index)
      return
    }
    switch items.count {
    case 1: op(.tuple1)
    case 2: op(.tuple2)
    case 3: op(.tuple3)
    default: op(.tuple)
    }
    memoizeIfShared(id)
  }

  private mutating func saveObject(_ id: ValueID, _ construction: Construction, depth: Int)
    throws(WriteError)
  {
    switch construction {
    case .reduce(let callable, let args):
      try save(callable, depth: depth + 1)
      try save(args, depth: depth + 1)
      op(.reduce)
    case .newobj(let cls, let args):
      try save(cls, depth: depth + 1)
      try save(args, depth: depth + 1)
      op(.newobj)
    case .newobjEx(let cls, let args, let kwargs):
      // Protocol 2 spells NEWOBJ_EX as copyreg.__newobj_ex__(cls, args, kwargs).
      global("copyreg", "__newobj_ex__")
      try save(cls, depth: depth + 1)
      try save(args, depth: depth + 1)
      try save(kwargs, depth: depth + 1)
      op(.tuple3)
      op(.reduce)
    }
    if let index = memo[id.index] {
      // Reached again through its own arguments (CPython's recursive-reduce case).
      op(.pop)
      get(index)
    }
  }

  private mutating func saveMutations(_ id: ValueID, depth: Int) throws(WriteError) {
    let mutations = graph.mutations(of: id)
    var i = 0
    while i < mutations.count {
      switch mutations[i] {
      case .build(let state):
        try save(state, depth: depth + 1)
        op(.build)
        i += 1
      case .setItem:
        op(.mark)
        while i < mutations.count, case .setItem(let k, let v) = mutations[i] {
          try save(k, depth: depth + 1)
          try save(v, depth: depth + 1)
          i += 1
        }
        op(.setitems)
      case .append:
        op(.mark)
        while i < mutations.count, case .append(let v) = mutations[i] {
          try save(v, depth: depth + 1)
          i += 1
        }
        op(.appends)
      case .add:
        throw WriteError(
          offset: graph.offset(of: id),
          message: "ADDITEMS on a non-set object cannot be expressed at protocol 2")
      }
    }
  }
}
