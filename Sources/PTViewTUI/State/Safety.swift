public import PTViewCore
import PTViewEdit
public import PTViewJudge
import PTViewPickle

/// What ptview's two checks say about the opened file: the whole-file safety scan (`ptview
/// scan`), the load prediction (`ptview doctor`), and the scan's findings on the explorer's
/// own graph, which name the nodes to mark in the tree.
///
/// The shell runs the scan and the doctor when the file is opened (they read only the pickles);
/// the explorer only shows what they found.
public struct Assessment: Sendable {
  /// The whole-file scan, whose verdict the header shows.
  public var scan: SafetyReport?
  /// The prediction for a plain `torch.load` on this machine.
  public var doctor: DoctorReport?
  /// Findings about nodes of the checkpoint's graph (`findings(in:)`).
  public var findings: [SafetyFinding]

  /// An assessment from reports the shell made and findings on the checkpoint's graph.
  public init(scan: SafetyReport?, doctor: DoctorReport?, findings: [SafetyFinding] = []) {
    self.scan = scan
    self.doctor = doctor
    self.findings = findings
  }

  /// An assessment of `checkpoint`: the reports, plus the pickle analysis run over its own
  /// graph so that every finding names one of its nodes. When the scan found the file safe
  /// there is nothing to place, and the analysis (a pass over every node) is skipped.
  ///
  /// - Parameter opcodeAt: the byte at a file offset, when the shell can read it (tells
  ///   protocol 0/1 INST and OBJ from NEWOBJ, as the scan does).
  public init(
    checkpoint: Checkpoint, scan: SafetyReport?, doctor: DoctorReport?,
    opcodeAt: (@Sendable (Int64) -> UInt8?)? = nil
  ) {
    let findings =
      scan?.verdict == .safe ? [] : Self.findings(in: checkpoint, opcodeAt: opcodeAt)
    self.init(scan: scan, doctor: doctor, findings: findings)
  }

  /// Runs `PickleSafetyAnalyzer` over every pickle of `checkpoint`. Pure and fast: it reads
  /// the graph that was already decoded, nothing else.
  public static func findings(
    in checkpoint: Checkpoint, opcodeAt: (@Sendable (Int64) -> UInt8?)? = nil
  ) -> [SafetyFinding] {
    var out: [SafetyFinding] = []
    for section in checkpoint.pickles where !section.nodes.isEmpty {
      // Zip records are named as the scan names them: with the archive's root folder.
      let record = checkpoint.archiveRoot.map { $0 + "/" + section.name } ?? section.name
      var analyzer = PickleSafetyAnalyzer(
        graph: checkpoint.graph, nodes: section.nodes, location: record)
      // Offsets are file offsets except inside compressed zip records.
      let inFile = checkpoint.directory?.entry(named: record)?.isStored ?? true
      analyzer.offsetIsInFile = inFile
      if inFile, let opcodeAt {
        analyzer.opcodeAt = { offset in opcodeAt(Int64(offset)) }
      }
      out += analyzer.findings()
    }
    return out
  }
}

/// The doctor's verdict in the explorer's words: what the header says and why.
public struct LoadSummary: Hashable, Sendable {
  /// What a plain `torch.load` does here.
  public enum Outcome: Hashable, Sendable {
    /// Loads as is.
    case loads
    /// Fails, and a ptview rewrite (the explorer's `w`) fixes it.
    case fixable
    /// Fails, and needs code changes or a trusted class (a rewrite may be needed too).
    case needsCode
    /// The doctor could not read the file.
    case unreadable
  }

  /// The verdict.
  public var outcome: Outcome
  /// Why it fails, in a few words each: `cuda:0`, `7 globals`, `pickled model`.
  public var reasons: [String]

  /// Creates a summary.
  public init(outcome: Outcome, reasons: [String] = []) {
    self.outcome = outcome
    self.reasons = reasons
  }

  /// The summary of a doctor's report.
  public init(_ report: DoctorReport) {
    switch report.verdict {
    case .loads: outcome = .loads
    case .rewriteFixes: outcome = .fixable
    case .needsCode: outcome = .needsCode
    case .unreadable: outcome = .unreadable
    }
    var locations: [String] = []
    var opcodes = false
    var globals: [String] = []
    var code: [String] = []
    for problem in report.problems {
      switch problem.kind {
      case .location:
        if let s = problem.subject, !locations.contains(s) { locations.append(s) }
      case .opcode: opcodes = true
      case .global, .buildType:
        if let s = problem.subject, !globals.contains(s) { globals.append(s) }
      case .wholeModule: if !code.contains("pickled model") { code.append("pickled model") }
      case .torchScript: if !code.contains("TorchScript") { code.append("TorchScript") }
      case .structure, .format: if !code.contains("format") { code.append("format") }
      }
    }
    var reasons = Array(locations.prefix(2))
    if locations.count > 2 { reasons.append("+\(locations.count - 2)") }
    if opcodes { reasons.append("opcodes") }
    if code.contains("pickled model") {
      reasons += code
    } else {
      if globals.count == 1 {
        // `argparse.Namespace` reads well; `numpy._core.multiarray.scalar` is cut to `scalar`.
        let name = globals[0]
        reasons.append(name.count <= 20 ? name : String(name.split(separator: ".").last ?? ""))
      } else if globals.count > 1 {
        reasons.append("\(globals.count) globals")
      }
      reasons += code
    }
    self.reasons = reasons
  }

  /// The verdict in one or two words: `loads`, `fixable`, `needs code`, `unreadable`.
  public var word: String {
    switch outcome {
    case .loads: "loads"
    case .fixable: "fixable"
    case .needsCode: "needs code"
    case .unreadable: "unreadable"
    }
  }

  /// The verdict with its reasons: `fails (cuda:0) → fixable`.
  public var phrase: String {
    switch outcome {
    case .loads, .unreadable: word
    case .fixable, .needsCode:
      "fails" + (reasons.isEmpty ? "" : " (" + reasons.joined(separator: ", ") + ")") + " → " + word
    }
  }

  /// A clause for the status line after a write: what `torch.load` does with the new file.
  public var afterWrite: String {
    switch outcome {
    case .loads: "torch.load now loads it"
    case .fixable:
      "torch.load still fails"
        + (reasons.isEmpty ? "" : " (" + reasons.joined(separator: ", ") + ")")
    case .needsCode:
      "torch.load still needs code"
        + (reasons.isEmpty ? "" : " (" + reasons.joined(separator: ", ") + ")")
    case .unreadable: "the doctor cannot read it"
    }
  }
}

/// Where the safety findings are in the tree: which rows carry one (or hide one in their
/// collapsed subtree), how severe, and the findings themselves. Made once when the file is
/// opened; rows look their marks up by node id.
public struct SafetyMarks: Sendable {
  /// The mark of a row: none, `?` (suspicious or unscannable) or `!` (dangerous).
  public enum Level: UInt8, Comparable, Sendable {
    case none = 0
    case suspicious = 1
    case dangerous = 2

    init(_ verdict: SafetyVerdict) {
      switch verdict {
      case .safe: self = .none
      case .suspicious, .unscannable: self = .suspicious
      case .dangerous: self = .dangerous
      }
    }

    public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
  }

  /// The scan's verdict on the whole file (nil when there was no scan).
  public var scan: SafetyVerdict?
  /// The doctor's verdict (nil when there was no prediction).
  public var doctor: LoadSummary?
  /// Every finding shown, most severe first.
  public internal(set) var findings: [SafetyFinding] = []
  /// Per node: the most severe of its own findings.
  var own: [Level] = []
  /// Per node: the most severe finding in its subtree, itself included.
  var below: [Level] = []
  /// Findings per node, as indices into `findings`, most severe first.
  var byNode: [Int32: [Int]] = [:]
  /// Nodes with findings of their own, in display order (what `!` visits).
  public internal(set) var flagged: [Int32] = []
  /// For the rows made for findings that no row of the file's object shows: what they are
  /// (on a folder: the shard whose findings mark the row).
  var notes: [Int32: String] = [:]
  /// On a folder: the shards the scan flags, in folder order, with their marks.
  public internal(set) var flaggedShards: [(name: String, verdict: SafetyVerdict)] = []

  /// No assessment: no marks, no verdicts.
  public init() {}

  /// The mark of node `id` itself.
  public func level(of id: Int32) -> Level { Int(id) < own.count ? own[Int(id)] : .none }

  /// The most severe mark in the subtree of `id`.
  public func levelBelow(_ id: Int32) -> Level {
    Int(id) < below.count ? below[Int(id)] : .none
  }

  /// The findings on node `id`, most severe first.
  public func findings(of id: Int32) -> [SafetyFinding] {
    (byNode[id] ?? []).map { findings[$0] }
  }

  /// Places the findings of `assessment` on the tree of `checkpoint`. Findings about a node
  /// that no row shows (a call whose result the pickle throws away, the object `torch.load`
  /// returns, another pickle of the file, another record of the archive) get rows of their own
  /// at the top of the tree, so nothing the scan found is hidden.
  init(tree: inout Tree, checkpoint: Checkpoint, assessment: Assessment?) {
    own = Array(repeating: .none, count: tree.count)
    below = own
    guard let assessment else { return }
    scan = assessment.scan?.verdict
    doctor = assessment.doctor.map(LoadSummary.init)

    // The scan is the reference: its verdicts replace the per-node ones where both saw the
    // same thing; what only the scan saw (nested pickles, other records) is kept apart.
    var nodeFindings = assessment.findings.filter { $0.verdict != .safe }
    var scanOnly: [SafetyFinding] = []
    if let report = assessment.scan {
      // File offsets name a place on their own; offsets inside an inflated record need it.
      func key(_ f: SafetyFinding) -> String {
        (f.offsetIsInFile ? "file" : f.location)
          + "|\(f.offset)|\(f.global ?? "")|\(f.rendering ?? "")"
      }
      var index: [String: Int] = [:]
      for (i, f) in nodeFindings.enumerated() where index[key(f)] == nil { index[key(f)] = i }
      for s in report.findings where s.verdict != .safe {
        if let i = index[key(s)] {
          nodeFindings[i].verdict = s.verdict
          nodeFindings[i].kind = s.kind
          nodeFindings[i].detail = s.detail
          nodeFindings[i].location = s.location
        } else {
          scanOnly.append(s)
        }
      }
    }
    if nodeFindings.isEmpty && scanOnly.isEmpty { return }

    let owner = Self.owners(tree: tree, checkpoint: checkpoint, needed: !nodeFindings.isEmpty)
    var attached: [(node: Int32, finding: SafetyFinding)] = []
    var loose: [(label: String, note: String, finding: SafetyFinding)] = []
    let elsewhere = "found by the scan outside the pickle shown here"
    let discarded = "runs while unpickling; the result is thrown away"
    let root = checkpoint.root
    for f in nodeFindings {
      guard let n = f.node, Int(n.index) < owner.count else {
        loose.append(("(" + f.location + ")", elsewhere, f))
        continue
      }
      let t = owner[Int(n.index)]
      if t > 0 {
        attached.append((t, f))
      } else if t == 0 {
        if n == root {
          loose.append(("(torch.load returns)", "the object torch.load returns", f))
        } else {
          loose.append(
            ("(in the loaded object)", "inside what torch.load returns", f))
        }
      } else {
        // Not reached from the object torch.load returns: thrown away by the pickle that made
        // it, or made by another pickle of the file (the legacy format's sys_info, keys...).
        let index = Int(n.index)
        let section = checkpoint.pickles.first { $0.nodes.contains(index) }
        let main = root.flatMap { r in checkpoint.pickles.first { $0.nodes.contains(Int(r.index)) }
        }
        if let section, let main, section.nodes != main.nodes {
          loose.append(
            ("(" + section.name + " pickle)", "in another pickle that torch.load runs", f))
        } else {
          loose.append(("(discarded)", discarded, f))
        }
      }
    }
    for s in scanOnly { loose.append(("(" + s.location + ")", elsewhere, s)) }

    // Rows for the loose findings, most severe first, at most a screenful.
    loose = loose.enumerated().sorted { a, b in
      Level(a.element.finding.verdict) != Level(b.element.finding.verdict)
        ? Level(a.element.finding.verdict) > Level(b.element.finding.verdict) : a.offset < b.offset
    }.map(\.element)
    let limit = 24
    var items = loose.prefix(limit).map { item in
      (
        label: item.label,
        text: item.finding.rendering ?? item.finding.global ?? item.finding.detail
      )
    }
    if loose.count > limit {
      items.append(
        (label: "…", text: "\(loose.count - limit) more findings: ptview scan lists them all"))
    }
    let rows = tree.prependValues(items)
    for (i, id) in rows.enumerated() where i < min(loose.count, limit) {
      attached.append((id, loose[i].finding))
      notes[id] = loose[i].note
    }

    own = Array(repeating: .none, count: tree.count)
    below = own
    attached.sort { a, b in
      Level(a.finding.verdict) != Level(b.finding.verdict)
        ? Level(a.finding.verdict) > Level(b.finding.verdict) : a.finding.offset < b.finding.offset
    }
    for (node, finding) in attached {
      byNode[node, default: []].append(findings.count)
      findings.append(finding)
      own[Int(node)] = max(own[Int(node)], Level(finding.verdict))
    }
    for id in tree.preorder.reversed() {
      below[Int(id)] = max(below[Int(id)], own[Int(id)])
      let parent = tree[id].parent
      if parent >= 0 { below[Int(parent)] = max(below[Int(parent)], below[Int(id)]) }
    }
    flagged = tree.preorder.filter { own[Int($0)] != .none }
  }

  /// For each graph node, the row that stands for it or for its nearest container that has a
  /// row (-1 when the object `torch.load` returns does not reach it; 0 for the root).
  ///
  /// Rows know their graph nodes (values and containers by `source`, tensors by their
  /// entry, modules by `module`; submodules are matched by name); a walk from the root hands
  /// each node to the nearest such row above it.
  static func owners(tree: Tree, checkpoint: Checkpoint, needed: Bool) -> [Int32] {
    let graph = checkpoint.graph
    guard needed, let root = checkpoint.root else {
      return Array(repeating: -1, count: graph.count)
    }
    var anchors: [Int32: Int32] = [:]
    var modules: [(row: Int32, object: ValueID)] = []
    for id in tree.preorder {
      let node = tree[id]
      if node.source >= 0, anchors[node.source] == nil {
        anchors[node.source] = id
        modules.append((id, ValueID(node.source)))
      }
      if node.module >= 0, anchors[node.module] == nil {
        anchors[node.module] = id
        modules.append((id, ValueID(node.module)))
      }
      if node.kind == .tensor, let t = tree.entry(of: id)?.tensor.node, anchors[t.index] == nil {
        anchors[t.index] = id
      }
    }
    // Submodules of a pickled module have rows named after their `_modules` keys.
    var seen: Set<Int32> = []
    while let (row, object) = modules.popLast() {
      guard seen.insert(object.index).inserted, ModuleTree(graph: graph, node: object) != nil,
        let state = graph.buildState(object), let subs = graph.lookup(state, "_modules"),
        let items = graph.dictItems(subs)
      else { continue }
      for (k, v) in items {
        guard anchors[v.index] == nil,
          let child = Self.child(of: row, named: graph.keyText(k), in: tree)
        else { continue }
        anchors[v.index] = child
        modules.append((child, v))
      }
    }
    var owner = [Int32](repeating: -1, count: graph.count)
    var work: [(ValueID, Int32)] = [(root, 0)]
    while let (v, above) = work.popLast() {
      let i = Int(v.index)
      guard i >= 0, i < graph.count, owner[i] < 0 else { continue }
      let mine = anchors[v.index] ?? above
      owner[i] = mine
      for c in graph.children(of: v) where Int(c.index) < graph.count && owner[Int(c.index)] < 0 {
        work.append((c, mine))
      }
    }
    return owner
  }

  /// The child row of `row` named `name`, looking inside folded runs.
  static func child(of row: Int32, named name: String, in tree: Tree) -> Int32? {
    for c in tree[row].children {
      if tree[c].kind == .run {
        if let inner = tree[c].children.first(where: { tree[$0].name == name }) { return inner }
      } else if tree[c].name == name {
        return c
      }
    }
    return nil
  }
}

extension SafetyMarks {
  /// The marks of a folder: each shard was scanned on its own (`scans`, in the order of
  /// `folder.shards`); every tensor row of a shard with findings carries that shard's mark
  /// (`?` or `!`), its pane names the shard and the worst finding, and `!` visits the first
  /// row of each flagged shard. The findings keep no graph node: they were found on the
  /// shard's own parse, not on the merged tree, and the graph view must not place them.
  init(folder: FolderShards, tree: Tree, scans: [SafetyReport?], doctor: LoadSummary?) {
    own = Array(repeating: .none, count: tree.count)
    below = own
    self.doctor = doctor
    var worst: SafetyVerdict?
    func rank(_ v: SafetyVerdict?) -> Int { v.map { $0.severity + 1 } ?? 0 }
    // Per shard: its level and its findings (indices into `findings`), most severe first.
    var shardLevel = Array(repeating: Level.none, count: folder.shards.count)
    var shardFindings = Array(repeating: [Int](), count: folder.shards.count)
    for (s, report) in scans.enumerated() where s < folder.shards.count {
      guard let report else { continue }
      if rank(report.verdict) > rank(worst) { worst = report.verdict }
      let level = Level(report.verdict)
      guard level != .none else { continue }
      shardLevel[s] = level
      var found = report.findings.filter { $0.verdict != .safe }
      found.sort { Level($0.verdict) > Level($1.verdict) }
      if found.isEmpty {
        // An unscannable shard has no finding to show: its verdict stands for one.
        found = [
          SafetyFinding(
            verdict: report.verdict, kind: .unparsable, location: folder.shards[s].name,
            offset: 0, offsetIsInFile: true, global: nil, rendering: nil,
            detail: "the scan could not check all of this file", node: nil)
        ]
      }
      for var finding in found {
        finding.node = nil
        shardFindings[s].append(findings.count)
        findings.append(finding)
      }
    }
    scan = worst
    var first = Array(repeating: Int32(-1), count: folder.shards.count)
    for id in tree.preorder where tree[id].kind == .tensor {
      guard let place = folder.locate(tree[id].entry), shardLevel[place.shard] != .none else {
        continue
      }
      own[Int(id)] = shardLevel[place.shard]
      byNode[id] = shardFindings[place.shard]
      let f = findings[shardFindings[place.shard][0]]
      notes[id] = "in \(folder.shards[place.shard].name): \(f.global ?? f.verdict.rawValue)"
      if first[place.shard] < 0 { first[place.shard] = id }
    }
    for id in tree.preorder.reversed() {
      below[Int(id)] = max(below[Int(id)], own[Int(id)])
      let parent = tree[id].parent
      if parent >= 0 { below[Int(parent)] = max(below[Int(parent)], below[Int(id)]) }
    }
    flagged = tree.preorder.filter { id in first.contains(id) }
    flaggedShards = scans.indices.compactMap { s in
      guard s < folder.shards.count, shardLevel[s] != .none, let verdict = scans[s]?.verdict
      else { return nil }
      return (folder.shards[s].name, verdict)
    }
  }

  /// What the status line says when a folder's verdicts arrive: which shards the scan
  /// flags, or nothing.
  var folderStatus: Status? {
    // The first of the most severe shards, in folder order.
    guard let scan, scan != .safe,
      let worst = flaggedShards.first(where: { $0.verdict == scan }) ?? flaggedShards.first
    else { return nil }
    let others = flaggedShards.count - 1
    let mark = Level(worst.verdict) == .dangerous ? "!" : "?"
    var text = "The scan finds \(worst.name) \(worst.verdict.rawValue)"
    if others > 0 { text += " (and \(others) more file\(others == 1 ? "" : "s"))" }
    text += ": its rows are marked \(mark), ! goes to each; ptview scan FOLDER lists why."
    return Status(text, Level(worst.verdict) == .dangerous ? .error : .warning)
  }

  /// What the status line says when the file opens: the danger, prominently, or nothing.
  var openingStatus: Status? {
    guard let scan, scan != .safe else { return nil }
    let count = flagged.count
    let visit =
      count == 0 ? "" : count == 1 ? " ! goes to it." : " ! goes to each of the \(count)."
    let named = findings.first { $0.verdict == scan }?.global
    switch scan {
    case .dangerous:
      return Status(
        "Dangerous: unpickling this file runs \(named ?? "code") (torch.load with weights_only=False); "
          + "ptview runs nothing from it." + visit, .error)
    case .suspicious:
      return Status(
        "Suspicious: unpickling this file needs \(named ?? "classes") beyond plain data." + visit,
        .warning)
    case .unscannable:
      return Status("The safety scan could not check all of this file." + visit, .warning)
    case .safe:
      return nil
    }
  }

  /// The flagged rows in the subtree of `id`: a slice of `flagged`, which is in display order,
  /// found by binary search (a frame never walks a big subtree).
  func flagged(under id: Int32, in tree: Tree) -> ArraySlice<Int32> {
    let start = tree.preIndex[Int(id)]
    let end = start + tree.subtreeSize[Int(id)]
    return flagged[
      tree.firstIndex(in: flagged, atOrAfter: start)..<tree.firstIndex(in: flagged, atOrAfter: end)]
  }

  /// The most severe finding in the subtree of `id` (the first in display order among
  /// equals), and the node that has it.
  func worstFinding(under id: Int32, in tree: Tree) -> (node: Int32, finding: SafetyFinding)? {
    var best: (Int32, SafetyFinding)?
    var bestLevel = Level.none
    for node in flagged(under: id, in: tree) {
      guard let f = findings(of: node).first, Level(f.verdict) > bestLevel else { continue }
      best = (node, f)
      bestLevel = Level(f.verdict)
      if bestLevel == .dangerous { break }
    }
    return best
  }
}
