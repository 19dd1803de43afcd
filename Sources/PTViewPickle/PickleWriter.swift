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

  /// `weightsOnlyOpcodes` as a table indexed by the opcode byte: every opcode written is
  /// checked, and a set lookup would hash each one.
  private static let weightsOnlyTable: [Bool] = {
    var table = [Bool](repeating: false, count: 256)
    for opcode in weightsOnlyOpcodes { table[Int(opcode.rawValue)] = true }
    return table
  }()

  private let graph: ValueGraph
  private var out: [UInt8] = []
  /// The memo index of each node written so far, by node index (-1: not memoized). An array
  /// rather than a dictionary: it is consulted for every value written.
  private var memo: [Int32] = []
  private var memoCount = 0
  private var shared: [Int32] = []

  /// Opcodes outside the weights_only set that the last `write` had to use.
  public private(set) var unsafeOpcodes: Set<Opcode> = []

  /// Creates a writer over `graph`.
  public init(graph: ValueGraph) {
    self.graph = graph
  }

  /// The pickle bytes for the value at `root`: PROTO 2, the value, STOP.
  /// - Throws: `WriteError` for values protocol 2 cannot express.
  public mutating func write(_ root: ValueID) throws(WriteError) -> [UInt8] {
    out = [Opcode.proto.rawValue, 2]
    memo = [Int32](repeating: -1, count: graph.count)
    memoCount = 0
    unsafeOpcodes = []
    shared = graph.referenceCounts(from: [root])
    try save(root, depth: 0)
    op(.stop)
    return out
  }

  // MARK: - Emission helpers

  private mutating func op(_ opcode: Opcode) {
    out.append(opcode.rawValue)
    if !Self.weightsOnlyTable[Int(opcode.rawValue)] { unsafeOpcodes.insert(opcode) }
  }

  private mutating func u32(_ value: Int) {
    let v = UInt32(truncatingIfNeeded: value)
    out.append(UInt8(v & 0xFF))
    out.append(UInt8((v >> 8) & 0xFF))
    out.append(UInt8((v >> 16) & 0xFF))
    out.append(UInt8(v >> 24))
  }

  /// The memo index of `id`, if it was memoized.
  private func memoized(_ id: ValueID) -> Int? {
    let i = Int(id.index)
    guard i >= 0, i < memo.count, memo[i] >= 0 else { return nil }
    return Int(memo[i])
  }

  private mutating func unicode<C: Collection<UInt8>>(_ utf8: C) {
    op(.binunicode)
    u32(utf8.count)
    out.append(contentsOf: utf8)
  }

  private mutating func unicode(_ text: String) { unicode(Array(text.utf8)) }

  private mutating func global(_ module: String, _ name: String) {
    op(.global)
    out.append(contentsOf: module.utf8)
    out.append(0x0A)
    out.append(contentsOf: name.utf8)
    out.append(0x0A)
  }

  private mutating func put(_ id: ValueID) {
    let index = memoCount
    memoCount += 1
    let i = Int(id.index)
    if i >= 0 && i < memo.count { memo[i] = Int32(truncatingIfNeeded: index) }
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
    if isShared(id) && memoized(id) == nil { put(id) }
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

  /// One step of the writer's explicit work stack. The writer never recurses, so nesting as
  /// deep as the input allows cannot exhaust the thread's stack.
  private enum Task {
    /// Emit a value.
    case value(ValueID)
    /// Emit one opcode.
    case op(Opcode)
    /// A tuple's elements are out: build it (or fetch it, if it memoized itself meanwhile).
    case finishTuple(ValueID, count: Int)
    /// An object's construction is out: memoize it (or fetch it) and apply its mutations.
    case finishObject(ValueID)
    /// Any other value is out: memoize it if shared and apply its mutations.
    case finishValue(ValueID)
  }

  private var tasks: [Task] = []

  private mutating func save(_ root: ValueID, depth: Int) throws(WriteError) {
    tasks = [.value(root)]
    while let task = tasks.popLast() {
      guard tasks.count < maxTasks else {
        throw WriteError(offset: graph.offset(of: root), message: "structure too large to write")
      }
      switch task {
      case .op(let opcode):
        op(opcode)
      case .value(let id):
        try emit(id)
      case .finishTuple(let id, let count):
        if let index = memoized(id) {
          // The tuple was reached through its own elements and memoized there (CPython's
          // recursive-tuple case): drop what was pushed and fetch the memoized one.
          if count > 3 {
            op(.popMark)
          } else {
            for _ in 0..<count { op(.pop) }
          }
          get(index)
        } else {
          switch count {
          case 1: op(.tuple1)
          case 2: op(.tuple2)
          case 3: op(.tuple3)
          default: op(.tuple)
          }
          memoizeIfShared(id)
        }
      case .finishObject(let id):
        if let index = memoized(id) {
          // Reached again through its own arguments (CPython's recursive-reduce case).
          op(.pop)
          get(index)
        } else {
          put(id)
        }
        try scheduleMutations(id)
      case .finishValue(let id):
        if memoized(id) == nil { memoizeIfShared(id) }
        try scheduleMutations(id)
      }
    }
  }

  /// Upper bound on pending work items (each node schedules a handful).
  private var maxTasks: Int { max(1 << 20, graph.count * 8) }

  /// Pushes `items` so they are emitted in order, in MARK ... APPENDS/SETITEMS batches of 1000
  /// (CPython's batch size). Single items also use the batch form: TorchScript's C++
  /// unpickler accepts it everywhere.
  private mutating func scheduleBatches(_ items: [ValueID], pairs: Bool) {
    let step = pairs ? 2000 : 1000
    var batches: [Range<Int>] = []
    var start = 0
    while start < items.count {
      batches.append(start..<min(items.count, start + step))
      start += step
    }
    for batch in batches.reversed() {
      tasks.append(.op(pairs ? .setitems : .appends))
      for item in items[batch].reversed() { tasks.append(.value(item)) }
      tasks.append(.op(.mark))
    }
  }

  private mutating func emit(_ id: ValueID) throws(WriteError) {
    if let index = memoized(id) {
      get(index)
      return
    }
    switch graph[id] {
    case .none: op(.none)
    case .bool(let b): op(b ? .newtrue : .newfalse)
    case .int(let v): integer(v)
    case .bigInt(let s): long(PyLong.minimal(Array(graph.bytes(s))))
    case .float(let v):
      op(.binfloat)
      let bits = v.bitPattern
      for shift in stride(from: 56, through: 0, by: -8) {
        out.append(UInt8((bits >> UInt64(shift)) & 0xFF))
      }
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
      let items = Array(graph.ids(s))
      if items.isEmpty {
        op(.emptyTuple)
        memoizeIfShared(id)
        return
      }
      if items.count > 3 { op(.mark) }
      tasks.append(.finishTuple(id, count: items.count))
      for item in items.reversed() { tasks.append(.value(item)) }
      return
    case .list(let c):
      op(.emptyList)
      put(id)  // always: every cycle passes through a list, dict or object, and ends at its GET
      tasks.append(.finishValue(id))
      scheduleBatches(graph.container(c), pairs: false)
      return
    case .dict(let c):
      op(.emptyDict)
      put(id)
      tasks.append(.finishValue(id))
      scheduleBatches(graph.container(c), pairs: true)
      return
    case .set(let c):
      scheduleCollectionCall(id, name: "set", items: graph.container(c))
      return
    case .frozenset(let s):
      scheduleCollectionCall(id, name: "frozenset", items: Array(graph.ids(s)))
      return
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
      tasks.append(.finishValue(id))
      tasks.append(.op(.binpersid))
      tasks.append(.value(pid))
      return
    case .object(let index):
      tasks.append(.finishObject(id))
      switch graph.construction(index) {
      case .reduce(let callable, let args):
        tasks += [.op(.reduce), .value(args), .value(callable)]
      case .newobj(let cls, let args):
        tasks += [.op(.newobj), .value(args), .value(cls)]
      case .newobjEx(let cls, let args, let kwargs):
        // Protocol 2 spells NEWOBJ_EX as copyreg.__newobj_ex__(cls, args, kwargs).
        global("copyreg", "__newobj_ex__")
        tasks += [.op(.reduce), .op(.tuple3), .value(kwargs), .value(args), .value(cls)]
      }
      return
    }
    tasks.append(.finishValue(id))
  }

  private mutating func scheduleCollectionCall(_ id: ValueID, name: String, items: [ValueID]) {
    global("__builtin__", name)
    op(.emptyList)
    tasks.append(.finishValue(id))
    tasks.append(.op(.reduce))
    tasks.append(.op(.tuple1))
    scheduleBatches(items, pairs: false)
  }

  /// Pushes the mutations of `id` (BUILD, SETITEM runs, APPEND runs) in stream order.
  private mutating func scheduleMutations(_ id: ValueID) throws(WriteError) {
    let mutations = graph.mutations(of: id)
    guard !mutations.isEmpty else { return }
    var steps: [Task] = []
    var i = 0
    while i < mutations.count {
      switch mutations[i] {
      case .build(let state):
        steps += [.value(state), .op(.build)]
        i += 1
      case .setItem:
        steps.append(.op(.mark))
        while i < mutations.count, case .setItem(let k, let v) = mutations[i] {
          steps += [.value(k), .value(v)]
          i += 1
        }
        steps.append(.op(.setitems))
      case .append:
        steps.append(.op(.mark))
        while i < mutations.count, case .append(let v) = mutations[i] {
          steps.append(.value(v))
          i += 1
        }
        steps.append(.op(.appends))
      case .add:
        throw WriteError(
          offset: graph.offset(of: id),
          message: "ADDITEMS on a non-set object cannot be expressed at protocol 2")
      }
    }
    tasks.append(contentsOf: steps.reversed())
  }
}
