public import PTViewCore
import PTViewPickle

/// `ptview doctor`: predicts what a plain `torch.load(FILE)` does with torch 2.15's defaults
/// (`weights_only=True`, no `map_location`, no `mmap`) on a machine with the given devices,
/// and the fix. It follows `torch.load`'s own path: safetensors by name, zip by the first four
/// bytes (TorchScript refused, `data.pkl` through the weights_only unpickler, each storage
/// restored to its location), otherwise the tar check and the legacy stream.
public struct LoadDoctor: Sendable {
  /// The target machine.
  public var devices = DeviceSet()
  /// Inflates compressed zip records (data.pkl is rarely compressed, but may be).
  public var decompressor: (any RecordDecompressor)?
  /// Largest pickle read.
  public var maxPickleBytes: Int64 = 1 << 30

  public init(devices: DeviceSet = DeviceSet()) { self.devices = devices }

  /// The prediction for the file at `path` (the name matters: `.safetensors`).
  public func diagnose(_ source: any ByteSource, path: String) -> DoctorReport {
    var state = State(path: path)
    run(source, &state)
    var report = state.report(devices: devices)
    if report.verdict == .needsCode, state.editMayHelp {
      var reader = CheckpointReader(decompressor: decompressor)
      reader.maxPickleBytes = maxPickleBytes
      if let checkpoint = try? reader.read(source) {
        let toCPU = state.problems.contains { $0.kind == .location }
        (report.editFixes, report.editNote) = EditAdvisor.fixes(
          checkpoint, path: path, toCPU: toCPU)
      }
    }
    return report
  }

  // MARK: - State

  struct State {
    var path: String
    var format = "unknown"
    var problems: [DoctorProblem] = []
    var notes: [String] = []
    var locations: [String: Int] = [:]
    var locationOrder: [String] = []
    var needed: [String] = []
    var moduleClasses: [String] = []
    var unreadable: String?
    var torchScript = false
    var badTags: [String] = []

    mutating func add(_ p: DoctorProblem) { problems.append(p) }

    /// True when code is needed only for what the pickle holds (classes outside the
    /// allowlist, a whole module, TorchScript): writing the weights alone can then help.
    var editMayHelp: Bool {
      unreadable == nil
        && problems.allSatisfy {
          $0.fix == .rewrite || [.global, .buildType, .wholeModule, .torchScript].contains($0.kind)
        }
    }
    mutating func location(_ tag: String) {
      if locations[tag] == nil { locationOrder.append(tag) }
      locations[tag, default: 0] += 1
    }

    func report(devices: DeviceSet) -> DoctorReport {
      var verdict: DoctorReport.Verdict = .loads
      if unreadable != nil {
        verdict = .unreadable
      } else if problems.contains(where: { $0.fix == .code }) {
        verdict = .needsCode
      } else if !problems.isEmpty {
        verdict = .rewriteFixes
      }
      let rewrite = problems.contains { $0.fix == .rewrite } && unreadable == nil
      var remap: String? = nil
      let out = LoadDoctor.outputName(path)
      if rewrite { remap = "ptview remap \(shellQuoted(path)) -o \(shellQuoted(out)) --to cpu" }
      var code: String? = nil
      if verdict == .needsCode { code = LoadDoctor.code(self, loadPath: rewrite ? out : path) }
      return DoctorReport(
        path: path, verdict: verdict, format: format, problems: problems, notes: notes,
        locations: locationOrder.map { ($0, locations[$0] ?? 0) }, safeGlobals: needed,
        pickledClasses: moduleClasses,
        remapCommand: remap, code: code, unreadableReason: unreadable)
    }
  }

  static func outputName(_ input: String) -> String {
    let path = LocalName.of(input)
    let slash = path.lastIndex(of: "/")
    let nameStart = slash.map { path.index(after: $0) } ?? path.startIndex
    let name = path[nameStart...]
    if let dot = name.lastIndex(of: "."), dot != name.startIndex {
      return String(path[..<dot]) + ".cpu" + String(path[dot...])
    }
    return path + ".cpu"
  }

  // MARK: - torch.load's path

  func run(_ source: any ByteSource, _ state: inout State) {
    let head: [UInt8]
    do { head = try source.read(at: 0, count: 512) } catch {
      state.unreadable = "cannot read: \(error.message)"
      return
    }
    if state.path.hasSuffix(".safetensors") {
      state.format = "safetensors"
      if case .safetensors = SafetyScanner.detect(head, size: source.size) {
        state.notes.append(
          "torch.load hands a path ending in .safetensors to safetensors.torch.load_file: it loads when the safetensors package is installed (tensors go to cpu)"
        )
      } else {
        state.add(
          DoctorProblem(
            .format, .code,
            "the name ends in .safetensors but the content is not safetensors: torch.load hands it to safetensors.torch.load_file, which will refuse it"
          ))
      }
      return
    }
    if source.size == 0 {
      state.unreadable = "the file is empty"
      return
    }
    if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
      runZip(source, &state)
      return
    }
    if head.count >= 262, Array(head[257..<262]) == Array("ustar".utf8) {
      state.format = "tar"
      state.add(
        DoctorProblem(
          .format, .code,
          "a torch <= 0.1.10 tar-format file: torch.load refuses weights_only=True for it (\"Cannot use weights_only=True with files saved in the legacy .tar format\")"
        ))
      state.notes.append("the legacy tar format cannot be memory-mapped")
      return
    }
    switch SafetyScanner.detect(head, size: source.size) {
    case .safetensors:
      state.format = "safetensors"
      state.add(
        DoctorProblem(
          .format, .code,
          "a safetensors file not named *.safetensors: torch.load reads it as a legacy pickle and fails; load it with safetensors.torch.load_file"
        ))
      return
    case .pickle, .legacyTorch:
      runLegacy(source, &state)
    case .npy:
      state.unreadable = "a NumPy .npy file, not a PyTorch checkpoint (numpy.load reads it)"
    default:
      state.unreadable =
        "not a PyTorch checkpoint: no zip, legacy, pickle, tar or safetensors signature at the start"
    }
  }

  // MARK: - Zip

  func runZip(_ source: any ByteSource, _ state: inout State) {
    state.format = "zip"
    let directory: ZipDirectory
    do { directory = try ZipDirectory(source: source) } catch {
      state.unreadable = "the zip archive cannot be read: \(error.description)"
      return
    }
    guard let first = directory.entries.first else {
      state.unreadable = "the zip archive has no records"
      return
    }
    guard let slash = first.name.firstIndex(of: "/") else {
      state.add(
        DoctorProblem(
          .structure, .code,
          "file in archive is not in a subdirectory: \(first.name) (torch needs one root folder)",
          record: first.name))
      return
    }
    let root = String(first.name[..<slash])
    let stray = directory.entries.filter { !$0.name.hasPrefix(root + "/") }
    if let s = stray.first {
      // `ptview remap` drops records outside the root folder.
      state.add(
        DoctorProblem(
          .structure, .rewrite,
          "\(stray.count) record(s) outside the root folder '\(root)/' (e.g. \(s.name)): torch.load refuses the archive",
          record: s.name))
    }
    func small(_ name: String) -> String? {
      guard let entry = directory.entry(named: root + "/" + name), entry.uncompressedSize <= 4096
      else { return nil }
      return (try? record(entry, source)).map { String(decoding: $0, as: UTF8.self) }
    }
    if directory.entry(named: root + "/constants.pkl") != nil {
      state.format = "torchscript"
      state.torchScript = true
      state.add(
        DoctorProblem(
          .torchScript, .code,
          "a TorchScript archive: torch.load refuses it with weights_only=True (\"Cannot use weights_only=True with TorchScript archives passed to torch.load\"); load it with torch.jit.load"
        ))
      // torch.jit.load restores every tensor to its saved location too.
      if let entry = directory.entry(named: root + "/data.pkl"),
        let bytes = try? record(entry, source)
      {
        var emulator = WeightsOnlyEmulator(flavor: .zip, record: entry.name, base: 0)
        emulator.run(bytes, from: 0)
        for s in emulator.storages { state.location(s.location) }
        for tag in state.locationOrder where devices.restoreProblem(tag) != nil {
          state.badTags.append(tag)
        }
        if !state.badTags.isEmpty {
          state.add(
            DoctorProblem(
              .location, .rewrite,
              "tensors saved on \(state.badTags.joined(separator: ", ")): torch.jit.load cannot place them here without map_location",
              subject: state.badTags.joined(separator: ",")))
        }
      }
      return
    }
    guard let dataPickle = directory.entry(named: root + "/data.pkl") else {
      if let format = small("archive_format"), format.hasPrefix("pt2") {
        state.format = "pt2"
        state.add(
          DoctorProblem(
            .format, .code,
            "a torch.export .pt2 archive (no data.pkl): load it with torch.export.load"))
      } else {
        state.add(
          DoctorProblem(
            .structure, .code,
            "the archive has no \(root)/data.pkl: torch.load fails (\"failed locating file data.pkl\")"
          ))
      }
      return
    }
    let version = (small(".data/version") ?? small("version"))?.trimmingBlanks()
    if let version {
      if let v = Int(version), v >= 1, v <= 10 {
      } else {
        state.add(
          DoctorProblem(
            .structure, .code,
            "version record '\(version)' is outside the range torch reads (1...10)",
            record: root + "/version"))
      }
    } else {
      // `ptview remap` adds torch's version record.
      state.add(
        DoctorProblem(
          .structure, .rewrite,
          "no version record: torch.load fails (Expected hasRecord(\"version\") to be true)"))
    }
    if let order = small("byteorder"), order != "little" && order != "big" {
      state.add(
        DoctorProblem(
          .structure, .code, "byteorder record '\(order)' is neither little nor big",
          record: root + "/byteorder"))
    } else if small("byteorder") == "big" {
      state.notes.append(
        "the byteorder record says big-endian: torch swaps the bytes of every storage when loading")
    }
    if let alignment = small(".storage_alignment"), Int(alignment.trimmingBlanks()) == nil {
      state.add(
        DoctorProblem(
          .structure, .code, ".storage_alignment record '\(alignment)' is not an integer",
          record: root + "/.storage_alignment"))
    }
    let bytes: [UInt8]
    do { bytes = try record(dataPickle, source) } catch {
      state.unreadable = "\(dataPickle.name): \(error.description)"
      return
    }
    var base: Int64 = 0
    if dataPickle.isStored, let header = try? ZipDirectory.localHeader(of: dataPickle, in: source) {
      base = header.dataOffset
    }
    var emulator = WeightsOnlyEmulator(flavor: .zip, record: dataPickle.name, base: base)
    emulator.run(bytes, from: 0)
    absorb(emulator, &state)
    // Every storage: its record must exist with the right size, its location must be restorable.
    var checked: Set<String> = []
    for s in emulator.storages where checked.insert(s.key).inserted {
      let name = root + "/data/" + s.key
      guard let entry = directory.entry(named: name) else {
        state.add(
          DoctorProblem(
            .structure, .code,
            "storage record data/\(s.key) is missing: torch.load fails (\"file not found\")",
            record: dataPickle.name, offset: s.offset))
        continue
      }
      let element = LoadDoctor.elementSize(s.storageType)
      if let element, s.numel >= 0,
        case (let needed, let overflow) = s.numel.multipliedReportingOverflow(by: Int64(element)),
        overflow || entry.uncompressedSize != needed
      {
        let need = overflow ? "more than 2^63" : "\(needed)"
        state.add(
          DoctorProblem(
            .structure, .code,
            "record data/\(s.key) holds \(entry.uncompressedSize) bytes but its storage needs \(need): torch.load refuses the size mismatch",
            record: name))
      }
      if !entry.isStored {
        state.notes.append(
          "record data/\(s.key) is compressed: torch.load(mmap=True) would read garbage from it")
      }
    }
    checkLocations(emulator, &state)
  }

  // MARK: - Legacy stream (and bare pickles, which torch.load reads the same way)

  func runLegacy(_ source: any ByteSource, _ state: inout State) {
    state.format = "legacy"
    state.notes.append(
      "the legacy (non-zip) format cannot be memory-mapped: torch.load(mmap=True) refuses it")
    let cap = min(source.size, maxPickleBytes)
    var window = min(cap, 1 << 20)
    while true {
      guard let bytes = try? source.readExactly(at: 0, count: Int(window)) else {
        state.unreadable = "cannot read the file"
        return
      }
      var attempt = state
      let ranOut = legacyPickles(bytes, source, &attempt)
      if ranOut && window < cap {
        window = min(cap, window * 8)
        continue
      }
      state = attempt
      return
    }
  }

  /// Returns true when the pickles ran past the window.
  func legacyPickles(_ bytes: [UInt8], _ source: any ByteSource, _ state: inout State) -> Bool {
    var position = 0
    // 1. The magic number.
    var magic = WeightsOnlyEmulator(flavor: .plain, record: "legacy magic pickle", base: 0)
    magic.run(bytes, from: 0)
    if !magic.completed && Int64(bytes.count) < source.size { return true }
    let isMagic = bytes.starts(with: DetectedFormat.legacyMagic)
    if !isMagic {
      state.format = "pickle"
      absorb(magic, &state)
      if magic.completed {
        state.add(
          DoctorProblem(
            .format, .code,
            "a bare pickle, not a torch.save file: torch.load fails (\"Invalid magic number; corrupt file?\"); it was written by pickle.dump, so it needs pickle.load (only for a trusted file) or the code that wrote it"
          ))
      } else if !state.problems.contains(where: { $0.fix == .code }) {
        state.add(
          DoctorProblem(
            .format, .code,
            "not a torch.save file: torch.load reads it as a legacy stream and fails"))
      }
      return false
    }
    position = magic.end
    // 2. Protocol version, 3. sys_info, 4. the object, 5. the storage keys.
    var mainStorages: [WeightsOnlyEmulator.StorageUse] = []
    var keysEnd = position
    var keys: [String] = []
    for (index, name) in ["protocol", "sys_info", "main", "keys"].enumerated() {
      var e = WeightsOnlyEmulator(
        flavor: index == 2 ? .legacy : .plain, record: "legacy \(name) pickle",
        base: Int64(position))
      e.run(bytes, from: position)
      if !e.completed {
        absorb(e, &state)
        return Int64(bytes.count) < source.size
      }
      if index == 0, case .int(let v) = e.root, v != 1001 {
        state.add(
          DoctorProblem(
            .format, .code,
            "legacy protocol version \(v) (torch reads 1001): \"Invalid protocol version\"",
            offset: Int64(position)))
      }
      absorb(e, &state)
      if index == 2 { mainStorages = e.storages; checkLocations(e, &state) }
      if index == 3 {
        // The storage keys, in the order their data follows.
        var machine = Machine()
        if let outcome = try? machine.load(bytes, from: position),
          let items = machine.graph.sequence(outcome.root)
        {
          keys = items.map { machine.graph.string($0) ?? "?" }
        }
      }
      position = e.end
      keysEnd = position
    }
    // The storages: for each key, an 8-byte element count, then the data.
    var byKey: [String: WeightsOnlyEmulator.StorageUse] = [:]
    for s in mainStorages where byKey[s.key] == nil { byKey[s.key] = s }
    var offset = Int64(keysEnd)
    for key in keys {
      guard let use = byKey[key] else {
        state.add(
          DoctorProblem(
            .structure, .code,
            "storage key '\(key)' is listed but no tensor references it: torch.load fails",
            record: "legacy keys pickle"))
        return false
      }
      guard let header = try? source.readExactly(at: offset, count: 8) else {
        state.add(
          DoctorProblem(
            .structure, .code,
            "the file ends inside storage \(key)'s size header (torch: unexpected EOF)",
            offset: offset))
        return false
      }
      let numel = Int64(bitPattern: header.le(0, 8))
      let element = Int64(LoadDoctor.elementSize(use.storageType) ?? 1)
      if numel != use.numel {
        state.add(
          DoctorProblem(
            .structure, .code,
            "storage \(key) holds \(numel) elements but its tensors say \(use.numel) (torch: storage has wrong byte size)",
            offset: offset))
        return false
      }
      let (size, overflow) = numel.multipliedReportingOverflow(by: element)
      guard !overflow, size >= 0, size <= source.size - offset - 8 else {
        state.add(
          DoctorProblem(
            .structure, .code, "the file ends inside storage \(key)'s data (torch: unexpected EOF)",
            offset: offset))
        return false
      }
      offset += 8 + size
    }
    return false
  }

  // MARK: - Shared

  func absorb(_ e: WeightsOnlyEmulator, _ state: inout State) {
    state.problems += e.problems
    for n in e.needed where !state.needed.contains(n) { state.needed.append(n) }
    let fresh = e.moduleClasses.filter { !state.moduleClasses.contains($0) }
    state.moduleClasses += fresh
    // BUILD runs innermost first: the model object itself is built last.
    if let model = fresh.last {
      let module = model.split(separator: ".").dropLast().joined(separator: ".")
      let cls = model.split(separator: ".").last.map(String.init) ?? model
      let others = fresh.dropLast().map { $0.split(separator: ".").last.map(String.init) ?? $0 }
      state.add(
        DoctorProblem(
          .wholeModule, .code,
          "the file pickles a whole model object: class \(cls) from module \(module)"
            + (others.isEmpty ? "" : " (with submodules \(others.joined(separator: ", ")))")
            + "; loading it needs that module importable and the classes allowlisted, or a trusted file",
          subject: model))
    }
  }

  func checkLocations(_ e: WeightsOnlyEmulator, _ state: inout State) {
    for s in e.storages { state.location(s.location) }
    for tag in state.locationOrder {
      guard let why = devices.restoreProblem(tag) else { continue }
      if state.badTags.contains(tag) { continue }
      state.badTags.append(tag)
      let first = e.storages.first(where: { $0.location == tag })
      state.add(
        DoctorProblem(
          .location, .rewrite,
          "\(state.locations[tag] ?? 0) storage(s) tagged \(tag) cannot be restored here: \(why)",
          record: e.record, offset: first?.offset, subject: tag))
    }
    for (device, offset) in e.deviceArguments {
      if let why = devices.deviceProblem(device) {
        state.add(
          DoctorProblem(
            .location, .rewrite,
            "a tensor is rebuilt on device \(device) (_rebuild_device_tensor_from_cpu_tensor): \(why)",
            record: e.record, offset: offset, subject: device))
      }
    }
  }

  func record(_ entry: ZipEntry, _ source: any ByteSource) throws(CheckpointError) -> [UInt8] {
    var reader = CheckpointReader(decompressor: decompressor)
    reader.maxPickleBytes = maxPickleBytes
    return try reader.record(entry, in: source)
  }

  static func elementSize(_ storageType: String) -> Int? {
    // Asked for every storage of a checkpoint: find the class name without splitting.
    let last = storageType.lastIndex(of: ".").map { storageType[$0...].dropFirst() }
    return DType.forStorageClass(last.map(String.init) ?? storageType)?.elementSize
  }

  // MARK: - The fix as code

  static func code(_ state: State, loadPath: String) -> String {
    var lines: [String] = []
    let path = pythonQuoted(loadPath)
    if state.torchScript {
      let map = state.badTags.isEmpty ? "" : ", map_location=\"cpu\""
      lines.append("import torch")
      lines.append(
        "model = torch.jit.load(\(pythonQuoted(state.path))\(map))  # TorchScript: torch.jit.load, not torch.load"
      )
      return lines.joined(separator: "\n")
    }
    let formatProblems = state.problems.filter {
      $0.kind == .format || $0.kind == .structure || ($0.kind == .opcode && $0.fix == .code)
    }
    if !formatProblems.isEmpty && state.needed.isEmpty {
      if state.format == "pt2" {
        return "import torch\nprogram = torch.export.load(\(pythonQuoted(state.path)))"
      }
      if state.format == "safetensors" {
        return
          "from safetensors.torch import load_file\ntensors = load_file(\(pythonQuoted(state.path)))"
      }
      if state.format == "pickle" {
        return
          "import pickle\n# only for a file you trust: pickle runs whatever the file asks for\nwith open(\(pythonQuoted(state.path)), \"rb\") as f:\n    obj = pickle.load(f)"
      }
      if state.format == "tar" {
        return
          "import torch\n# only for a file you trust: weights_only=False runs whatever the pickle asks for\nobj = torch.load(\(pythonQuoted(state.path)), weights_only=False)"
      }
      return "# torch.load cannot read this file as it is: "
        + formatProblems.map(\.message).joined(separator: "; ")
    }
    var modules: [String] = []
    var names: [String] = []
    var mainClasses: [String] = []
    for full in state.needed {
      let parts = full.split(separator: ".").map(String.init)
      guard parts.count >= 2 else { continue }
      let module = parts.dropLast().joined(separator: ".")
      if module == "builtins" {
        names.append(parts.last!)
      } else if module == "__main__" {
        mainClasses.append(parts.last!)
        names.append(parts.last!)
      } else {
        if !modules.contains(module) { modules.append(module) }
        names.append(full)
      }
    }
    lines.append("import torch")
    for m in modules { lines.append("import \(m)") }
    if !mainClasses.isEmpty {
      lines.append(
        "# \(mainClasses.joined(separator: ", ")) were pickled from a script's __main__: define or import them here first"
      )
    }
    if !names.isEmpty {
      lines.append("torch.serialization.add_safe_globals([\(names.joined(separator: ", "))])")
    }
    lines.append("obj = torch.load(\(path))")
    if !state.moduleClasses.isEmpty {
      lines.append(
        "# or, for a file you trust (runs the pickled classes' code): obj = torch.load(\(path), weights_only=False)"
      )
    }
    return lines.joined(separator: "\n")
  }
}

func shellQuoted(_ s: String) -> String {
  if !s.isEmpty, s.allSatisfy({ $0.isLetter || $0.isNumber || "/._-+,:@%=".contains($0) }) {
    return s
  }
  return "'" + s.replacingAll("'", with: "'\\''") + "'"
}

func pythonQuoted(_ s: String) -> String {
  "\"" + s.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"") + "\""
}

extension String {
  func replacingAll(_ target: String, with replacement: String) -> String {
    guard !target.isEmpty else { return self }
    var out = ""
    var rest = Substring(self)
    while let r = rest.firstRange(of: target) {
      out += rest[..<r.lowerBound]
      out += replacement
      rest = rest[r.upperBound...]
    }
    return out + rest
  }
}
