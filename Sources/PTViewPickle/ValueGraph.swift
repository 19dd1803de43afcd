/// Identifies one node of a `ValueGraph`.
public struct ValueID: Hashable, Comparable, Sendable, CustomStringConvertible {
  /// Index into the graph's node arena.
  public var index: Int32

  /// Wraps an arena index.
  public init(_ index: Int32) { self.index = index }

  public static func < (lhs: ValueID, rhs: ValueID) -> Bool { lhs.index < rhs.index }
  public var description: String { "#\(index)" }
}

/// A run of bytes or ids inside one of the graph's pools. Stored as two 32-bit numbers so a
/// node is 16 bytes, not 24: graphs of millions of nodes are a third smaller (the machine
/// refuses input that could push a pool past 4 GiB).
public struct PoolSlice: Hashable, Sendable {
  @usableFromInline var first: UInt32
  @usableFromInline var length: UInt32

  /// First element in the pool.
  @inlinable public var start: Int {
    get { Int(first) }
    set { first = UInt32(newValue) }
  }
  /// Number of elements.
  @inlinable public var count: Int {
    get { Int(length) }
    set { length = UInt32(newValue) }
  }

  /// Creates a slice.
  @inlinable public init(start: Int, count: Int) {
    first = UInt32(start)
    length = UInt32(count)
  }
}

/// One decoded value. Payloads point into the graph's pools, so a node is plain data
/// (no reference counting) and an arena of millions of them stays cheap.
public enum Node: Hashable, Sendable {
  case none
  case bool(Bool)
  /// An integer that fits in 64 bits.
  case int(Int64)
  /// A larger integer: little-endian two's complement bytes in `bytes`.
  case bigInt(PoolSlice)
  case float(Double)
  /// A Python 3 `str`: UTF-8 bytes (lone surrogates encoded as CPython's surrogatepass).
  case string(PoolSlice)
  /// A Python 2 `str` (STRING, BINSTRING, SHORT_BINSTRING): raw bytes, decoded by the loader.
  case legacyString(PoolSlice)
  case bytes(PoolSlice)
  case bytearray(PoolSlice)
  /// Element ids in `ids`.
  case tuple(PoolSlice)
  /// Index into `containers` (elements).
  case list(Int32)
  /// Index into `containers` (keys and values interleaved, in insertion order).
  case dict(Int32)
  /// Index into `containers` (elements, in insertion order).
  case set(Int32)
  /// Element ids in `ids`.
  case frozenset(PoolSlice)
  /// A class or function named by GLOBAL, STACK_GLOBAL or INST: `module` then `name`, the two
  /// slices adjacent in `bytes` (see `ValueGraph.globalName`).
  case global(module: PoolSlice, nameCount: Int32)
  /// The result of a call or instantiation; index into `objects`.
  case object(Int32)
  /// A persistent id reference (PERSID, BINPERSID); the payload is the pid value.
  case persistentID(ValueID)
  /// EXT1/EXT2/EXT4: an object from the copyreg extension registry, unknown without it.
  case ext(Int32)
}

/// How an object node was made. Nothing was called: this records what a real unpickler would call.
public enum Construction: Hashable, Sendable {
  /// REDUCE: `callable(*args)`.
  case reduce(callable: ValueID, args: ValueID)
  /// NEWOBJ (and INST/OBJ without arguments): `cls.__new__(cls, *args)`.
  case newobj(cls: ValueID, args: ValueID)
  /// NEWOBJ_EX: `cls.__new__(cls, *args, **kwargs)`.
  case newobjEx(cls: ValueID, args: ValueID, kwargs: ValueID)

  /// The class or callable.
  public var callee: ValueID {
    switch self {
    case .reduce(let callable, _): callable
    case .newobj(let cls, _), .newobjEx(let cls, _, _): cls
    }
  }

  /// The positional-arguments tuple.
  public var args: ValueID {
    switch self {
    case .reduce(_, let args), .newobj(_, let args), .newobjEx(_, let args, _): args
    }
  }
}

/// A change applied to an existing object after it was made, in stream order.
public enum Mutation: Hashable, Sendable {
  /// BUILD: `__setstate__(state)` or an update of `__dict__`.
  case build(ValueID)
  /// SETITEM(S) on something that is not a dict.
  case setItem(key: ValueID, value: ValueID)
  /// APPEND(S) on something that is not a list.
  case append(ValueID)
  /// ADDITEMS on something that is not a set.
  case add(ValueID)
}

/// The arena every decode writes into: nodes plus the pools their payloads point into.
///
/// Memo references share a `ValueID` rather than copying, so shared objects stay shared and
/// cycles are representable. Several pickles (the legacy format has five) can share one graph.
public struct ValueGraph: Sendable {
  /// The nodes, indexed by `ValueID.index`.
  public private(set) var nodes: [Node] = []
  /// The absolute byte offset of the opcode that created each node.
  public private(set) var offsets: [Int] = []
  /// String, bytes and big-integer payloads.
  public private(set) var bytes: [UInt8] = []
  /// Tuple and frozenset elements.
  public private(set) var ids: [ValueID] = []
  /// Elements of lists, dicts (key, value, key, value...) and sets.
  public private(set) var containers: [[ValueID]] = []
  /// How each object was made.
  public private(set) var objects: [Construction] = []
  /// Mutations, per node index, in stream order.
  public private(set) var mutations: [Int32: [Mutation]] = [:]

  /// An empty graph.
  public init() {}

  /// Number of nodes.
  @inlinable public var count: Int { nodes.count }

  /// A short noun for a node's kind, for messages (`BUILD on a list`).
  public func kindName(_ id: ValueID) -> String {
    switch self[id] {
    case .none: "None"
    case .bool: "bool"
    case .int, .bigInt: "int"
    case .float: "float"
    case .string, .legacyString: "str"
    case .bytes: "bytes"
    case .bytearray: "bytearray"
    case .tuple: "tuple"
    case .list: "list"
    case .dict: "dict"
    case .set: "set"
    case .frozenset: "frozenset"
    case .global: "global"
    case .object: "object"
    case .persistentID: "persistent id"
    case .ext: "extension object"
    }
  }

  /// The node behind an id.
  @inlinable public subscript(id: ValueID) -> Node { nodes[Int(id.index)] }

  /// Where the opcode that made `id` starts.
  @inlinable public func offset(of id: ValueID) -> Int { offsets[Int(id.index)] }

  // MARK: - Building

  /// Reserves room for about `bytes` more bytes of pickle: an opcode makes at most one node, and
  /// torch pickles average a node per three bytes. Reserving up front avoids copying (and
  /// page-faulting) the arena again at every doubling; untouched reserved pages cost nothing.
  public mutating func reserve(forPickleBytes bytes: Int) {
    let nodes = self.nodes.count + bytes / 3
    self.nodes.reserveCapacity(nodes)
    offsets.reserveCapacity(nodes)
    ids.reserveCapacity(self.ids.count + bytes / 6)
    self.bytes.reserveCapacity(self.bytes.count + bytes / 4)
  }

  /// Appends a node and returns its id.
  public mutating func add(_ node: Node, at offset: Int) -> ValueID {
    let id = ValueID(Int32(truncatingIfNeeded: nodes.count))
    nodes.append(node)
    offsets.append(offset)
    return id
  }

  /// Copies bytes into the pool.
  public mutating func store<C: Collection<UInt8>>(_ data: C) -> PoolSlice {
    let start = bytes.count
    bytes.append(contentsOf: data)
    return PoolSlice(start: start, count: bytes.count - start)
  }

  /// Copies ids into the pool.
  public mutating func store<C: Collection<ValueID>>(ids items: C) -> PoolSlice {
    let start = ids.count
    ids.append(contentsOf: items)
    return PoolSlice(start: start, count: ids.count - start)
  }

  /// Adds a string node holding UTF-8 `text`.
  public mutating func addString(_ text: String, at offset: Int) -> ValueID {
    add(.string(store(Array(text.utf8))), at: offset)
  }

  /// Adds a tuple node.
  public mutating func addTuple<C: Collection<ValueID>>(_ items: C, at offset: Int) -> ValueID {
    add(.tuple(store(ids: items)), at: offset)
  }

  /// Adds a global node.
  public mutating func addGlobal(module: String, name: String, at offset: Int) -> ValueID {
    let slice = store(Array(module.utf8) + Array(name.utf8))
    return add(
      .global(
        module: PoolSlice(start: slice.start, count: module.utf8.count),
        nameCount: Int32(name.utf8.count)), at: offset)
  }

  /// Adds an empty (or prefilled) list, dict or set container and returns its index.
  public mutating func newContainer(_ items: [ValueID] = []) -> Int32 {
    containers.append(items)
    return Int32(truncatingIfNeeded: containers.count - 1)
  }

  /// Adds elements to a list, dict or set container.
  public mutating func extend<C: Collection<ValueID>>(container: Int32, with items: C) {
    containers[Int(container)].append(contentsOf: items)
  }

  /// Replaces one element of a container (SETITEM on a list).
  public mutating func replace(container: Int32, at index: Int, with item: ValueID) {
    containers[Int(container)][index] = item
  }

  /// Adds an object node.
  public mutating func addObject(_ construction: Construction, at offset: Int) -> ValueID {
    objects.append(construction)
    return add(.object(Int32(truncatingIfNeeded: objects.count - 1)), at: offset)
  }

  /// Records a mutation of `target`.
  public mutating func mutate(_ target: ValueID, _ mutation: Mutation) {
    mutations[target.index, default: []].append(mutation)
  }

  /// Replaces the mutations of `target` (edits that rebuild an object in place).
  public mutating func setMutations(of target: ValueID, _ list: [Mutation]) {
    mutations[target.index] = list.isEmpty ? nil : list
  }

  /// Replaces a node in place (used by edits that swap a value, never by the VM).
  public mutating func replace(_ id: ValueID, with node: Node) {
    nodes[Int(id.index)] = node
  }

  // MARK: - Reading

  // The accessors the reading core calls per node are inlinable: as calls across the module
  // boundary, the node subscript alone was a fifth of walking a big checkpoint's paths.

  /// The bytes of a pool slice.
  @inlinable public func bytes(_ slice: PoolSlice) -> ArraySlice<UInt8> {
    bytes[slice.start..<(slice.start + slice.count)]
  }

  /// The ids of a pool slice.
  @inlinable public func ids(_ slice: PoolSlice) -> ArraySlice<ValueID> {
    ids[slice.start..<(slice.start + slice.count)]
  }

  /// The elements of a container.
  @inlinable public func container(_ index: Int32) -> [ValueID] { containers[Int(index)] }

  /// The construction of an object.
  @inlinable public func construction(_ index: Int32) -> Construction { objects[Int(index)] }

  /// The mutations applied to `id`, in order.
  public func mutations(of id: ValueID) -> [Mutation] { mutations[id.index] ?? [] }

  /// Text of a UTF-8 slice; invalid sequences (lone surrogates) become U+FFFD.
  public func text(_ slice: PoolSlice) -> String {
    String(decoding: bytes(slice), as: UTF8.self)
  }

  /// The module and name of a global node.
  public func globalName(module: PoolSlice, nameCount: Int32) -> (module: String, name: String) {
    let name = PoolSlice(start: module.start + module.count, count: Int(nameCount))
    return (text(module), text(name))
  }

  /// The string value of a `str` (or Python 2 `str`) node, if it is one.
  public func string(_ id: ValueID) -> String? {
    switch self[id] {
    case .string(let s), .legacyString(let s): text(s)
    default: nil
    }
  }

  /// The integer value of an int node that fits in 64 bits (bools count, as in Python).
  public func int(_ id: ValueID) -> Int64? {
    switch self[id] {
    case .int(let v): v
    case .bool(let b): b ? 1 : 0
    case .bigInt(let s): PyLong.int64(bytes(s))
    default: nil
    }
  }

  /// The elements of a tuple or list node, without copying them.
  @inlinable public func elements(_ id: ValueID) -> ArraySlice<ValueID>? {
    switch self[id] {
    case .tuple(let s): ids(s)
    case .list(let c): containers[Int(c)][...]
    default: nil
    }
  }

  /// Whether a `str` node holds exactly `text` (compared as bytes, no String built).
  public func stringEquals(_ id: ValueID, _ text: StaticString) -> Bool {
    guard case .string(let s) = self[id], s.count == text.utf8CodeUnitCount else { return false }
    return text.withUTF8Buffer { expected in
      var i = s.start
      for byte in expected {
        if bytes[i] != byte { return false }
        i += 1
      }
      return true
    }
  }

  /// A 64-bit FNV-1a hash of a pool slice (for cheap duplicate detection).
  public func hash(_ slice: PoolSlice) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for i in slice.start..<(slice.start + slice.count) {
      h = (h ^ UInt64(bytes[i])) &* 0x100_0000_01b3
    }
    return h
  }

  /// The elements of a tuple or list node.
  public func sequence(_ id: ValueID) -> [ValueID]? {
    switch self[id] {
    case .tuple(let s): Array(ids(s))
    case .list(let c): container(c)
    default: nil
    }
  }

  /// `module.name` of a global node.
  public func qualifiedName(_ id: ValueID) -> String? {
    guard case .global(let module, let nameCount) = self[id] else { return nil }
    let (m, n) = globalName(module: module, nameCount: nameCount)
    return m + "." + n
  }
}
