import PTViewCore
import PTViewPickle

/// The scan's knowledge of Python names: an allowlist that decides "safe", and a danger list
/// that only names the *kind* of danger. See docs/safety.md for the reasoning.
public enum SafetyPolicy {
  // MARK: - Names

  /// A global as `pickle.Unpickler.find_class` resolves it: the module to import, then the
  /// attribute path looked up on it (more than one part for dotted names at protocol 4+).
  public struct ResolvedName: Sendable, Equatable, Hashable {
    public var module: String
    public var path: [String]
    /// `module.path` joined.
    public var full: String { module + "." + path.joined(separator: ".") }
    /// The module's first component (`torch` for `torch.utils.data`).
    public var topModule: String {
      String(module.split(separator: ".", omittingEmptySubsequences: false).first ?? "")
    }
    public var name: String { path.joined(separator: ".") }
  }

  /// Resolves a GLOBAL's module and name the way CPython would, with the Python 2 names of
  /// `_compat_pickle` mapped (CPython maps them at protocols below 3; mapping them always can only
  /// reveal more, never hide anything).
  public static func resolve(module: String, name: String) -> ResolvedName {
    var m = module
    var n = name
    if let mapped = PythonTables.nameMapping[m + "." + n] {
      (m, n) = mapped
    } else if let mapped = PythonTables.importMapping[m] {
      m = mapped
    }
    let parts = n.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    return ResolvedName(module: m, path: parts.isEmpty ? [n] : parts)
  }

  // MARK: - The allowlist (safe)

  /// torch.load's weights_only allowlist in torch 2.15 (`_get_allowed_globals()`), 144 names.
  public static let torchWeightsOnly: Set<String> = {
    var s: Set<String> = [
      "collections.OrderedDict", "collections.Counter", "torch.nn.parameter.Parameter",
      "torch.serialization._get_layout", "torch.Size", "torch.Tensor", "torch.device",
      "_codecs.encode",
      "builtins.bytearray", "builtins.set", "builtins.complex",
      "torch._tensor._rebuild_from_type_v2",
      "torch.storage.TypedStorage", "torch.storage.UntypedStorage",
      "torch.per_tensor_affine", "torch.per_tensor_symmetric", "torch.per_channel_affine",
      "torch.per_channel_symmetric", "torch.per_channel_affine_float_qparams",
    ]
    for f in [
      "_rebuild_parameter", "_rebuild_parameter_with_state", "_rebuild_qtensor", "_rebuild_tensor",
      "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_sparse_tensor",
      "_rebuild_meta_tensor_no_storage",
      "_rebuild_wrapper_subclass", "_rebuild_device_tensor_from_numpy",
      "_rebuild_device_tensor_from_cpu_tensor",
    ] { s.insert("torch._utils." + f) }
    for d in torchDTypes { s.insert("torch." + d) }
    let tensorKinds = [
      "Double", "Float", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool",
    ]
    for k in tensorKinds {
      s.insert("torch.\(k)Tensor")
      s.insert("torch.cuda.\(k)Tensor")
      s.insert("torch.\(k)Storage")
      s.insert("torch.cuda.\(k)Storage")
      if k != "Bool" {
        s.insert("torch.sparse.\(k)Tensor")
        s.insert("torch.cuda.sparse.\(k)Tensor")
      }
    }
    for k in ["ComplexDouble", "ComplexFloat"] {
      s.insert("torch.\(k)Storage")
      s.insert("torch.cuda.\(k)Storage")
    }
    for k in ["QInt8", "QInt32", "QUInt8", "QUInt4x2", "QUInt2x4"] { s.insert("torch.\(k)Storage") }
    return s
  }()

  /// The dtype names torch 2.15 allowlists (`torch.<name>`).
  static let torchDTypes: [String] = [
    "float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool",
    "complex128", "complex64", "complex32", "bcomplex32", "qint8", "qint32", "quint8", "quint4x2",
    "quint2x4",
    "float8_e5m2", "float8_e4m3fn", "float8_e5m2fnuz", "float8_e4m3fnuz", "float8_e8m0fnu",
    "float4_e2m1fn_x2",
    "bits8", "bits16", "bits1x8", "bits2x4", "bits4x2", "uint16", "uint32", "uint64",
    "uint1", "uint2", "uint3", "uint4", "uint5", "uint6", "uint7", "int1", "int2", "int3", "int4",
    "int5",
    "int6", "int7",
  ]

  /// Plain data beyond torch's set: containers, numbers, PyTorch's own tensor rebuilders and
  /// constants, and numpy's array/dtype/scalar reconstruction. Calling or referencing these
  /// builds data and runs nothing else.
  public static let plainData: Set<String> = [
    "builtins.set", "builtins.frozenset", "builtins.list", "builtins.dict", "builtins.tuple",
    "builtins.bytearray", "builtins.bytes", "builtins.complex", "builtins.int", "builtins.float",
    "builtins.str", "builtins.bool", "builtins.slice", "builtins.range", "builtins.object",
    "builtins.NoneType", "builtins.Ellipsis", "builtins.NotImplemented",
    "collections.OrderedDict", "collections.Counter", "collections.deque", "_codecs.encode",
    "copyreg._reconstructor", "copyreg.__newobj__", "copyreg.__newobj_ex__",
    // PyTorch tensor rebuilders outside the weights_only set (older or rarer layouts).
    "torch._utils._rebuild_sparse_csr_tensor", "torch._utils._rebuild_nested_tensor",
    "torch._utils._rebuild_xla_tensor", "torch._utils._rebuild_mps_tensor",
    "torch._tensor._rebuild_from_type",
    // Layouts and memory formats (bare constants).
    "torch.strided", "torch.sparse_coo", "torch.sparse_csr", "torch.sparse_csc", "torch.sparse_bsr",
    "torch.sparse_bsc", "torch._mkldnn", "torch.jagged", "torch.contiguous_format",
    "torch.preserve_format",
    "torch.channels_last", "torch.channels_last_3d",
    // TorchScript's list builders (the C++ unpickler's, also importable from Python).
    "torch.jit._pickle.build_intlist", "torch.jit._pickle.build_tensorlist",
    "torch.jit._pickle.build_doublelist", "torch.jit._pickle.build_boollist",
    "torch.jit._pickle.build_tensor_from_id", "torch.jit._pickle.restore_type_tag",
    "torch.jit._pickle.build_complexlist",
    // numpy arrays, dtypes and scalars (numpy 1 and numpy 2 module names).
    "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
    "numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer",
    "numpy.ndarray", "numpy.dtype",
  ]

  /// Whether `name` is plain data (the scan's allowlist).
  public static func isPlainData(_ name: ResolvedName) -> Bool {
    let full = name.full
    if torchWeightsOnly.contains(full) || plainData.contains(full) { return true }
    if name.path.count == 1 {
      let n = name.path[0]
      // Any torch storage or tensor class name: torch maps every `*Storage` to a StorageType.
      if ["torch", "torch.cuda", "torch.sparse", "torch.cuda.sparse"].contains(name.module),
        n.hasSuffix("Storage") || n.hasSuffix("Tensor"), n.first?.isUppercase == true,
        n.allSatisfy({ $0.isLetter || $0.isNumber })
      {
        return true
      }
      // numpy 2's dtype classes (`numpy.dtypes.Float64DType`).
      if name.module == "numpy.dtypes", n.hasSuffix("DType") { return true }
    }
    return false
  }

  /// Standard-library classes that only build data when instantiated: not on the allowlist
  /// (so a file using them is suspicious) but not dangerous either.
  public static let standardDataTypes: Set<String> = [
    "collections.defaultdict", "collections.namedtuple", "collections.ChainMap",
    "collections.UserDict",
    "collections.UserList", "collections.UserString", "argparse.Namespace", "types.SimpleNamespace",
    "datetime.datetime", "datetime.date", "datetime.time", "datetime.timedelta",
    "datetime.timezone",
    "decimal.Decimal", "fractions.Fraction", "uuid.UUID", "ipaddress.IPv4Address",
    "ipaddress.IPv6Address",
    "ipaddress.IPv4Network", "ipaddress.IPv6Network", "pathlib.Path", "pathlib.PosixPath",
    "pathlib.WindowsPath", "pathlib.PurePath", "pathlib.PurePosixPath", "pathlib.PureWindowsPath",
    "array.array", "array._array_reconstructor", "enum.Enum", "re._compile", "zoneinfo.ZoneInfo",
    "zoneinfo._common", "email.message.Message", "string.Template", "io.BytesIO", "io.StringIO",
    "_io.BytesIO", "_io.StringIO", "logging.getLogger", "random.Random", "_random.Random",
    "collections.abc.Mapping", "typing.Any", "weakref.WeakValueDictionary",
    "weakref.WeakKeyDictionary",
  ]

  // MARK: - Data-carrying constructors (suspicious with plain arguments)

  /// numpy's random-state constructors (`pickle.dumps(RandomState(...))`, `default_rng()`,
  /// bit generators) across numpy 1.16 to 2.x. They build data, but they are functions that
  /// call what they are given (`__randomstate_ctor(name, ctor)` calls `ctor(name)`), so they
  /// are only suspicious when every argument is plain (see `PickleSafetyAnalyzer`).
  public static let numpyRandomConstructors: Set<String> = [
    "numpy.random._pickle.__randomstate_ctor", "numpy.random._pickle.__bit_generator_ctor",
    "numpy.random._pickle.__generator_ctor", "numpy.random.__RandomState_ctor",
    "numpy.random.mtrand.__RandomState_ctor",
    "numpy.random.bit_generator.__pyx_unpickle_SeedSequence",
    "numpy.random._bit_generator.__pyx_unpickle_SeedSequence",
  ]

  /// The classes numpy's random-state pickles name as arguments.
  public static let numpyRandomClasses: Set<String> = [
    "numpy.random._mt19937.MT19937", "numpy.random._pcg64.PCG64", "numpy.random._pcg64.PCG64DXSM",
    "numpy.random._philox.Philox", "numpy.random._sfc64.SFC64",
    "numpy.random.bit_generator.SeedSequence", "numpy.random._bit_generator.SeedSequence",
    "numpy.random.mtrand.RandomState", "numpy.random._generator.Generator",
  ]

  /// joblib's in-stream array wrapper (`joblib.dump` of anything holding numpy arrays): built
  /// with NEWOBJ and BUILD, after which joblib reads the array's raw bytes from the file.
  public static let joblibArrayWrappers: Set<String> = [
    "joblib.numpy_pickle.NumpyArrayWrapper",
    "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper",
  ]

  /// Whether `full` is one of the data-carrying names above.
  public static func isDataCarrying(_ full: String) -> Bool {
    numpyRandomConstructors.contains(full) || numpyRandomClasses.contains(full)
      || joblibArrayWrappers.contains(full)
  }

  // MARK: - The danger list (labels)

  /// Modules (and their submodules) whose callables run code or touch the system.
  static let dangerousModules: [String: DangerKind] = [
    "os": .runsCommands, "posix": .runsCommands, "nt": .runsCommands, "subprocess": .runsCommands,
    "pty": .runsCommands, "commands": .runsCommands, "popen2": .runsCommands,
    "_posixsubprocess": .runsCommands,
    "pexpect": .runsCommands, "sh": .runsCommands, "plumbum": .runsCommands,
    "fabric": .runsCommands,
    "invoke": .runsCommands, "asyncio.subprocess": .runsCommands,
    "asyncio.unix_events": .runsCommands,
    "asyncio.windows_events": .runsCommands, "multiprocessing": .runsCommands,
    "concurrent": .runsCommands,
    "_aix_support": .runsCommands, "_osx_support": .runsCommands, "_pyrepl": .runsCommands,
    "platform": .runsCommands, "uuid": .runsCommands, "webbrowser": .runsCommands,
    "antigravity": .runsCommands,
    "code": .evaluatesCode, "codeop": .evaluatesCode, "runpy": .evaluatesCode,
    "timeit": .evaluatesCode,
    "cProfile": .evaluatesCode, "profile": .evaluatesCode, "trace": .evaluatesCode,
    "pdb": .evaluatesCode,
    "bdb": .evaluatesCode, "doctest": .evaluatesCode, "idlelib": .evaluatesCode,
    "lib2to3": .evaluatesCode,
    "types": .evaluatesCode, "marshal": .evaluatesCode, "compileall": .evaluatesCode,
    "py_compile": .evaluatesCode,
    "test": .evaluatesCode, "unittest": .evaluatesCode, "pydoc": .evaluatesCode,
    "IPython": .evaluatesCode,
    "cloudpickle": .evaluatesCode, "dill": .evaluatesCode, "torch.fx": .evaluatesCode,
    "torch.jit.unsupported_tensor_ops": .evaluatesCode, "torch._inductor": .evaluatesCode,
    "torch._dynamo": .evaluatesCode, "torch.utils.bottleneck": .evaluatesCode,
    "torch.utils.collect_env": .runsCommands, "torch.utils.cpp_extension": .runsCommands,
    "numpy.f2py": .evaluatesCode, "numpy.testing": .evaluatesCode, "numpy.distutils": .runsCommands,
    "importlib": .importsModules, "imp": .importsModules, "pkgutil": .importsModules,
    "zipimport": .importsModules,
    "torch.utils._config_module": .importsModules, "pkg_resources": .importsModules,
    "operator": .dynamicAttributes, "_operator": .dynamicAttributes,
    "functools": .dynamicAttributes,
    "inspect": .dynamicAttributes, "gc": .modifiesInterpreter, "sys": .modifiesInterpreter,
    "site": .modifiesInterpreter, "atexit": .modifiesInterpreter, "signal": .modifiesInterpreter,
    "ctypes": .nativeCode, "_ctypes": .nativeCode, "cffi": .nativeCode,
    "pickle": .nestedLoad, "_pickle": .nestedLoad, "cPickle": .nestedLoad, "shelve": .nestedLoad,
    "joblib": .nestedLoad, "pickletools": .nestedLoad, "torch.serialization": .nestedLoad,
    "torch.hub": .network, "torch.package": .nestedLoad, "numpy.lib.npyio": .nestedLoad,
    "numpy.lib.format": .nestedLoad, "pandas.io": .nestedLoad, "keras.saving": .nestedLoad,
    "io": .fileAccess, "_io": .fileAccess, "shutil": .fileAccess, "tempfile": .fileAccess,
    "glob": .fileAccess,
    "fileinput": .fileAccess, "logging": .fileAccess, "tarfile": .fileAccess,
    "zipfile": .fileAccess,
    "gzip": .fileAccess, "bz2": .fileAccess, "lzma": .fileAccess, "sqlite3": .fileAccess,
    "dbm": .fileAccess,
    "mmap": .fileAccess, "filecmp": .fileAccess, "linecache": .fileAccess, "mailbox": .fileAccess,
    "socket": .network, "_socket": .network, "ssl": .network, "http": .network, "httplib": .network,
    "urllib": .network, "urllib2": .network, "urllib3": .network, "ftplib": .network,
    "smtplib": .network,
    "telnetlib": .network, "imaplib": .network, "poplib": .network, "nntplib": .network,
    "xmlrpc": .network,
    "xmlrpclib": .network, "socketserver": .network, "requests": .network, "aiohttp": .network,
    "httpx": .network,
    "paramiko": .network, "websocket": .network, "websockets": .network, "boto3": .network,
    "botocore": .network,
    "pycurl": .network, "asyncio": .network, "selectors": .network, "select": .network,
    "pip": .installsPackages, "ensurepip": .installsPackages, "venv": .installsPackages,
    "distutils": .installsPackages, "setuptools": .installsPackages,
  ]

  /// Single names with a specific label (the module alone would say less or nothing).
  static let dangerousNames: [String: DangerKind] = [
    "builtins.eval": .evaluatesCode, "builtins.exec": .evaluatesCode,
    "builtins.compile": .evaluatesCode,
    "builtins.execfile": .evaluatesCode, "builtins.apply": .evaluatesCode,
    "builtins.__import__": .importsModules,
    "builtins.getattr": .dynamicAttributes, "builtins.setattr": .modifiesInterpreter,
    "builtins.delattr": .modifiesInterpreter, "builtins.globals": .dynamicAttributes,
    "builtins.locals": .dynamicAttributes, "builtins.vars": .dynamicAttributes,
    "builtins.open": .fileAccess,
    "builtins.file": .fileAccess, "builtins.input": .evaluatesCode,
    "builtins.breakpoint": .evaluatesCode,
    "builtins.help": .evaluatesCode, "builtins.exit": .exitsProcess, "builtins.quit": .exitsProcess,
    "builtins.reload": .importsModules, "builtins.type": .evaluatesCode,
    "builtins.memoryview": .dynamicAttributes,
    "sys.exit": .exitsProcess, "sys.modules": .modifiesInterpreter, "os._exit": .exitsProcess,
    "torch.load": .nestedLoad, "torch.storage._load_from_bytes": .nestedLoad,
    "numpy.load": .nestedLoad,
    "numpy.loadtxt": .fileAccess, "numpy.fromfile": .fileAccess, "numpy.save": .fileAccess,
    "numpy.memmap": .fileAccess, "numpy.genfromtxt": .fileAccess, "numpy.savetxt": .fileAccess,
    "pandas.read_pickle": .nestedLoad, "torch.jit.load": .nestedLoad, "torch.hub.load": .network,
    "torch.ops.load_library": .nativeCode, "torch.classes.load_library": .nativeCode,
    "numpy.ctypeslib.load_library": .nativeCode, "copyreg.pickle": .modifiesInterpreter,
    "copyreg.add_extension": .modifiesInterpreter,
    "builtins.map": .dynamicAttributes, "builtins.filter": .dynamicAttributes,
    "builtins.sorted": .dynamicAttributes, "builtins.min": .dynamicAttributes,
    "builtins.max": .dynamicAttributes,
    "builtins.iter": .dynamicAttributes, "builtins.next": .dynamicAttributes,
    "builtins.print": .fileAccess,
    "builtins.property": .dynamicAttributes, "builtins.classmethod": .dynamicAttributes,
    "builtins.staticmethod": .dynamicAttributes, "builtins.super": .dynamicAttributes,
    "builtins.object.__reduce__": .dynamicAttributes,
  ]

  /// Modules whose import alone runs code (or that exist only to be run).
  static let importSideEffectModules: Set<String> = [
    "antigravity", "this", "idlelib.idle", "__hello__", "__phello__", "turtledemo",
  ]

  /// Builtins that are plain data when referenced or called.
  static let dataBuiltins: Set<String> = [
    "set", "frozenset", "list", "dict", "tuple", "bytearray", "bytes", "complex", "int", "float",
    "str",
    "bool", "slice", "range", "object", "NoneType", "Ellipsis", "NotImplemented",
  ]

  /// The danger label for a name, from the danger list (module prefixes and single names).
  public static func dangerKind(_ name: ResolvedName) -> DangerKind? {
    let full = name.full
    if let kind = dangerousNames[full] { return kind }
    // The name and every prefix of it (`builtins.eval.__call__` -> `builtins.eval`).
    var prefix = name.module
    for part in name.path {
      prefix += "." + part
      if let kind = dangerousNames[prefix] { return kind }
    }
    // The module and every enclosing package (`torch.utils.bottleneck.__main__` -> `torch.utils.bottleneck`).
    var module = name.module
    while true {
      if let kind = dangerousModules[module] { return kind }
      guard let dot = module.lastIndex(of: ".") else { break }
      module = String(module[..<dot])
    }
    if name.module == "builtins", let first = name.path.first, !dataBuiltins.contains(first),
      !isExceptionName(first)
    {
      return .evaluatesCode
    }
    return nil
  }

  /// Whether importing the module runs code by itself.
  public static func importRunsCode(_ module: String) -> Bool {
    if importSideEffectModules.contains(module) { return true }
    // A package's `__main__` runs the package as a program (some have no `if __name__` guard).
    return module.hasSuffix(".__main__")
  }

  /// Whether an attribute path reaches interpreter internals (`__builtins__`, `__globals__`, ...).
  public static func reachesInternals(_ name: ResolvedName) -> Bool {
    let moduleParts = name.module.split(separator: ".").map(String.init)
    for part in moduleParts.dropFirst() where isDunder(part) && part != "__main__" { return true }
    for (i, part) in name.path.enumerated() where isDunder(part) {
      // `copyreg.__newobj__` is a module-level function, not an attribute of an object.
      if i == 0 && name.path.count == 1 && name.module == "copyreg" { continue }
      return true
    }
    return false
  }

  static func isDunder(_ s: String) -> Bool {
    s.count > 4 && s.hasPrefix("__") && s.hasSuffix("__")
  }

  /// `ValueError`, `UserWarning`, `KeyboardInterrupt`...: exception classes (data-ish).
  static func isExceptionName(_ n: String) -> Bool {
    n.hasSuffix("Error") || n.hasSuffix("Exception") || n.hasSuffix("Warning")
      || ["KeyboardInterrupt", "StopIteration", "StopAsyncIteration", "GeneratorExit"].contains(n)
  }

  /// Whether the module belongs to the standard library (where gadgets for exploits live).
  public static func isStandardLibrary(_ name: ResolvedName) -> Bool {
    PythonTables.stdlibModules.contains(name.topModule)
      || PythonTables.importMapping[name.topModule] != nil
  }

  /// PyTorch and NumPy: installed wherever checkpoints are loaded, so exploit gadgets come from
  /// them too; their legitimate reconstructors are few and listed in the allowlist.
  public static func isPlatformLibrary(_ name: ResolvedName) -> Bool {
    ["torch", "numpy", "functorch", "torchvision", "torchaudio", "torchtext"].contains(
      name.topModule)
  }

  /// Whether the last part of the name looks like a class (CapWords).
  static func looksLikeClass(_ part: String) -> Bool {
    guard let first = part.first(where: { $0 != "_" }) else { return false }
    return first.isUppercase
  }

  // MARK: - Strings that look like code or commands

  /// Whether a string passed to a call looks like Python code, a shell command or a URL.
  public static func looksLikeCode(_ s: String) -> Bool {
    if s.count < 2 { return false }
    let lower = s.lowercased()
    let pythonMarkers = [
      "__import__", "import ", "exec(", "eval(", "compile(", "os.system", "subprocess", "getattr(",
      "open(", "lambda ", "lambda:", "__builtins__", "__globals__", "__class__", "__subclasses__",
      "builtins.", "print(", "system(", "popen", "def ", "sys.modules",
    ]
    for m in pythonMarkers where lower.contains(m) { return true }
    let shellMarkers = [
      "$(", "`", "&&", "||", "; ", "| sh", "|sh", "/bin/", "sh -c", "bash", "curl ", "wget ", "nc ",
      "rm -", "chmod ", "powershell", "cmd.exe", "cmd /c", "whoami", "/etc/passwd", "/dev/tcp",
      "python -c",
      "python3 -c", "echo ", "mkfifo", "base64 -d",
    ]
    for m in shellMarkers where lower.contains(m) { return true }
    if lower.hasPrefix("http://") || lower.hasPrefix("https://") || lower.hasPrefix("ftp://")
      || lower.contains("://")
    {
      return true
    }
    let trimmed = lower.trimmingBlanks()
    if ["id", "ls", "sh", "bash", "whoami", "uname -a", "env", "ls -la", "ls -l", "pwd", "reboot"]
      .contains(trimmed)
    {
      return true
    }
    return false
  }
}
