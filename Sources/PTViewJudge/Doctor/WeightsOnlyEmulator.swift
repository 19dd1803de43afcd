import PTViewCore
import PTViewPickle

/// Runs a pickle the way torch 2.15's `_weights_only_unpickler.Unpickler` would, over abstract
/// values: which opcodes it refuses, which globals are outside its allowlist, which BUILD,
/// APPEND and SETITEM targets it rejects, and which storages (record, size, location) its
/// `persistent_load` asks for. Unlike torch it does not stop at the first failure: a refused
/// global is assumed allowlisted (so the list of everything to allowlist is complete) and an
/// unsupported opcode is run with CPython's meaning.
struct WeightsOnlyEmulator {
  /// An abstract Python value.
  enum Value {
    case none, bool(Bool), int(Int64), bigInt, float, str(String), bytes
    case tuple([Value])
    case list
    /// A dict; `moduleState` when it has `_modules` or `_parameters` keys (an nn.Module's state).
    case dict(moduleState: Bool)
    /// A global pushed by GLOBAL: its full name; `allowed` when torch's default set has it.
    case global(String, allowed: Bool)
    /// An instance of the named type (`torch.Tensor`, `collections.OrderedDict`, ...).
    case instance(String)
    /// A storage from `persistent_load`: its size in bytes, when known.
    case storage(bytes: Int64?, element: Int)
    /// Anything: a value past a failure, or one the model does not track.
    case unknown

    var typeName: String? {
      switch self {
      case .none: "builtins.NoneType"
      case .bool: "builtins.bool"
      case .int, .bigInt: "builtins.int"
      case .float: "builtins.float"
      case .str: "builtins.str"
      case .bytes: "builtins.bytes"
      case .tuple: "builtins.tuple"
      case .list: "builtins.list"
      case .dict: "builtins.dict"
      case .instance(let t): t
      case .global: "builtins.type"
      case .storage: "torch.storage.TypedStorage"
      case .unknown: nil
      }
    }
    var string: String? {
      if case .str(let s) = self { return s }
      return nil
    }
  }

  /// A storage reference met by `persistent_load`.
  struct StorageUse {
    var key: String
    var location: String
    var storageType: String
    var numel: Int64
    var offset: Int64
  }

  /// What torch's loader would do with the persistent ids: zip (5-tuple) or legacy (6-tuple).
  enum Flavor { case zip, legacy, plain }

  var flavor: Flavor
  var record: String
  var base: Int64
  var problems: [DoctorProblem] = []
  var storages: [StorageUse] = []
  /// Device arguments of `_rebuild_device_tensor_from_cpu_tensor` and friends.
  var deviceArguments: [(String, Int64)] = []
  /// Globals (and BUILD types) that `add_safe_globals` would need, in order of first use.
  var needed: [String] = []
  /// Classes instantiated with NEWOBJ whose state looks like an `nn.Module`.
  var moduleClasses: [String] = []
  /// The value STOP returned.
  var root: Value = .unknown
  /// Whether the pickle decoded to STOP.
  var completed = false
  var end = 0

  private var stack: [Value] = []
  private var metastack: [[Value]] = []
  private var memo = Memo()
  private var reportedOpcodes: Set<UInt8> = []
  private var userAllowed: Set<String> = []
  /// Index of each NEWOBJ result on the stack, to spot nn.Module states at BUILD.
  private var newobjClass: [Int: String] = [:]

  /// The unpickler's memo: picklers number entries 0, 1, 2..., so an array holds them, with a
  /// dictionary for keys that do not follow on (a hash per opcode was most of checking a
  /// pickle of tens of thousands of tensors).
  struct Memo {
    private var dense: [Value?] = []
    private var sparse: [Int64: Value] = [:]
    /// Number of keys set.
    private(set) var count = 0

    subscript(key: Int64) -> Value? {
      get {
        if key >= 0, key < dense.count { return dense[Int(key)] }
        return sparse[key]
      }
      set {
        guard let newValue else { return }
        if key >= 0, key < dense.count {
          if dense[Int(key)] == nil { count += 1 }
          dense[Int(key)] = newValue
        } else if key == dense.count, sparse.isEmpty || sparse[key] == nil {
          dense.append(newValue)
          count += 1
        } else {
          if sparse.updateValue(newValue, forKey: key) == nil { count += 1 }
        }
      }
    }
  }

  init(flavor: Flavor, record: String, base: Int64) {
    self.flavor = flavor
    self.record = record
    self.base = base
  }

  /// torch's weights_only opcode set.
  static let accepted: Set<Opcode> = [
    .global, .newobj, .reduce, .build, .append, .appends, .setitem, .setitems, .mark, .tuple,
    .tuple1,
    .tuple2, .tuple3, .none, .newfalse, .newtrue, .emptyTuple, .emptyList, .emptyDict, .emptySet,
    .binint,
    .binint1, .binint2, .binfloat, .binunicode, .shortBinstring, .binpersid, .binget, .longBinget,
    .binput,
    .longBinput, .long1, .proto, .stop,
  ]

  /// `accepted` by opcode byte: a lookup per opcode instead of a hash.
  static let acceptedByByte: [Bool] = {
    var table = [Bool](repeating: false, count: 256)
    for op in accepted { table[Int(op.rawValue)] = true }
    return table
  }()

  /// Opcodes a protocol-2 rewrite cannot express for torch (so `ptview remap` does not help).
  static let unfixable: Set<Opcode> = [
    .persid, .ext1, .ext2, .ext4, .newobjEx, .nextBuffer, .readonlyBuffer,
  ]

  // MARK: - Running

  mutating func run(_ bytes: [UInt8], from start: Int) {
    var reader = InstructionReader(bytes: bytes, base: 0, position: start)
    let accepted = Self.acceptedByByte
    while true {
      let instruction: Instruction
      do { instruction = try reader.next() } catch {
        fail(
          .structure, .code, "the pickle is truncated or corrupt: \(error.reason.message)",
          offset: error.offset)
        return
      }
      let op = instruction.opcode
      let offset = Int64(instruction.offset)
      if !accepted[Int(op.rawValue)] && reportedOpcodes.insert(op.rawValue).inserted {
        let fix: DoctorProblem.Fix = Self.unfixable.contains(op) ? .code : .rewrite
        var message =
          "opcode \(op.info.name) (protocol \(op.info.protocolVersion)) is refused by the weights_only unpickler (Unsupported operand \(op.rawValue))"
        if op == .persid {
          message =
            "storage ids are written as text (PERSID, a protocol-0 save): torch.load cannot read them in any mode"
        }
        problems.append(
          DoctorProblem(
            .opcode, fix, message, record: record, offset: base + offset, subject: op.info.name))
      }
      if op == .stop {
        root = stack.popLast() ?? .unknown
        completed = true
        end = reader.position
        return
      }
      execute(instruction, offset: offset)
    }
  }

  private mutating func fail(
    _ kind: DoctorProblem.Kind, _ fix: DoctorProblem.Fix, _ message: String, offset: Int? = nil,
    subject: String? = nil
  ) {
    problems.append(
      DoctorProblem(
        kind, fix, message, record: record, offset: offset.map { base + Int64($0) },
        subject: subject))
  }

  private mutating func pop() -> Value { stack.popLast() ?? .unknown }
  private mutating func popMark() -> [Value] {
    let items = stack
    stack = metastack.popLast() ?? []
    depthBase -= stack.count
    return items
  }
  /// Items below the current MARK (for stack positions that survive MARKs).
  private var depthBase = 0

  private mutating func push(_ v: Value) { stack.append(v) }

  private mutating func need(_ name: String) {
    if !needed.contains(name) { needed.append(name) }
    userAllowed.insert(name)
  }

  /// torch's GLOBAL: names mapped with torch's own (smaller) Python 2 tables.
  static func torchName(module: String, name: String) -> String {
    let nameMapping: [String: (String, String)] = [
      "__builtin__.xrange": ("builtins", "range"), "__builtin__.reduce": ("functools", "reduce"),
      "__builtin__.intern": ("sys", "intern"), "__builtin__.unichr": ("builtins", "chr"),
      "__builtin__.unicode": ("builtins", "str"), "__builtin__.long": ("builtins", "int"),
      "itertools.izip": ("builtins", "zip"), "itertools.imap": ("builtins", "map"),
      "itertools.ifilter": ("builtins", "filter"),
      "itertools.ifilterfalse": ("itertools", "filterfalse"),
      "itertools.izip_longest": ("itertools", "zip_longest"),
      "UserDict.IterableUserDict": ("collections", "UserDict"),
      "UserList.UserList": ("collections", "UserList"),
      "UserString.UserString": ("collections", "UserString"),
      "__builtin__.basestring": ("builtins", "str"),
      "exceptions.StandardError": ("builtins", "Exception"),
      "UserDict.UserDict": ("collections", "UserDict"),
    ]
    let importMapping: [String: String] = [
      "__builtin__": "builtins", "copy_reg": "copyreg", "Queue": "queue", "repr": "reprlib",
      "_abcoll": "collections.abc", "UserDict": "collections", "UserList": "collections",
      "UserString": "collections", "whichdb": "dbm", "StringIO": "io", "cStringIO": "io",
    ]
    if let (m, n) = nameMapping[module + "." + name] { return m + "." + n }
    return (importMapping[module] ?? module) + "." + name
  }

  private mutating func global(_ full: String, offset: Int64) -> Value {
    let module = full.split(separator: ".").dropLast().joined(separator: ".")
    let moduleOnly = String(full[..<(full.lastIndex(of: ".") ?? full.endIndex)])
    if ["sys", "os", "posix", "nt"].contains(moduleOnly)
      || ["sys", "os", "posix", "nt"].contains(module)
    {
      fail(
        .global, .code,
        "GLOBAL \(full): module \(moduleOnly) is blocked by the weights_only unpickler even if allowlisted",
        offset: Int(offset), subject: full)
      return .unknown
    }
    if SafetyPolicy.torchWeightsOnly.contains(full) { return .global(full, allowed: true) }
    if full.hasPrefix("torch.distributed.tensor")
      || full == "torch.distributed.device_mesh.DeviceMesh"
    {
      fail(
        .global, .code,
        "GLOBAL \(full): torch.distributed.tensor must be imported before torch.load to load DTensors",
        offset: Int(offset), subject: full)
    }
    if !userAllowed.contains(full) {
      let shown = full.hasPrefix("builtins.") ? String(full.dropFirst(9)) : full
      fail(
        .global, .code, "GLOBAL \(shown) is not an allowed global by default", offset: Int(offset),
        subject: full)
    }
    need(full)
    return .global(full, allowed: false)
  }

  // MARK: - Opcodes

  private mutating func execute(_ instruction: Instruction, offset: Int64) {
    let arg = instruction.argument
    switch instruction.opcode {
    case .proto, .frame: break
    case .none: push(.none)
    case .newtrue: push(.bool(true))
    case .newfalse: push(.bool(false))
    case .int, .binint, .binint1, .binint2, .long, .long1, .long4:
      switch arg {
      case .int(let v)?: push(.int(v))
      case .bool(let b)?: push(.bool(b))
      case .long(let bytes)?: push(PyLong.int64(bytes).map { .int($0) } ?? .bigInt)
      default: push(.unknown)
      }
    case .float, .binfloat: push(.float)
    case .binunicode, .shortBinunicode, .binunicode8:
      if case .bytes(let b)? = arg {
        push(.str(String(decoding: b, as: UTF8.self)))
      } else {
        push(.unknown)
      }
    case .unicode:
      if case .text(let b)? = arg {
        push(.str(String(decoding: b, as: UTF8.self)))
      } else {
        push(.unknown)
      }
    case .string, .binstring, .shortBinstring:
      // torch.load passes encoding='utf-8': Python 2 strings become str (or fail to decode).
      switch arg {
      case .bytes(let b)?:
        if UTF8Writer.isValid(b) {
          push(.str(String(decoding: b, as: UTF8.self)))
        } else {
          fail(
            .structure, .code,
            "a Python 2 string is not valid UTF-8 (torch.load decodes them as UTF-8)",
            offset: Int(offset))
          push(.unknown)
        }
      case .text(let b)?: push(.str(String(decoding: b, as: UTF8.self)))
      default: push(.unknown)
      }
    case .binbytes, .shortBinbytes, .binbytes8, .bytearray8: push(.bytes)
    case .emptyTuple: push(.tuple([]))
    case .emptyList: push(.list)
    case .emptyDict: push(.dict(moduleState: false))
    case .emptySet: push(.instance("builtins.set"))
    case .mark:
      depthBase += stack.count
      metastack.append(stack)
      stack = []
    case .tuple: push(.tuple(popMark()))
    case .tuple1:
      let a = pop()
      push(.tuple([a]))
    case .tuple2:
      let b = pop()
      let a = pop()
      push(.tuple([a, b]))
    case .tuple3:
      let c = pop()
      let b = pop()
      let a = pop()
      push(.tuple([a, b, c]))
    case .list: _ = popMark(); push(.list)
    case .dict:
      let items = popMark()
      push(.dict(moduleState: Self.hasModuleKeys(items)))
    case .frozenset: _ = popMark(); push(.instance("builtins.frozenset"))
    case .pop:
      if stack.isEmpty { _ = popMark() } else { _ = pop() }
    case .popMark: _ = popMark()
    case .dup: push(stack.last ?? .unknown)
    case .append:
      _ = pop()
      checkAppend(offset: offset)
    case .appends:
      _ = popMark()
      checkAppend(offset: offset)
    case .setitem:
      _ = pop()
      let key = pop()
      checkSetItem(offset: offset)
      markModuleState([key, .none])
    case .setitems:
      let items = popMark()
      checkSetItem(offset: offset)
      markModuleState(items)
    case .additems: _ = popMark()
    case .get, .binget, .longBinget:
      if case .int(let k)? = arg { push(memo[k] ?? .unknown) } else { push(.unknown) }
    case .put, .binput, .longBinput:
      if case .int(let k)? = arg { memo[k] = stack.last ?? .unknown }
    case .memoize: memo[Int64(memo.count)] = stack.last ?? .unknown
    case .global, .inst:
      guard case .pair(let m, let n)? = arg else { push(.unknown); return }
      let full = Self.torchName(
        module: String(decoding: m, as: UTF8.self), name: String(decoding: n, as: UTF8.self))
      let g = global(full, offset: offset)
      if instruction.opcode == .inst {
        let args = popMark()
        push(call(g, args: args, offset: offset))
      } else {
        push(g)
      }
    case .stackGlobal:
      let name = pop()
      let module = pop()
      if let m = module.string, let n = name.string {
        push(global(m + "." + n, offset: offset))
      } else {
        push(.unknown)
      }
    case .obj:
      var items = popMark()
      let cls = items.isEmpty ? Value.unknown : items.removeFirst()
      push(call(cls, args: items, offset: offset))
    case .reduce:
      let args = pop()
      let f = pop()
      if case .tuple(let items) = args {
        push(call(f, args: items, offset: offset))
      } else {
        push(call(f, args: [], offset: offset))
      }
    case .newobj, .newobjEx:
      if instruction.opcode == .newobjEx { _ = pop() }
      let args = pop()
      let cls = pop()
      push(newobj(cls, args: args, offset: offset))
    case .build:
      let state = pop()
      build(state, offset: offset)
    case .persid:
      push(.unknown)
    case .binpersid:
      let pid = pop()
      push(persistentLoad(pid, offset: offset))
    case .ext1, .ext2, .ext4, .nextBuffer:
      push(.unknown)
    case .readonlyBuffer, .stop:
      break
    }
  }

  private mutating func checkAppend(offset: Int64) {
    switch stack.last {
    case .list?, .unknown?, nil: break
    case let v?:
      fail(
        .structure, .code,
        "APPEND on a \(v.typeName ?? "?"): the weights_only unpickler only appends to lists",
        offset: Int(offset))
    }
  }

  static func hasModuleKeys(_ items: [Value]) -> Bool {
    var i = 0
    while i < items.count {
      if let k = items[i].string, k == "_modules" || k == "_parameters" { return true }
      i += 2
    }
    return false
  }

  private mutating func markModuleState(_ items: [Value]) {
    if case .dict(false)? = stack.last, Self.hasModuleKeys(items) {
      stack[stack.count - 1] = .dict(moduleState: true)
    }
  }

  private mutating func checkSetItem(offset: Int64) {
    switch stack.last {
    case .dict?, .unknown?, nil: break
    case .instance(let t)? where t == "collections.OrderedDict" || t == "collections.Counter": break
    case let v?:
      fail(
        .structure, .code,
        "SETITEM on a \(v.typeName ?? "?"): the weights_only unpickler only sets items of dict, OrderedDict and Counter",
        offset: Int(offset))
    }
  }

  // MARK: - Calls

  static let tensorRebuilders: Set<String> = [
    "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_tensor_v3",
    "torch._utils._rebuild_qtensor", "torch._utils._rebuild_sparse_tensor",
    "torch._utils._rebuild_meta_tensor_no_storage", "torch._utils._rebuild_nested_tensor",
    "torch._utils._rebuild_sparse_csr_tensor", "torch._utils._rebuild_xla_tensor",
    "torch._utils._rebuild_mps_tensor",
  ]

  private mutating func call(_ f: Value, args: [Value], offset: Int64) -> Value {
    guard case .global(let name, _) = f else {
      if case .unknown = f { return .unknown }
      fail(
        .structure, .code, "REDUCE calls a \(f.typeName ?? "value") that is not an allowed global",
        offset: Int(offset))
      return .unknown
    }
    switch name {
    case "collections.OrderedDict", "collections.Counter", "builtins.set", "builtins.bytearray",
      "builtins.complex",
      "torch.Size", "torch.device", "torch.Tensor":
      return .instance(name)
    case "torch.nn.parameter.Parameter", "torch._utils._rebuild_parameter",
      "torch._utils._rebuild_parameter_with_state":
      return .instance("torch.nn.parameter.Parameter")
    case "torch.serialization._get_layout": return .instance("torch.layout")
    case "_codecs.encode": return .bytes
    case "torch._utils._rebuild_device_tensor_from_cpu_tensor",
      "torch._utils._rebuild_device_tensor_from_numpy",
      "torch._utils._rebuild_xla_tensor":
      if args.count > 2, let device = args[2].string {
        deviceArguments.append((device, base + offset))
      }
      return .instance("torch.Tensor")
    case "torch._tensor._rebuild_from_type_v2":
      if args.count > 1, case .global(let t, _) = args[1] { return .instance(t) }
      return .instance("torch.Tensor")
    case "torch._utils._rebuild_wrapper_subclass":
      if args.count > 6, case .instance("torch.device") = args[6] {}
      if let first = args.first, case .global(let t, _) = first { return .instance(t) }
      return .instance("torch.Tensor")
    case "numpy.dtype":
      if let spec = args.first?.string {
        return .instance("numpy.dtypes." + Self.numpyDTypeClass(spec))
      }
      return .unknown
    case "copyreg._reconstructor":
      if let first = args.first, case .global(let t, _) = first { return .instance(t) }
      return .unknown
    case "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct":
      if let first = args.first, case .global(let t, _) = first { return .instance(t) }
      return .instance("numpy.ndarray")
    case "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
      "torch._utils._rebuild_tensor_v3",
      "torch._utils._rebuild_qtensor":
      checkGeometry(name, args, offset: offset)
      return .instance("torch.Tensor")
    default:
      if Self.tensorRebuilders.contains(name) { return .instance("torch.Tensor") }
      let last = name.split(separator: ".").last.map(String.init) ?? name
      return SafetyPolicy.looksLikeClass(last) ? .instance(name) : .unknown
    }
  }

  /// What `tensor.set_(storage, offset, size, stride)` checks: sizes and strides >= 0, no
  /// overflow, and the view inside the storage.
  private mutating func checkGeometry(_ name: String, _ args: [Value], offset: Int64) {
    guard args.count >= 4 else {
      fail(.structure, .code, "\(name) has \(args.count) arguments", offset: Int(offset))
      return
    }
    func ints(_ v: Value) -> [Int64]? {
      guard case .tuple(let items) = v else { return nil }
      var out: [Int64] = []
      for item in items {
        guard case .int(let i) = item else { return nil }
        out.append(i)
      }
      return out
    }
    guard case .int(let storageOffset) = args[1], let size = ints(args[2]),
      let stride = ints(args[3]),
      size.count == stride.count
    else { return }
    // For messages only: not split for every tensor of a big checkpoint.
    var short: String { name.split(separator: ".").last.map(String.init) ?? name }
    if storageOffset < 0 || size.contains(where: { $0 < 0 }) || stride.contains(where: { $0 < 0 }) {
      fail(
        .structure, .code,
        "\(short): a negative size, stride or storage offset (torch refuses the tensor)",
        offset: Int(offset))
      return
    }
    // torch's own arithmetic (TensorImpl::safe_compute_numel, computeStorageNbytes): the
    // element count multiplies in order as unsigned 64-bit with a sticky overflow, so a zero
    // size early hides what follows but not what came before; the extent is skipped entirely
    // when any size is zero.
    var product: UInt64 = 1
    var numelOverflows = false
    for n in size {
      let (p, o) = product.multipliedReportingOverflow(by: UInt64(n))
      product = p
      numelOverflows = numelOverflows || o
    }
    if numelOverflows || product > UInt64(Int64.max) {
      fail(
        .structure, .code,
        "\(short): the tensor's size \(size) overflows (torch: numel: integer multiplication overflow)",
        offset: Int(offset))
      return
    }
    let numel = Int64(product)
    var extent: Int64 = 0
    if !size.contains(0) {
      var span = UInt64(storageOffset) &+ 1
      var extentOverflows = false
      for (n, st) in zip(size, stride) {
        let (step, o1) = UInt64(st).multipliedReportingOverflow(by: UInt64(n - 1))
        let (sum, o2) = span.addingReportingOverflow(step)
        span = sum
        extentOverflows = extentOverflows || o1 || o2
      }
      if extentOverflows || span > UInt64(Int64.max) {
        fail(
          .structure, .code,
          "\(short): the view (sizes \(size), strides \(stride)) spans more than 64 bits (torch: Storage size calculation overflowed)",
          offset: Int(offset))
        return
      }
      extent = Int64(span) - 1 - storageOffset
    }
    // Packed quantized storages hold several values per byte: only the simple checks apply.
    guard numel > 0, !name.hasSuffix("_qtensor"),
      case .storage(let bytes?, let storageElement) = args[0]
    else { return }
    var element = Int64(storageElement)
    if name.hasSuffix("_v3"), args.count > 6, case .global(let dtype, _) = args[6] {
      element = Int64(DType.named(String(dtype.dropFirst(6)))?.elementSize ?? 1)
    }
    let available = bytes / max(element, 1)
    if storageOffset > available || extent + 1 > available - storageOffset {
      fail(
        .structure, .code,
        "\(short): the view (offset \(storageOffset), sizes \(size), strides \(stride)) reaches past its storage of \(available) elements (torch: Trying to resize storage that is not resizable)",
        offset: Int(offset))
    }
  }

  private mutating func newobj(_ cls: Value, args: Value, offset: Int64) -> Value {
    guard case .global(let name, _) = cls else {
      if case .unknown = cls { return .unknown }
      fail(
        .structure, .code, "NEWOBJ on a \(cls.typeName ?? "value") that is not a class",
        offset: Int(offset))
      return .unknown
    }
    newobjClass[depthBase + stack.count] = name
    if name == "torch.nn.parameter.Parameter" { return .instance(name) }
    return .instance(name)
  }

  private mutating func build(_ state: Value, offset: Int64) {
    guard let target = stack.last else { return }
    // An nn.Module's state names its parameters and submodules.
    if let cls = newobjClass[depthBase + stack.count - 1] {
      newobjClass[depthBase + stack.count - 1] = nil
      var isModule = false
      if case .dict(true) = state { isModule = true }
      if case .tuple(let parts) = state, let first = parts.first, case .dict(true) = first {
        isModule = true
      }
      if isModule && !moduleClasses.contains(cls) { moduleClasses.append(cls) }
    }
    switch target {
    case .unknown: return
    case .instance(let t):
      if t == "torch.Tensor" || t == "torch.nn.parameter.Parameter"
        || t == "collections.OrderedDict"
      {
        return
      }
      if SafetyPolicy.torchWeightsOnly.contains(t) || userAllowed.contains(t) { return }
      fail(
        .buildType, .code, "BUILD on a \(t): its type must be allowlisted too (add_safe_globals)",
        offset: Int(offset), subject: t)
      need(t)
    default:
      let t = target.typeName ?? "?"
      if userAllowed.contains(t) { return }
      fail(
        .buildType, .code,
        "BUILD on a \(t): the weights_only unpickler only builds Tensor, Parameter, OrderedDict and allowlisted types",
        offset: Int(offset), subject: t)
      need(t)
    }
  }

  // MARK: - Persistent ids

  private mutating func persistentLoad(_ pid: Value, offset: Int64) -> Value {
    guard case .tuple(let items) = pid else {
      if case .unknown = pid { return .unknown }
      if case .int = pid {
        fail(
          .structure, .code, "a persistent id is an int, not torch's storage tuple",
          offset: Int(offset))
        return .unknown
      }
      fail(
        .structure, .code,
        "persistent_load id must be tuple or int, but got \(pid.typeName ?? "?")",
        offset: Int(offset))
      return .unknown
    }
    guard let tag = items.first?.string, tag == "storage" else {
      let tag = items.first?.string ?? "?"
      fail(
        .structure, .code,
        tag == "module"
          ? "the file pickles a module by its source code ('module' persistent id, an old whole-model save); only weights_only=False reads it"
          : "only persistent ids of storages are allowed, but got '\(tag)'",
        offset: Int(offset))
      return .unknown
    }
    let wanted = flavor == .legacy ? 6 : 5
    guard items.count == wanted else {
      fail(
        .structure, .code,
        "a storage persistent id has \(items.count) fields; torch's \(flavor == .legacy ? "legacy" : "zip") loader unpacks \(wanted)",
        offset: Int(offset))
      return .storage(bytes: nil, element: 1)
    }
    var storageType = "?"
    if case .global(let t, _) = items[1] { storageType = t }
    let key: String
    switch items[2] {
    case .str(let s): key = s
    case .int(let i): key = String(i)
    default: key = "?"
    }
    guard let location = items[3].string else {
      fail(
        .structure, .code, "a storage location is not a string: torch cannot restore it",
        offset: Int(offset))
      return .storage(bytes: nil, element: 1)
    }
    guard case .int(let numel) = items[4], numel >= 0 else {
      fail(
        .structure, .code,
        "a storage size (numel) is not a non-negative int: torch's loader refuses it",
        offset: Int(offset))
      return .storage(bytes: nil, element: 1)
    }
    storages.append(
      StorageUse(
        key: key, location: location, storageType: storageType, numel: numel, offset: base + offset)
    )
    let element = LoadDoctor.elementSize(storageType) ?? 1
    let (bytes, overflow) = numel.multipliedReportingOverflow(by: Int64(element))
    return .storage(bytes: overflow ? nil : bytes, element: element)
  }

  /// numpy 2's dtype class for a dtype spec string (`f8` -> `Float64DType`).
  static func numpyDTypeClass(_ spec: String) -> String {
    var s = Substring(spec)
    if let f = s.first, "<>|=".contains(f) { s = s.dropFirst() }
    guard let code = s.first else { return "VoidDType" }
    let size = Int(s.dropFirst()) ?? 0
    switch code {
    case "f":
      return [
        2: "Float16DType", 4: "Float32DType", 8: "Float64DType", 16: "LongDoubleDType",
        12: "LongDoubleDType",
      ][size] ?? "Float64DType"
    case "i":
      return [1: "Int8DType", 2: "Int16DType", 4: "Int32DType", 8: "Int64DType"][size]
        ?? "Int64DType"
    case "u":
      return [1: "UInt8DType", 2: "UInt16DType", 4: "UInt32DType", 8: "UInt64DType"][size]
        ?? "UInt64DType"
    case "b": return "BoolDType"
    case "c":
      return [
        8: "Complex64DType", 16: "Complex128DType", 32: "CLongDoubleDType", 24: "CLongDoubleDType",
      ][size] ?? "Complex128DType"
    case "O": return "ObjectDType"
    case "U": return "StrDType"
    case "S": return "BytesDType"
    case "V": return "VoidDType"
    case "M": return "DateTime64DType"
    case "m": return "TimeDelta64DType"
    default: return "VoidDType"
    }
  }
}
