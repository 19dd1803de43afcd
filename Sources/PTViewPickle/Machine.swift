/// The pickle virtual machine: CPython's unpickler semantics for the stack, marks and memo,
/// except that it never imports or calls anything.
///
/// GLOBAL, REDUCE, NEWOBJ, BUILD and persistent ids become graph nodes that say what a real
/// unpickler would have done. The graph survives a failure (`graph` keeps everything built up
/// to the failing opcode), which the safety scan relies on: a dangerous call before a corrupt
/// tail is still seen.
public struct Machine: Sendable {
  /// Everything decoded so far, across every pickle this machine loaded.
  public private(set) var graph: ValueGraph
  /// The bounds this machine enforces.
  public let limits: Limits

  private var stack: [ValueID] = []
  private var marks: [Int] = []
  private var denseMemo: [ValueID] = []
  private var sparseMemo: [Int: ValueID] = [:]
  private var memoCount = 0

  private static let unset = ValueID(-1)

  /// The result of decoding one pickle.
  public struct Outcome: Sendable {
    /// The value STOP returned.
    public var root: ValueID
    /// Index (into the buffer) just past STOP: where a following pickle would start.
    public var end: Int
    /// The PROTO argument, if the pickle had one.
    public var declaredProtocol: Int?
    /// The highest protocol among the opcodes used (as pickletools reports it).
    public var highestProtocol: Int
    /// Number of opcodes executed.
    public var opcodeCount: Int
    /// True when the load paused after a BUILD on an object of a `pauseAfterBuild` class:
    /// `root` is that object, `end` the index after BUILD, and `resume` continues.
    public var paused = false
  }

  /// Classes (`module.name`) whose objects pause the load right after their BUILD. joblib's
  /// array wrappers: its unpickler reads the array's raw bytes from the file at that point,
  /// then goes on unpickling after them.
  public var pauseAfterBuild: Set<String> = []
  /// Reads what *either* of CPython's unpicklers reads: the C one (pickle.load, torch.load)
  /// and the pure-Python one (joblib, dill), which is more lenient about frames longer than
  /// the data, a last line without newline and false BUILD states. The safety scan needs
  /// the union (a stream any loader reads past must be followed); readers of checkpoints
  /// keep the C unpickler's view, which is torch.load's.
  public var lenient = false

  /// Creates a machine that adds to `graph`.
  public init(graph: ValueGraph = ValueGraph(), limits: Limits = .default) {
    self.graph = graph
    self.limits = limits
  }

  /// Decodes one pickle that starts at `position` in `bytes`.
  /// - Parameters:
  ///   - bytes: a buffer holding the pickle (possibly among other data).
  ///   - base: the file offset of `bytes[0]`, for error offsets and node offsets.
  ///   - position: index of the pickle's first byte.
  /// - Throws: `PickleError` at the first opcode CPython would also refuse, or at a limit.
  public mutating func load(_ bytes: [UInt8], base: Int = 0, from position: Int = 0)
    throws(PickleError) -> Outcome
  {
    stack.removeAll(keepingCapacity: true)
    marks.removeAll(keepingCapacity: true)
    denseMemo.removeAll(keepingCapacity: true)
    sparseMemo.removeAll()
    memoCount = 0
    return try run(bytes, base: base, from: position)
  }

  /// Continues a paused load at `position` (after whatever the loader read itself), with the
  /// stack, marks and memo as the pause left them.
  public mutating func resume(_ bytes: [UInt8], base: Int = 0, from position: Int)
    throws(PickleError) -> Outcome
  {
    try run(bytes, base: base, from: position)
  }

  private mutating func run(_ bytes: [UInt8], base: Int, from position: Int)
    throws(PickleError) -> Outcome
  {
    // Pool slices are 32-bit, and nothing a pickle stores outgrows its own bytes: refusing
    // input that could take the byte pool past 4 GiB keeps every slice representable.
    guard position >= 0, graph.bytes.count + (bytes.count - position) < Int(UInt32.max) else {
      throw PickleError(
        offset: base + max(0, position), opcode: nil,
        reason: .limitExceeded(.argumentBytes, limit: Int(UInt32.max)))
    }
    graph.reserve(forPickleBytes: min(bytes.count - position, 1 << 28))
    var reader = InstructionReader(bytes: bytes, base: base, position: position, limits: limits)
    reader.lenient = lenient
    var declared: Int? = nil
    var highest = 0
    var count = 0
    let end = bytes.count
    // Read once: a static table costs an initialization check and a retain per access.
    let protocols = Opcode.protocolByByte
    while true {
      // Fast path for the opcodes torch's pickles are made of; it does exactly what
      // `execute` does for them, without building an `Instruction`.
      let pos = reader.position
      if pos < end {
        let byte = bytes[pos]
        let fast: Int
        do throws(PickleError.Reason) {
          fast = try step(byte, bytes, pos, end, base)
        } catch {
          throw PickleError(offset: base + pos, opcode: Opcode(rawValue: byte), reason: error)
        }
        if fast > 0 {
          count += 1
          highest = max(highest, Int(protocols[Int(byte)]))
          reader.position = pos + fast
          continue
        }
      }
      let instruction = try reader.next()
      count += 1
      if count > limits.maxOpcodes {
        throw PickleError(
          offset: instruction.offset, opcode: instruction.opcode,
          reason: .limitExceeded(.opcodes, limit: limits.maxOpcodes))
      }
      highest = max(highest, instruction.opcode.protocolVersion)
      do throws(PickleError.Reason) {
        if instruction.opcode == .stop {
          let root = try pop()
          return Outcome(
            root: root, end: reader.position, declaredProtocol: declared,
            highestProtocol: highest, opcodeCount: count)
        }
        if instruction.opcode == .proto, case .int(let version)? = instruction.argument {
          guard version <= 5 else { throw PickleError.Reason.unsupportedProtocol(Int(version)) }
          declared = Int(version)
          continue
        }
        if instruction.opcode == .frame, case .int(let length)? = instruction.argument {
          // CPython's C unpickler only checks that the frame's bytes exist, then reads on
          // normally; frames that lie about their length are read exactly as it reads them.
          // The pure-Python unpickler (joblib's, dill's) does not even check: a frame longer
          // than the data is the rest of the data.
          let available = bytes.count - reader.position
          guard lenient || length <= Int64(available) else {
            throw PickleError.Reason.truncated(needed: Int(clamping: length), available: available)
          }
          continue
        }
        try execute(instruction)
        if instruction.opcode == .build, !pauseAfterBuild.isEmpty, let target = stack.last,
          case .object(let index) = graph[target],
          let name = graph.qualifiedName(graph.construction(index).callee),
          pauseAfterBuild.contains(name)
        {
          return Outcome(
            root: target, end: reader.position, declaredProtocol: declared,
            highestProtocol: highest, opcodeCount: count, paused: true)
        }
      } catch let reason {
        throw PickleError(offset: instruction.offset, opcode: instruction.opcode, reason: reason)
      }
    }
  }

  // MARK: - Fast path

  @inline(__always)
  private static func u32(_ bytes: [UInt8], _ at: Int) -> Int {
    Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16 | Int(bytes[at + 3]) << 24
  }

  /// Executes one common opcode at `pos` directly and returns its length, or 0 to let the
  /// general path (which also produces the precise errors for truncated arguments) take it.
  @inline(__always)
  private mutating func step(_ byte: UInt8, _ bytes: [UInt8], _ pos: Int, _ end: Int, _ base: Int)
    throws(PickleError.Reason) -> Int
  {
    let offset = base + pos
    switch byte {
    case 0x28:  // MARK
      guard marks.count < limits.maxMarkDepth else {
        throw .limitExceeded(.markDepth, limit: limits.maxMarkDepth)
      }
      marks.append(stack.count)
      return 1
    // The memo opcodes are two in five of a torch pickle's. They read the stack and memo
    // directly: calling the non-mutating `top()`/`memoGet()` from here made the compiler copy
    // the whole machine onto the stack first, for every one of them.
    case 0x71, 0x72:  // BINPUT, LONG_BINPUT
      let long = byte == 0x72
      guard pos + (long ? 4 : 1) < end else { return 0 }
      let key = long ? Self.u32(bytes, pos + 1) : Int(bytes[pos + 1])
      guard let value = stack.last, stack.count > (marks.last ?? 0) else {
        throw .stackUnderflow
      }
      if key == denseMemo.count && key < limits.maxMemoEntries
        && memoCount < limits.maxMemoEntries
      {
        // The usual case: picklers number memo entries 0, 1, 2...
        denseMemo.append(value)
        memoCount += 1
      } else {
        try memoPut(Int64(key), value)
      }
      return long ? 5 : 2
    case 0x68, 0x6A:  // BINGET, LONG_BINGET
      let long = byte == 0x6A
      guard pos + (long ? 4 : 1) < end else { return 0 }
      let key = long ? Self.u32(bytes, pos + 1) : Int(bytes[pos + 1])
      var value = Self.unset
      if key < denseMemo.count { value = denseMemo[key] }
      if value == Self.unset { value = try memoGet(Int64(key)) }
      guard stack.count < limits.maxStackDepth else {
        throw .limitExceeded(.stackDepth, limit: limits.maxStackDepth)
      }
      stack.append(value)
      return long ? 5 : 2
    case 0x4B:  // BININT1
      guard pos + 1 < end else { return 0 }
      try pushNode(.int(Int64(bytes[pos + 1])), at: offset)
      return 2
    case 0x4D:  // BININT2
      guard pos + 2 < end else { return 0 }
      try pushNode(.int(Int64(bytes[pos + 1]) | Int64(bytes[pos + 2]) << 8), at: offset)
      return 3
    case 0x4A:  // BININT
      guard pos + 4 < end else { return 0 }
      try pushNode(.int(Int64(Int32(truncatingIfNeeded: Self.u32(bytes, pos + 1)))), at: offset)
      return 5
    case 0x58, 0x8C:  // BINUNICODE, SHORT_BINUNICODE
      let header = byte == 0x58 ? 5 : 2
      guard pos + header <= end else { return 0 }
      let length = byte == 0x58 ? Self.u32(bytes, pos + 1) : Int(bytes[pos + 1])
      guard length <= end - pos - header, length <= limits.maxArgumentBytes else { return 0 }
      let text = bytes[(pos + header)..<(pos + header + length)]
      try pushNode(try string(text, at: offset), at: offset)
      return header + length
    case 0x29:  // EMPTY_TUPLE
      try pushNode(.tuple(PoolSlice(start: 0, count: 0)), at: offset)
      return 1
    case 0x74:  // TUPLE
      guard let mark = marks.popLast() else { throw .markNotFound }
      let node = Node.tuple(graph.store(ids: stack[mark...]))
      stack.removeLast(stack.count - mark)
      try pushNode(node, at: offset)
      return 1
    case 0x85, 0x86, 0x87:  // TUPLE1, TUPLE2, TUPLE3
      let n = Int(byte - 0x84)
      guard available >= n else { throw .stackUnderflow }
      // A tuple of 1-3 items is a fifth of a torch pickle's opcodes: the items are copied
      // from a buffer and popped one by one, where a slice copy and `removeLast(n)` took
      // about 200 instructions between them.
      let top = stack.count
      let node = Node.tuple(
        stack.withUnsafeBufferPointer {
          graph.store(ids: UnsafeBufferPointer(rebasing: $0[(top - n)..<top]))
        })
      for _ in 0..<n { stack.removeLast() }
      try pushNode(node, at: offset)
      return 1
    case 0x7D:  // EMPTY_DICT
      try pushNode(.dict(graph.newContainer()), at: offset)
      return 1
    case 0x5D:  // EMPTY_LIST
      try pushNode(.list(graph.newContainer()), at: offset)
      return 1
    case 0x75, 0x65:  // SETITEMS, APPENDS
      guard let mark = marks.last else { return 0 }
      guard mark > 0, mark <= stack.count, stack.count - mark > 0,
        marks.count < 2 || marks[marks.count - 2] < mark
      else { return 0 }
      let target = stack[mark - 1]
      let count = stack.count - mark
      switch graph[target] {
      case .dict(let container) where byte == 0x75 && count % 2 == 0:
        graph.extend(container: container, with: stack[mark...])
      case .list(let container) where byte == 0x65:
        graph.extend(container: container, with: stack[mark...])
      default:
        return 0
      }
      marks.removeLast()
      stack.removeLast(count)
      return 1
    case 0x52:  // REDUCE
      guard available >= 2 else { throw .stackUnderflow }
      let args = stack.removeLast()
      let callable = stack.removeLast()
      try push(try object(.reduce(callable: callable, args: args), at: offset))
      return 1
    case 0x51:  // BINPERSID
      let pid = try pop()
      try pushNode(.persistentID(pid), at: offset)
      return 1
    case 0x88:
      try pushNode(.bool(true), at: offset)
      return 1
    case 0x89:
      try pushNode(.bool(false), at: offset)
      return 1
    case 0x4E:
      try pushNode(.none, at: offset)
      return 1
    case 0x94:  // MEMOIZE
      guard let value = stack.last, stack.count > (marks.last ?? 0) else {
        throw .stackUnderflow
      }
      try memoPut(Int64(memoCount), value)
      return 1
    default:
      return 0
    }
  }

  // MARK: - Stack primitives

  /// Items above the topmost mark (CPython's fence).
  private var available: Int { stack.count - (marks.last ?? 0) }

  private mutating func push(_ id: ValueID) throws(PickleError.Reason) {
    guard stack.count < limits.maxStackDepth else {
      throw .limitExceeded(.stackDepth, limit: limits.maxStackDepth)
    }
    stack.append(id)
  }

  private mutating func pop() throws(PickleError.Reason) -> ValueID {
    guard available > 0 else { throw .stackUnderflow }
    return stack.removeLast()
  }

  private func top() throws(PickleError.Reason) -> ValueID {
    guard available > 0, let last = stack.last else { throw .stackUnderflow }
    return last
  }

  /// Pops everything above the topmost mark, and the mark. The items are copied out first:
  /// a slice would keep the stack's buffer shared and make the removal copy the whole stack.
  private mutating func popMark() throws(PickleError.Reason) -> ArraySlice<ValueID> {
    guard let mark = marks.popLast() else { throw .markNotFound }
    let items = Array(stack[mark...])
    stack.removeLast(stack.count - mark)
    return items[...]
  }

  private mutating func node(_ node: Node, at offset: Int) throws(PickleError.Reason) -> ValueID {
    guard graph.count < limits.maxNodes else {
      throw .limitExceeded(.nodes, limit: limits.maxNodes)
    }
    return graph.add(node, at: offset)
  }

  private mutating func pushNode(_ n: Node, at offset: Int) throws(PickleError.Reason) {
    try push(try node(n, at: offset))
  }

  // MARK: - Memo

  private func memoGet(_ key: Int64) throws(PickleError.Reason) -> ValueID {
    if key >= 0, key < denseMemo.count, denseMemo[Int(key)] != Self.unset {
      return denseMemo[Int(key)]
    }
    if let id = sparseMemo[Int(key)] { return id }
    throw .memoKeyMissing(Int(key))
  }

  private mutating func memoPut(_ key: Int64, _ id: ValueID) throws(PickleError.Reason) {
    guard key >= 0 else { throw .wrongOperand("negative memo key \(key)") }
    let index = Int(key)
    let isNew: Bool
    if index == denseMemo.count && index < limits.maxMemoEntries {
      // The usual case: picklers number memo entries 0, 1, 2...
      denseMemo.append(id)
      isNew = true
    } else if index < denseMemo.count {
      isNew = denseMemo[index] == Self.unset
      denseMemo[index] = id
    } else if index <= denseMemo.count + 1024 && index < limits.maxMemoEntries {
      denseMemo.append(contentsOf: repeatElement(Self.unset, count: index - denseMemo.count + 1))
      isNew = true
      denseMemo[index] = id
    } else {
      isNew = sparseMemo.updateValue(id, forKey: index) == nil
    }
    if isNew {
      memoCount += 1
      guard memoCount <= limits.maxMemoEntries else {
        throw .limitExceeded(.memoEntries, limit: limits.maxMemoEntries)
      }
    }
  }

  // MARK: - Opcodes

  /// The pseudo-global that stands for the unpickler's own `find_class` when STACK_GLOBAL's
  /// operands are computed: `pickle.Unpickler.find_class(module, name)` is what runs.
  public static let computedImportModule = "pickle"
  public static let computedImportName = "Unpickler.find_class"

  /// A BUILD state that the default `__setstate__` applies without touching the object: None
  /// or `(None, {})` for the C unpickler, any false value (or a pair of them) for the
  /// pure-Python one (`if state:`), which joblib and dill use.
  private func isEmptyState(_ state: ValueID) -> Bool {
    func isFalse(_ id: ValueID) -> Bool {
      switch graph[id] {
      case .none: true
      case .bool(let b): !b
      case .int(let v): v == 0
      case .bigInt(let s): s.count == 0
      case .float(let v): v == 0
      case .string(let s), .legacyString(let s), .bytes(let s), .bytearray(let s): s.count == 0
      case .tuple(let s), .frozenset(let s): s.count == 0
      case .list(let c), .dict(let c), .set(let c): graph.container(c).isEmpty
      default: false
      }
    }
    if case .none = graph[state] { return true }
    guard case .tuple = graph[state], let pair = graph.sequence(state), pair.count == 2 else {
      return lenient && isFalse(state)
    }
    if case .none = graph[pair[0]] {
      switch graph[pair[1]] {
      case .none: return true
      case .dict(let c) where graph.container(c).isEmpty: return true
      default: break
      }
    }
    return lenient && isFalse(pair[0]) && isFalse(pair[1])
  }

  /// A str, or a value whose type is only known at load time.
  private func isStringOrOpaque(_ id: ValueID) -> Bool {
    switch graph[id] {
    case .string, .legacyString: true
    default: isOpaque(id)
    }
  }

  /// Whether a node can receive mutations (its real type is unknown to us).
  private func isOpaque(_ id: ValueID) -> Bool {
    switch graph[id] {
    case .object, .global, .persistentID, .ext: true
    default: false
    }
  }

  private mutating func appendItems(_ items: ArraySlice<ValueID>, to target: ValueID)
    throws(PickleError.Reason)
  {
    if items.isEmpty { return }
    switch graph[target] {
    case .list(let container):
      graph.extend(container: container, with: items)
    case _ where isOpaque(target):
      for item in items { graph.mutate(target, .append(item)) }
    default:
      throw .wrongOperand("cannot append to a \(graph.kindName(target))")
    }
  }

  private mutating func setItems(_ items: ArraySlice<ValueID>, on target: ValueID)
    throws(PickleError.Reason)
  {
    if items.isEmpty { return }
    guard items.count % 2 == 0 else { throw .wrongOperand("odd number of items for SETITEMS") }
    switch graph[target] {
    case .dict(let container):
      graph.extend(container: container, with: items)
    case .list(let container):
      var i = items.startIndex
      while i < items.endIndex {
        let length = graph.container(container).count
        guard let key = graph.int(items[i]), key >= -Int64(length), key < Int64(length) else {
          throw .wrongOperand("list assignment index out of range")
        }
        graph.replace(
          container: container, at: Int(key < 0 ? key + Int64(length) : key), with: items[i + 1])
        i += 2
      }
    case _ where isOpaque(target):
      var i = items.startIndex
      while i < items.endIndex {
        graph.mutate(target, .setItem(key: items[i], value: items[i + 1]))
        i += 2
      }
    default:
      throw .wrongOperand("cannot set items on a \(graph.kindName(target))")
    }
  }

  private mutating func addItems(_ items: ArraySlice<ValueID>, to target: ValueID)
    throws(PickleError.Reason)
  {
    if items.isEmpty { return }
    switch graph[target] {
    case .set(let container):
      graph.extend(container: container, with: items)
    case _ where isOpaque(target):
      for item in items { graph.mutate(target, .add(item)) }
    default:
      throw .wrongOperand("cannot add items to a \(graph.kindName(target))")
    }
  }

  private mutating func string(_ bytes: ArraySlice<UInt8>, at offset: Int) throws(PickleError
    .Reason)
    -> Node
  {
    guard UTF8Writer.isValid(bytes) else { throw .invalidUTF8 }
    return .string(graph.store(bytes))
  }

  /// Builds the object INST and OBJ make: CPython calls `cls.__new__(cls)` when there are no
  /// arguments (and `cls` is a class), `cls(*args)` otherwise.
  private mutating func instantiate(_ cls: ValueID, _ args: ArraySlice<ValueID>, at offset: Int)
    throws(PickleError.Reason) -> ValueID
  {
    let tuple = try node(.tuple(graph.store(ids: args)), at: offset)
    let construction: Construction =
      args.isEmpty ? .newobj(cls: cls, args: tuple) : .reduce(callable: cls, args: tuple)
    guard graph.count < limits.maxNodes else {
      throw .limitExceeded(.nodes, limit: limits.maxNodes)
    }
    return graph.addObject(construction, at: offset)
  }

  private mutating func global(module: [UInt8], name: [UInt8], at offset: Int)
    throws(PickleError.Reason) -> ValueID
  {
    guard UTF8Writer.isValid(module), UTF8Writer.isValid(name) else { throw .invalidUTF8 }
    let slice = graph.store(module + name)
    return try node(
      .global(
        module: PoolSlice(start: slice.start, count: module.count), nameCount: Int32(name.count)),
      at: offset)
  }

  private mutating func execute(_ instruction: Instruction) throws(PickleError.Reason) {
    let offset = instruction.offset
    let argument = instruction.argument
    switch instruction.opcode {
    case .int, .binint, .binint1, .binint2, .long, .long1, .long4:
      switch argument {
      case .bool(let b)?: try pushNode(.bool(b), at: offset)
      case .int(let v)?: try pushNode(.int(v), at: offset)
      case .long(let bytes)?:
        if let small = PyLong.int64(bytes) {
          try pushNode(.int(small), at: offset)
        } else {
          try pushNode(.bigInt(graph.store(bytes)), at: offset)
        }
      default: throw .invalidArgument("integer expected")
      }
    case .string, .binstring, .shortBinstring:
      switch argument {
      case .bytes(let b)?: try pushNode(.legacyString(graph.store(b)), at: offset)
      case .text(let b)?: try pushNode(.legacyString(graph.store(b)), at: offset)
      default: throw .invalidArgument("string expected")
      }
    case .binbytes, .shortBinbytes, .binbytes8:
      guard case .bytes(let b)? = argument else { throw .invalidArgument("bytes expected") }
      try pushNode(.bytes(graph.store(b)), at: offset)
    case .bytearray8:
      guard case .bytes(let b)? = argument else { throw .invalidArgument("bytes expected") }
      try pushNode(.bytearray(graph.store(b)), at: offset)
    case .nextBuffer:
      throw .outOfBandBuffer
    case .readonlyBuffer:
      // Anything with the buffer protocol: bytes, bytearray, or an object whose type we cannot
      // know statically (a REDUCE result may well be a buffer).
      let value = try top()
      switch graph[value] {
      case .bytes, .bytearray: break
      case _ where isOpaque(value): break
      default: throw .wrongOperand("READONLY_BUFFER on a \(graph.kindName(value))")
      }
    case .none:
      try pushNode(.none, at: offset)
    case .newtrue:
      try pushNode(.bool(true), at: offset)
    case .newfalse:
      try pushNode(.bool(false), at: offset)
    case .unicode:
      guard case .text(let b)? = argument else { throw .invalidArgument("text expected") }
      try pushNode(.string(graph.store(b)), at: offset)
    case .shortBinunicode, .binunicode, .binunicode8:
      guard case .bytes(let b)? = argument else { throw .invalidArgument("text expected") }
      try pushNode(try string(b, at: offset), at: offset)
    case .float, .binfloat:
      guard case .float(let v)? = argument else { throw .invalidArgument("float expected") }
      try pushNode(.float(v), at: offset)
    case .emptyList:
      try pushNode(.list(graph.newContainer()), at: offset)
    case .append:
      let value = try pop()
      try appendItems([value], to: try top())
    case .appends:
      let items = try popMark()
      if items.isEmpty { return }
      try appendItems(items, to: try top())
    case .list:
      let items = try popMark()
      try pushNode(.list(graph.newContainer(Array(items))), at: offset)
    case .emptyTuple:
      try pushNode(.tuple(PoolSlice(start: 0, count: 0)), at: offset)
    case .tuple:
      let items = try popMark()
      try pushNode(.tuple(graph.store(ids: items)), at: offset)
    case .tuple1, .tuple2, .tuple3:
      let n = instruction.opcode == .tuple1 ? 1 : instruction.opcode == .tuple2 ? 2 : 3
      guard available >= n else { throw .stackUnderflow }
      let items = stack.suffix(n)
      stack.removeLast(n)
      try pushNode(.tuple(graph.store(ids: items)), at: offset)
    case .emptyDict:
      try pushNode(.dict(graph.newContainer()), at: offset)
    case .dict:
      let items = try popMark()
      guard items.count % 2 == 0 else { throw .wrongOperand("odd number of items for DICT") }
      try pushNode(.dict(graph.newContainer(Array(items))), at: offset)
    case .setitem:
      guard available >= 3 else { throw .stackUnderflow }
      let value = stack.removeLast()
      let key = stack.removeLast()
      try setItems([key, value], on: try top())
    case .setitems:
      let items = try popMark()
      if items.isEmpty { return }
      try setItems(items, on: try top())
    case .emptySet:
      try pushNode(.set(graph.newContainer()), at: offset)
    case .additems:
      let items = try popMark()
      if items.isEmpty { return }
      try addItems(items, to: try top())
    case .frozenset:
      let items = try popMark()
      try pushNode(.frozenset(graph.store(ids: items)), at: offset)
    case .pop:
      if let mark = marks.last, mark == stack.count {
        marks.removeLast()
      } else {
        _ = try pop()
      }
    case .dup:
      try push(try top())
    case .mark:
      guard marks.count < limits.maxMarkDepth else {
        throw .limitExceeded(.markDepth, limit: limits.maxMarkDepth)
      }
      marks.append(stack.count)
    case .popMark:
      _ = try popMark()
    case .get, .binget, .longBinget:
      switch argument {
      case .int(let key)?: try push(try memoGet(key))
      case .bool(let b)?: try push(try memoGet(b ? 1 : 0))
      default: throw .memoKeyMissing(-1)
      }
    case .put, .binput, .longBinput:
      let value = try top()
      switch argument {
      case .int(let key)?: try memoPut(key, value)
      case .bool(let b)?: try memoPut(b ? 1 : 0, value)
      default: throw .wrongOperand("memo key too large")
      }
    case .memoize:
      try memoPut(Int64(memoCount), try top())
    case .ext1, .ext2, .ext4:
      guard case .int(let code)? = argument, code > 0 else {
        throw .wrongOperand("EXT specifies code <= 0")
      }
      try pushNode(.ext(Int32(truncatingIfNeeded: code)), at: offset)
    case .global:
      guard case .pair(let module, let name)? = argument else {
        throw .invalidArgument("names expected")
      }
      try push(try global(module: module, name: name, at: offset))
    case .stackGlobal:
      guard available >= 2 else { throw .stackUnderflow }
      let name = stack.removeLast()
      let module = stack.removeLast()
      // CPython decodes Python 2 strings to str too, so both spellings name a global.
      let m: PoolSlice
      let n: PoolSlice
      switch (graph[module], graph[name]) {
      case (.string(let a), .string(let b)), (.legacyString(let a), .legacyString(let b)),
        (.string(let a), .legacyString(let b)), (.legacyString(let a), .string(let b)):
        m = a
        n = b
      default:
        // An operand computed at load time (a call's result, a global that is a str, an
        // extension or persistent object) may well be a str: CPython imports whatever it
        // is. Record the lookup as a call of `find_class` on the operands.
        guard isStringOrOpaque(module), isStringOrOpaque(name) else {
          throw .wrongOperand("STACK_GLOBAL requires str")
        }
        let finder = try global(
          module: Array(Self.computedImportModule.utf8), name: Array(Self.computedImportName.utf8),
          at: offset)
        let operands = try node(.tuple(graph.store(ids: [module, name])), at: offset)
        try push(try object(.reduce(callable: finder, args: operands), at: offset))
        return
      }
      try push(
        try global(module: Array(graph.bytes(m)), name: Array(graph.bytes(n)), at: offset))
    case .reduce:
      guard available >= 2 else { throw .stackUnderflow }
      let args = stack.removeLast()
      let callable = stack.removeLast()
      try push(try object(.reduce(callable: callable, args: args), at: offset))
    case .build:
      guard available >= 2 else { throw .stackUnderflow }
      let state = stack.removeLast()
      let target = try top()
      // CPython needs __setstate__ or a __dict__: containers and scalars have neither. But an
      // empty state sets nothing, so CPython reads on whatever the target.
      guard isOpaque(target) else {
        if isEmptyState(state) { return }
        throw .wrongOperand("BUILD on a \(graph.kindName(target))")
      }
      graph.mutate(target, .build(state))
    case .inst:
      guard case .pair(let module, let name)? = argument else {
        throw .invalidArgument("names expected")
      }
      // The pure-Python unpickler (joblib's, dill's) imports the class before it looks for
      // the MARK: the import happens even when the MARK is missing.
      let cls = try global(module: module, name: name, at: offset)
      let args = try popMark()
      try push(try instantiate(cls, args, at: offset))
    case .obj:
      let items = try popMark()
      guard let cls = items.first else { throw .stackUnderflow }
      try push(try instantiate(cls, items.dropFirst(), at: offset))
    case .newobj:
      guard available >= 2 else { throw .stackUnderflow }
      let args = stack.removeLast()
      let cls = stack.removeLast()
      try push(try object(.newobj(cls: cls, args: args), at: offset))
    case .newobjEx:
      guard available >= 3 else { throw .stackUnderflow }
      let kwargs = stack.removeLast()
      let args = stack.removeLast()
      let cls = stack.removeLast()
      try push(try object(.newobjEx(cls: cls, args: args, kwargs: kwargs), at: offset))
    case .persid:
      guard case .text(let b)? = argument else { throw .invalidArgument("text expected") }
      guard b.allSatisfy({ $0 < 0x80 }) else {
        throw .wrongOperand("persistent IDs in protocol 0 must be ASCII strings")
      }
      let pid = try node(.string(graph.store(b)), at: offset)
      try pushNode(.persistentID(pid), at: offset)
    case .binpersid:
      let pid = try pop()
      try pushNode(.persistentID(pid), at: offset)
    case .proto, .frame, .stop:
      break  // handled by `load`
    }
  }

  private mutating func object(_ construction: Construction, at offset: Int) throws(PickleError
    .Reason)
    -> ValueID
  {
    guard graph.count < limits.maxNodes else {
      throw .limitExceeded(.nodes, limit: limits.maxNodes)
    }
    return graph.addObject(construction, at: offset)
  }
}
