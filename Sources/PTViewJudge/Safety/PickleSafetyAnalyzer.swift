import PTViewCore
public import PTViewPickle

/// Classifies what a decoded pickle does, from its value graph: which globals it imports, what
/// it calls or instantiates with them, what it mutates. The verdict comes from the allowlist and
/// from the role each global plays (called, instantiated, mutated, only referenced); the danger
/// list only labels the kind of danger. Nothing is executed.
public struct PickleSafetyAnalyzer: Sendable {
  /// The graph to analyze.
  public let graph: ValueGraph
  /// The nodes of the pickle (a range of the graph).
  public let nodes: Range<Int>
  /// The container path, for findings.
  public let location: String
  /// The opcode byte at a node's graph offset (tells INST/OBJ from NEWOBJ), when known.
  public var opcodeAt: @Sendable (Int) -> UInt8? = { _ in nil }
  /// Maps a graph offset to the offset reported (file offset, or offset in a member).
  public var reportOffset: @Sendable (Int) -> Int64 = { Int64($0) }
  /// Whether reported offsets are file offsets.
  public var offsetIsInFile = true
  /// Scans bytes that a nested loader (`pickle.loads(b'...')`) would unpickle; returns findings.
  public var scanNested: (@Sendable ([UInt8], String) -> [SafetyFinding])? = nil
  /// When false, the danger list is ignored (tests use this to show that the verdicts come from
  /// the allowlist and the roles, not from names).
  public var useDangerList = true

  /// Creates an analyzer over `nodes` of `graph`.
  public init(graph: ValueGraph, nodes: Range<Int>, location: String) {
    self.graph = graph
    self.nodes = nodes
    self.location = location
  }

  /// Every finding about the pickle, in stream order (node order).
  public func findings() -> [SafetyFinding] {
    var state = State()
    for index in nodes {
      let id = ValueID(Int32(index))
      switch graph[id] {
      case .object(let objectIndex):
        analyzeConstruction(id, graph.construction(objectIndex), &state)
      default:
        break
      }
    }
    // Mutations of module-level objects (BUILD, SETITEM, APPEND on a global).
    for index in nodes {
      let id = ValueID(Int32(index))
      guard case .global = graph[id] else { continue }
      for mutation in graph.mutations(of: id) {
        let (what, node): (String, ValueID) =
          switch mutation {
          case .build(let s): ("BUILD (sets attributes or calls __setstate__)", s)
          case .setItem(let k, _): ("SETITEM (calls __setitem__)", k)
          case .append(let v): ("APPEND (calls append/extend)", v)
          case .add(let v): ("ADDITEMS (calls add)", v)
          }
        _ = node
        let name = resolvedName(id)
        state.add(
          finding(
            .dangerous, .modifiesInterpreter, id, global: name?.full,
            rendering: "\(name?.full ?? "<global>") <- \(render(node, depth: 0))",
            detail:
              "\(what) on the module-level object \(name?.full ?? "?"): changes a module, class or function for everything that uses it later"
          ))
      }
    }
    // Every global: dangerous names even when only referenced; others not used in a call.
    for index in nodes {
      let id = ValueID(Int32(index))
      if case .ext(let code) = graph[id], !state.covered.contains(id) {
        state.add(
          finding(
            .suspicious, .referencesGlobal, id, global: "copyreg extension \(code)",
            rendering: "<extension \(code)>",
            detail:
              "references copyreg extension code \(code): the loading process's registry decides what it is"
          ))
        continue
      }
      guard case .global = graph[id], let name = resolvedName(id) else { continue }
      if let f = referenceFinding(id, name, covered: state.covered.contains(id)) { state.add(f) }
    }
    return state.findings.sorted { a, b in
      a.verdict.severity != b.verdict.severity
        ? a.verdict.severity > b.verdict.severity : a.offset < b.offset
    }
  }

  // MARK: - State

  struct State {
    var findings: [SafetyFinding] = []
    /// Globals already judged as the callee of a call or construction.
    var covered: Set<ValueID> = []
    /// Resolved names of callee nodes. A pickle memoizes each global once and calls it for
    /// every tensor: resolving (and judging) the name once per node, not per call, is what
    /// keeps scanning tens of thousands of tensors cheap.
    var names: [Int32: SafetyPolicy.ResolvedName] = [:]
    /// Callee nodes whose name alone was judged plain data (only their arguments remain to be
    /// looked at for each call).
    var plainCallees: Set<Int32> = []
    mutating func add(_ f: SafetyFinding) { findings.append(f) }

    /// `resolve(id)`, once per node.
    mutating func name(
      _ id: ValueID, _ resolve: (ValueID) -> SafetyPolicy.ResolvedName?
    ) -> SafetyPolicy.ResolvedName? {
      if let known = names[id.index] { return known }
      let resolved = resolve(id)
      if let resolved { names[id.index] = resolved }
      return resolved
    }
  }

  // MARK: - Names

  func resolvedName(_ id: ValueID) -> SafetyPolicy.ResolvedName? {
    guard case .global(let module, let nameCount) = graph[id] else { return nil }
    let (m, n) = graph.globalName(module: module, nameCount: nameCount)
    return SafetyPolicy.resolve(module: m, name: n)
  }

  func finding(
    _ verdict: SafetyVerdict, _ kind: DangerKind, _ node: ValueID, global: String?,
    rendering: String?,
    detail: String
  ) -> SafetyFinding {
    let graphOffset = graph.offset(of: node)
    return SafetyFinding(
      verdict: verdict, kind: kind, location: location, offset: reportOffset(graphOffset),
      offsetIsInFile: offsetIsInFile, global: global, rendering: rendering, detail: detail,
      node: node)
  }

  // MARK: - Calls and constructions

  enum Role {
    /// `callable(*args)`: REDUCE, INST/OBJ with arguments or with a non-class.
    case call
    /// `cls.__new__(cls, *args)`: NEWOBJ, NEWOBJ_EX, copyreg's reconstructors.
    case construct
  }

  func analyzeConstruction(_ id: ValueID, _ construction: Construction, _ state: inout State) {
    let callee = construction.callee
    var role: Role
    switch construction {
    case .reduce: role = .call
    case .newobj, .newobjEx: role = .construct
    }
    // INST and OBJ without arguments: CPython calls `cls.__new__(cls)` only when cls is a
    // class; anything else is called.
    let opcode = opcodeAt(graph.offset(of: id))
    if role == .construct, opcode == Opcode.inst.rawValue || opcode == Opcode.obj.rawValue {
      if let name = resolvedName(callee) {
        if !SafetyPolicy.looksLikeClass(name.path.last ?? "") { role = .call }
      } else {
        role = .call  // an object, extension or persistent id: not known to be a class
      }
    }
    judge(callee: callee, role: role, args: construction.args, site: id, &state)
  }

  /// Judges `callee` used in `role` with `args` at `site`.
  func judge(callee: ValueID, role: Role, args: ValueID, site: ValueID, _ state: inout State) {
    switch graph[callee] {
    case .global:
      state.covered.insert(callee)
      guard let name = state.name(callee, resolvedName) else { return }
      if let f = judgeGlobal(name, callee: callee, role: role, args: args, site: site, &state) {
        state.add(f)
      }
    case .object:
      state.add(
        finding(
          .dangerous, .callsResult, site, global: nil, rendering: renderCall(callee, args),
          detail:
            "the callable is the result of another call (\(render(callee, depth: 0))): a pickle of data never calls what it computed"
        ))
    case .ext(let code):
      state.covered.insert(callee)
      let rendering = renderCall(callee, args)
      let argValues = args.index >= 0 ? (graph.sequence(args) ?? []) : []
      if role == .call && !argValues.isEmpty {
        // CPython resolves the code through copyreg's registry in the loading process: what
        // runs cannot be known from the file. Unscannable, dangerous with code-like arguments.
        state.add(
          escalated(
            finding(
              .unscannable, .unresolvedExtension, site, global: "copyreg extension \(code)",
              rendering: rendering,
              detail:
                "calls copyreg extension code \(code) with arguments: the loading process's copyreg registry decides what runs, so the call cannot be judged"
            ), argValues, allowEscalation: true))
      } else {
        state.add(
          escalated(
            finding(
              .suspicious, .unknownCallable, site, global: "copyreg extension \(code)",
              rendering: rendering,
              detail: role == .call
                ? "calls copyreg extension code \(code) without arguments (resolved by the loading process)"
                : "instantiates the class behind copyreg extension code \(code) (resolved by the loading process)"
            ), argValues, allowEscalation: true))
      }
    case .persistentID:
      let argValues = args.index >= 0 ? (graph.sequence(args) ?? []) : []
      state.add(
        escalated(
          finding(
            .suspicious, .unknownCallable, site, global: nil, rendering: renderCall(callee, args),
            detail: "calls an object supplied by the loader (persistent id)"), argValues,
          allowEscalation: true))
    default:
      break  // not callable: CPython raises before anything runs
    }
  }

  /// The finding for global `name` used as a callee, or nil when it is plain data.
  func judgeGlobal(
    _ name: SafetyPolicy.ResolvedName, callee: ValueID, role: Role, args: ValueID, site: ValueID,
    _ state: inout State
  ) -> SafetyFinding? {
    let full = name.full
    // Rendered only for a finding, and the arguments read only when a rule needs them: most
    // calls are plain data (every tensor's rebuild call).
    var rendering: String {
      role == .call ? renderCall(callee, args) : "\(full).__new__(\(full)\(renderArgsTail(args)))"
    }
    let verb = role == .call ? "calls" : "instantiates"
    var argValues: [ValueID] { args.index >= 0 ? (graph.sequence(args) ?? []) : [] }
    if state.plainCallees.contains(callee.index) {
      checkHigherOrder(full, args: argValues, site: site, &state)
      return nil
    }

    if full == Machine.computedImportModule + "." + Machine.computedImportName {
      return finding(
        .dangerous, .computedImport, site, global: full, rendering: rendering,
        detail:
          "STACK_GLOBAL with operands computed at load time (\(argValues.map { render($0, depth: 1) }.joined(separator: ", "))): the module and name imported are chosen while loading, whatever the computation"
      )
    }
    if let f = dataCarrying(name, role: role, args: argValues, site: site, rendering: rendering) {
      return f
    }
    if let kind = dangerList(name) {
      // A nested loader given literal bytes: scan what it would load, and report it either way.
      var detail = "\(verb) \(full): \(kind.rawValue)"
      if kind == .nestedLoad, let data = argValues.first.flatMap({ literalBytes($0) }) {
        let inner = scanNested?(data, location + "!" + full + "(...)") ?? []
        for f in inner { state.add(f) }
        if full == "torch.storage._load_from_bytes" {
          // What PyTorch itself writes for every tensor pickled with plain pickle: the
          // embedded stream is a literal, and it was scanned in full.
          return finding(
            .suspicious, .nestedLoad, site, global: full, rendering: rendering,
            detail:
              "torch.storage._load_from_bytes runs torch.load(weights_only=False) on \(data.count) embedded bytes; they were scanned (\(inner.isEmpty ? "plain data" : "\(inner.count) finding(s) listed separately"))"
          )
        }
        detail += "; the \(data.count) embedded bytes were scanned too"
      }
      return finding(.dangerous, kind, site, global: full, rendering: rendering, detail: detail)
    }
    if SafetyPolicy.reachesInternals(name) {
      return finding(
        .dangerous, .interpreterInternals, site, global: full, rendering: rendering,
        detail: "\(verb) \(full), which goes through interpreter internals")
    }
    if SafetyPolicy.importRunsCode(name.module) {
      return finding(
        .dangerous, .importSideEffect, site, global: full, rendering: rendering,
        detail: "importing \(name.module) runs code")
    }
    if SafetyPolicy.isPlainData(name) {
      state.plainCallees.insert(callee.index)
      checkHigherOrder(full, args: argValues, site: site, &state)
      return nil
    }
    if SafetyPolicy.standardDataTypes.contains(full) {
      return escalated(
        finding(
          .suspicious, role == .call ? .callsFunction : .instantiatesClass, site, global: full,
          rendering: rendering,
          detail: "\(verb) \(full), a standard-library data type outside the allowlist"),
        argValues, allowEscalation: false)
    }
    if useDangerList, let kind = moduleDanger(name) {
      if role == .construct && name.topModule == "torch" {
        return finding(
          .suspicious, .instantiatesClass, site, global: full, rendering: rendering,
          detail: "instantiates \(full) without calling its constructor (NEWOBJ + state)")
      }
      return finding(
        .dangerous, kind, site, global: full, rendering: rendering,
        detail: "\(verb) \(full): \(kind.rawValue)")
    }
    if name.module == "builtins" {
      if let first = name.path.first, SafetyPolicy.isExceptionName(first), name.path.count == 1 {
        return finding(
          .suspicious, .instantiatesClass, site, global: full, rendering: rendering,
          detail: "\(verb) the exception class \(full)")
      }
      return finding(
        .dangerous, .evaluatesCode, site, global: full, rendering: rendering,
        detail: "\(verb) builtins.\(name.name), which is not a plain data type")
    }
    let nestedClass = name.path.allSatisfy { SafetyPolicy.looksLikeClass($0) }
    if name.path.count > 1 && !nestedClass {
      return finding(
        .dangerous, .methodCall, site, global: full, rendering: rendering,
        detail:
          "\(verb) \(full): a function reached through the attributes of a class or object (a dotted name), which pickles of data never need"
      )
    }
    let isClass = SafetyPolicy.looksLikeClass(name.path.last ?? "")
    switch role {
    case .construct:
      return escalated(
        finding(
          .suspicious, .instantiatesClass, site, global: full, rendering: rendering,
          detail:
            "instantiates \(full) without calling its constructor (NEWOBJ + state): needs that class, and runs its __setstate__ if it has one"
        ),
        argValues, allowEscalation: true)
    case .call:
      if SafetyPolicy.isStandardLibrary(name) {
        return finding(
          .dangerous, .standardLibraryCall, site, global: full, rendering: rendering,
          detail:
            "calls \(full) from the standard library, which is not a data type: the standard library is where load-time exploit gadgets come from"
        )
      }
      if SafetyPolicy.isPlatformLibrary(name) && !(isClass && name.topModule == "torch") {
        return finding(
          .dangerous, .platformCall, site, global: full, rendering: rendering,
          detail: "calls \(full), which is not one of PyTorch's or NumPy's data reconstructors")
      }
      return escalated(
        finding(
          .suspicious, isClass ? .instantiatesClass : .callsFunction, site, global: full,
          rendering: rendering,
          detail: isClass
            ? "instantiates \(full) by calling it: needs that class and runs its constructor"
            : "calls \(full) from a third-party module: needs that module and runs its code"),
        argValues, allowEscalation: true)
    }
  }

  /// numpy's random-state constructors and joblib's array wrapper, used exactly as numpy and
  /// joblib write them: suspicious (they need those packages' classes), never a loophole:
  /// any other use falls through to the usual rules.
  func dataCarrying(
    _ name: SafetyPolicy.ResolvedName, role: Role, args: [ValueID], site: ValueID,
    rendering: String
  ) -> SafetyFinding? {
    let full = name.full
    if SafetyPolicy.joblibArrayWrappers.contains(full) {
      guard role == .construct, args.isEmpty else { return nil }
      return finding(
        .suspicious, .instantiatesClass, site, global: full, rendering: rendering,
        detail:
          "instantiates \(full), joblib's array wrapper: joblib reads the array's raw bytes from the file after it (the scan skips them and reads on)"
      )
    }
    guard SafetyPolicy.numpyRandomConstructors.contains(full), role == .call else { return nil }
    func isGlobal(_ id: ValueID, in names: Set<String>) -> Bool {
      resolvedName(id).map { names.contains($0.full) } ?? false
    }
    let ctor = "numpy.random._pickle.__bit_generator_ctor"
    switch name.path.last ?? "" {
    case "__randomstate_ctor", "__generator_ctor":
      // (bit_generator_name, bit_generator_ctor): calls the second with the first.
      guard args.count <= 2 else { return nil }
      if args.count == 2, !isGlobal(args[1], in: [ctor]) { return nil }
      if let first = args.first, !plainRandomArgument(first, depth: 0) { return nil }
    case "__bit_generator_ctor":
      // Instantiates a class it is given, or looks a name up in numpy's table.
      guard args.count <= 1 else { return nil }
      if let first = args.first, graph.string(first) == nil,
        !isGlobal(first, in: SafetyPolicy.numpyRandomClasses)
      {
        return nil
      }
    case "__pyx_unpickle_SeedSequence":
      guard args.count == 3, isGlobal(args[0], in: SafetyPolicy.numpyRandomClasses),
        args.dropFirst().allSatisfy({ plainRandomArgument($0, depth: 0) })
      else { return nil }
    default:
      guard args.allSatisfy({ plainRandomArgument($0, depth: 0) }) else { return nil }
    }
    return finding(
      .suspicious, .callsFunction, site, global: full, rendering: rendering,
      detail:
        "calls \(full), numpy's random-state constructor, with plain arguments: needs numpy's classes, builds data"
    )
  }

  /// Plain data, numpy's random classes and constructors, or an object built by one of them or
  /// by an allowlisted reconstructor (a numpy array): what numpy's own pickles pass.
  func plainRandomArgument(_ id: ValueID, depth: Int) -> Bool {
    guard depth < 4 else { return false }
    switch graph[id] {
    case .none, .bool, .int, .bigInt, .float, .string, .legacyString, .bytes: return true
    case .tuple, .list:
      return (graph.sequence(id) ?? []).allSatisfy { plainRandomArgument($0, depth: depth + 1) }
    case .dict(let c):
      return graph.container(c).allSatisfy { plainRandomArgument($0, depth: depth + 1) }
    case .global:
      guard let n = resolvedName(id) else { return false }
      return SafetyPolicy.numpyRandomClasses.contains(n.full)
        || SafetyPolicy.numpyRandomConstructors.contains(n.full)
    case .object(let index):
      guard let n = resolvedName(graph.construction(index).callee) else { return false }
      return SafetyPolicy.numpyRandomClasses.contains(n.full)
        || SafetyPolicy.numpyRandomConstructors.contains(n.full) || SafetyPolicy.isPlainData(n)
    default: return false
    }
  }

  func dangerList(_ name: SafetyPolicy.ResolvedName) -> DangerKind? {
    guard useDangerList else { return nil }
    return SafetyPolicy.dangerousNames[name.full] ?? prefixDanger(name)
  }

  func prefixDanger(_ name: SafetyPolicy.ResolvedName) -> DangerKind? {
    var prefix = name.module
    for part in name.path {
      prefix += "." + part
      if let kind = SafetyPolicy.dangerousNames[prefix] { return kind }
    }
    return nil
  }

  func moduleDanger(_ name: SafetyPolicy.ResolvedName) -> DangerKind? {
    var module = name.module
    while true {
      if let kind = SafetyPolicy.dangerousModules[module] { return kind }
      guard let dot = module.lastIndex(of: ".") else { return nil }
      module = String(module[..<dot])
    }
  }

  /// A suspicious call whose string arguments look like code or shell commands is dangerous.
  func escalated(_ f: SafetyFinding, _ args: [ValueID], allowEscalation: Bool) -> SafetyFinding {
    guard allowEscalation else { return f }
    var strings: [String] = []
    collectStrings(args, depth: 0, into: &strings)
    guard let code = strings.first(where: SafetyPolicy.looksLikeCode) else { return f }
    var d = f
    d.verdict = .dangerous
    d.kind = .codeLikeArgument
    d.detail =
      f.detail + "; an argument looks like code or a command: " + PythonRepr.clipped(code, 80)
    return d
  }

  func collectStrings(_ ids: [ValueID], depth: Int, into out: inout [String]) {
    guard depth < 4 else { return }
    for id in ids.prefix(64) where out.count < 64 {
      if let s = graph.string(id) {
        out.append(s)
      } else if case .bytes(let b) = graph[id], b.count < 4096 {
        out.append(String(decoding: graph.bytes(b), as: UTF8.self))
      } else if let seq = graph.sequence(id) {
        collectStrings(seq, depth: depth + 1, into: &out)
      } else if case .dict(let c) = graph[id] {
        collectStrings(graph.container(c), depth: depth + 1, into: &out)
      }
    }
  }

  /// Allowlisted callables that call or instantiate their arguments.
  func checkHigherOrder(_ full: String, args: [ValueID], site: ValueID, _ state: inout State) {
    func construct(_ id: ValueID) {
      guard case .global = graph[id] else {
        if case .object = graph[id] {
          judge(callee: id, role: .construct, args: emptyArgs, site: site, &state)
        }
        return
      }
      state.covered.insert(id)
      guard let name = resolvedName(id) else { return }
      if let f = judgeGlobal(
        name, callee: id, role: .construct, args: emptyArgs, site: site, &state)
      {
        state.add(f)
      }
    }
    switch full {
    case "copyreg._reconstructor":
      // _reconstructor(cls, base, state): base.__new__(cls, state), then base.__init__(obj, state)
      // unless base is object.
      if args.count > 0 { construct(args[0]) }
      if args.count > 1 {
        if let base = resolvedName(args[1]), base.module == "builtins",
          SafetyPolicy.dataBuiltins.contains(base.name)
        {
          state.covered.insert(args[1])
        } else if args.count > 2 {
          judge(callee: args[1], role: .call, args: args[2], site: site, &state)
        }
      }
    case "copyreg.__newobj__", "copyreg.__newobj_ex__", "torch._utils._rebuild_wrapper_subclass",
      "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct":
      if let first = args.first { construct(first) }
    case "torch._tensor._rebuild_from_type_v2", "torch._tensor._rebuild_from_type":
      // _rebuild_from_type_v2(func, new_type, args, state) calls func(*args).
      if args.count > 2 { judge(callee: args[0], role: .call, args: args[2], site: site, &state) }
      if args.count > 1 { construct(args[1]) }
    default:
      break
    }
  }

  var emptyArgs: ValueID { ValueID(-1) }

  func literalBytes(_ id: ValueID) -> [UInt8]? {
    switch graph[id] {
    case .bytes(let b), .bytearray(let b), .legacyString(let b): return Array(graph.bytes(b))
    case .object:
      // _codecs.encode('<latin-1 text>', 'latin1'): how protocol 2 writes bytes.
      if graph.calleeName(id) == "_codecs.encode", let args = graph.callArguments(id),
        let text = args.first.flatMap({ graph.string($0) })
      {
        return text.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }
      }
      return nil
    default: return nil
    }
  }

  // MARK: - References

  /// The finding for a global that appears in the pickle, judged by name alone when no call
  /// covered it.
  func referenceFinding(_ id: ValueID, _ name: SafetyPolicy.ResolvedName, covered: Bool)
    -> SafetyFinding?
  {
    let full = name.full
    if covered { return nil }
    if SafetyPolicy.isDataCarrying(full) {
      return finding(
        .suspicious, .referencesGlobal, id, global: full, rendering: full,
        detail: "references \(full), a data-carrying class or constructor outside the allowlist")
    }
    if let kind = dangerList(name) {
      return finding(
        .dangerous, kind, id, global: full, rendering: full,
        detail: "imports \(full) (\(kind.rawValue)); whatever receives it can call it")
    }
    if SafetyPolicy.reachesInternals(name) {
      return finding(
        .dangerous, .interpreterInternals, id, global: full, rendering: full,
        detail: "imports \(full), which goes through interpreter internals")
    }
    if SafetyPolicy.importRunsCode(name.module) {
      return finding(
        .dangerous, .importSideEffect, id, global: full, rendering: full,
        detail: "importing \(name.module) runs code")
    }
    if SafetyPolicy.isPlainData(name) { return nil }
    if SafetyPolicy.standardDataTypes.contains(full) {
      return finding(
        .suspicious, .referencesGlobal, id, global: full, rendering: full,
        detail: "references \(full), a data type outside the allowlist")
    }
    let isClass = SafetyPolicy.looksLikeClass(name.path.last ?? "")
    if useDangerList, let kind = moduleDanger(name) {
      if isClass && name.topModule == "torch" {
        return finding(
          .suspicious, .referencesGlobal, id, global: full, rendering: full,
          detail: "references \(full)")
      }
      return finding(
        .dangerous, kind, id, global: full, rendering: full,
        detail: "imports \(full) (\(kind.rawValue)); whatever receives it can call it")
    }
    if name.module == "builtins" {
      if let first = name.path.first, SafetyPolicy.isExceptionName(first) {
        return finding(
          .suspicious, .referencesGlobal, id, global: full, rendering: full,
          detail: "references \(full)")
      }
      return finding(
        .dangerous, .evaluatesCode, id, global: full, rendering: full,
        detail: "imports builtins.\(name.name), which is not a plain data type")
    }
    if name.path.count > 1 && !name.path.allSatisfy({ SafetyPolicy.looksLikeClass($0) }) {
      return finding(
        .dangerous, .methodCall, id, global: full, rendering: full,
        detail:
          "imports \(full): a function reached through the attributes of a class or object (a dotted name)"
      )
    }
    if !isClass && (SafetyPolicy.isStandardLibrary(name) || SafetyPolicy.isPlatformLibrary(name)) {
      return finding(
        .suspicious, .referencesGlobal, id, global: full, rendering: full,
        detail: "references the function \(full) without calling it")
    }
    return finding(
      .suspicious, .referencesGlobal, id, global: full, rendering: full,
      detail: "references \(full), which is outside the allowlist")
  }

  // MARK: - Rendering

  /// `module.name(arg, ...)`. `depth` carries on from the caller: calls nested in arguments
  /// (or in cycles made with BUILD and APPEND) must still end at the depth limit.
  func renderCall(_ callee: ValueID, _ args: ValueID, depth: Int = 0) -> String {
    let inner = depth + 1
    let head = render(callee, depth: inner)
    let text: String
    if args.index < 0 {
      text = head + "()"
    } else if let items = graph.sequence(args) {
      text =
        head + "(" + items.prefix(8).map { render($0, depth: inner) }.joined(separator: ", ")
        + (items.count > 8 ? ", ..." : "") + ")"
    } else {
      text = head + "(*" + render(args, depth: inner) + ")"
    }
    return PythonRepr.clipped(text, 240)
  }

  func renderArgsTail(_ args: ValueID) -> String {
    guard args.index >= 0, let items = graph.sequence(args), !items.isEmpty else { return "" }
    return ", " + items.prefix(6).map { render($0, depth: 1) }.joined(separator: ", ")
  }

  /// A short Python-like rendering of a value.
  func render(_ id: ValueID, depth: Int) -> String {
    guard id.index >= 0, Int(id.index) < graph.count else { return "?" }
    switch graph[id] {
    case .none: return "None"
    case .bool(let b): return b ? "True" : "False"
    case .int(let v): return String(v)
    case .bigInt(let s): return PythonRepr.int(bytes: graph.bytes(s))
    case .float(let v): return PythonRepr.float(v)
    case .string(let s):
      return PythonRepr.clipped(PythonRepr.string(utf8: graph.bytes(s)) ?? "'?'", 100)
    case .legacyString(let s), .bytes(let s):
      return PythonRepr.clipped(PythonRepr.bytes(graph.bytes(s)), 100)
    case .bytearray(let s):
      return "bytearray(" + PythonRepr.clipped(PythonRepr.bytes(graph.bytes(s)), 90) + ")"
    case .global: return resolvedName(id)?.full ?? "<global>"
    case .persistentID: return "<persistent id>"
    case .ext(let code): return "<extension \(code)>"
    case .tuple, .list, .set, .frozenset, .dict:
      if depth > 2 { return "..." }
      let (open, close): (String, String) =
        switch graph[id] {
        case .tuple: ("(", ")")
        case .list: ("[", "]")
        case .dict: ("{", "}")
        default: ("{", "}")
        }
      var items: [String] = []
      switch graph[id] {
      case .dict(let c):
        let all = graph.container(c)
        var i = 0
        while i + 1 < all.count && items.count < 6 {
          items.append(
            render(all[i], depth: depth + 1) + ": " + render(all[i + 1], depth: depth + 1))
          i += 2
        }
        if all.count > 12 { items.append("...") }
      case .set(let c):
        items = graph.container(c).prefix(6).map { render($0, depth: depth + 1) }
      case .frozenset(let s):
        items = graph.ids(s).prefix(6).map { render($0, depth: depth + 1) }
      default:
        let all = graph.sequence(id) ?? []
        items = all.prefix(6).map { render($0, depth: depth + 1) }
        if all.count > 6 { items.append("...") }
        if case .tuple = graph[id], all.count == 1 { return "(" + items[0] + ",)" }
      }
      return open + items.joined(separator: ", ") + close
    case .object(let index):
      if depth > 2 { return "<object>" }
      let c = graph.construction(index)
      switch c {
      case .reduce(let callee, let args): return renderCall(callee, args, depth: depth)
      case .newobj(let cls, _), .newobjEx(let cls, _, _):
        return render(cls, depth: depth + 1) + ".__new__(...)"
      }
    }
  }
}

extension PythonRepr {
  /// `text` cut to at most `limit` characters, with an ellipsis.
  static func clipped(_ text: String, _ limit: Int) -> String {
    text.count <= limit ? text : String(text.prefix(limit - 3)) + "..."
  }
}
