public import PTViewCore
public import PTViewEdit
import PTViewJudge

/// Settings fixed for a session.
public struct Settings: Hashable, Sendable {
  /// The input path as given (the write prompt suggests a path beside it).
  public var inputPath: String
  /// Draw with ASCII only (the locale cannot show UTF-8).
  public var asciiOnly: Bool = false

  /// Creates settings.
  public init(inputPath: String, asciiOnly: Bool = false) {
    self.inputPath = inputPath
    self.asciiOnly = asciiOnly
  }
}

/// The explorer's whole state. `update` changes it, `render` draws it; nothing else does.
public struct Model: Sendable {
  /// The checkpoint as a tree (rows for safety findings are added once they arrive).
  public internal(set) var tree: Tree
  /// Header facts (never change).
  public let header: HeaderFacts
  /// The safety scan's and the load doctor's verdicts, and the rows their findings mark.
  public internal(set) var safety: SafetyMarks
  /// True while the shell is still making the assessment (the header says "checking").
  public var assessing = false
  /// Session settings.
  public var settings: Settings
  /// The terminal size.
  public var size: Size
  /// Per node: expanded.
  public var expanded: [Bool]
  /// The rows on display, as node ids in display order (a subsequence of `tree.preorder`).
  public var rows: [Int32] = []
  /// The focused row (index into `rows`).
  public var focus: Int = 0
  /// The first row drawn.
  public var top: Int = 0
  /// Staged edits.
  public var staging = Staging()
  /// Staged edits as the tree sees them.
  public var pending: PendingView
  /// The checkpoint, for planning the staged operations (nil for a model made from a tree,
  /// and for a folder, whose shards are in `folder`).
  public internal(set) var checkpoint: Checkpoint?
  /// The folder the tree merges, when a folder was opened: its shards, each tensor's file.
  public internal(set) var folder: FolderShards?
  /// Per node, for a folder: the index into `folder.fileNames` of the file all tensors below
  /// live in, `Tree.none` or `Tree.mixed`.
  public internal(set) var nodeFile: [Int32] = []
  /// The shard the graph view shows (a folder's graphs are one per shard).
  public internal(set) var graphShard: Int?
  /// Per shard, the bytes of its pickles, for the graph view's opcode pane on a folder.
  public var shardPickles: [[String: PickleBytes]] = []
  /// What `EditPlanner` made of `staging.operations` (nil when none are staged): the tree's
  /// renames, drops, casts and device moves are all read from it.
  public internal(set) var plan: EditPlan?
  /// The plan as the tree sees it.
  public internal(set) var edit: EditView
  /// Earlier stagings, for `u`, with what each step did.
  public var history: [(staging: Staging, description: String)] = []
  /// The last search.
  public var search: Search?
  /// The filter in force.
  public var filter: ActiveFilter?
  /// What has the keyboard.
  public var mode: Mode = .browse
  /// The status line message.
  public var status: Status?
  /// The last file written.
  public var saved: String?
  /// The values pane (`v`).
  public var values = ValuesPane()
  /// The full-file NaN/Inf check (`V`) and the rows it marks.
  public internal(set) var valueCheck = ValueCheck()
  /// The pickle graph view (`Tab`), made the first time it is opened.
  public internal(set) var graph: GraphView?
  /// The bytes of each pickle by section name, for the graph's opcode pane (the shell reads
  /// them; without them the pane says so).
  public var pickles: [String: PickleBytes] = [:]
  /// Reads the first bytes of a storage record, for the opcode pane's hex view (the shell's;
  /// nil leaves the hex view out).
  public var storageReader: (any StorageHeadReader)? = nil

  /// A model for `tree`, opened collapsed to a depth that fills about one screen.
  public init(
    tree: Tree, header: HeaderFacts, settings: Settings, size: Size = .standard,
    safety: SafetyMarks = SafetyMarks()
  ) {
    self.tree = tree
    self.header = header
    self.safety = safety
    self.settings = settings
    self.size = size
    expanded = Array(repeating: false, count: tree.count)
    expanded[0] = true
    pending = PendingView(tree: tree)
    edit = EditView(tree: tree)
    openToUsefulDepth(budget: max(12, Layout(size).bodyHeight))
    rebuildRows()
    if tree[0].children.isEmpty {
      status = Status("No tensors or values in this file.", .warning)
    }
    if let warning = safety.openingStatus { status = warning }
  }

  /// A model for `checkpoint` read from `path`.
  ///
  /// - Parameter assessment: the safety scan and the load prediction the shell made when it
  ///   opened the file; the header shows their verdicts and the tree marks the findings.
  public init(
    checkpoint: Checkpoint, path: String, size: Size = .standard, asciiOnly: Bool = false,
    assessment: Assessment? = nil
  ) {
    var tree = Tree(checkpoint: checkpoint)
    let safety = SafetyMarks(tree: &tree, checkpoint: checkpoint, assessment: assessment)
    self.init(
      tree: tree, header: HeaderFacts(checkpoint: checkpoint, tree: tree, path: path),
      settings: Settings(inputPath: path, asciiOnly: asciiOnly), size: size, safety: safety)
    self.checkpoint = checkpoint
  }

  /// A model for the folder `folder` opened from `path`: one tree of every shard's tensors.
  public init(folder: FolderShards, path: String, size: Size = .standard, asciiOnly: Bool = false) {
    let tree = Tree(entries: folder.entries)
    self.init(
      tree: tree, header: HeaderFacts(folder: folder, tree: tree),
      settings: Settings(inputPath: path, asciiOnly: asciiOnly), size: size)
    self.folder = folder
    nodeFile = Self.fileCodes(tree, folder)
    if tree[0].children.isEmpty {
      status = Status("No tensors in this folder.", .warning)
    } else if let readOnly = folder.readOnly {
      status = Status(String(readOnly.prefix(1)).uppercased() + readOnly.dropFirst() + ".", .info)
    }
  }

  /// Per node: the file of the tensors below it, or none/mixed.
  static func fileCodes(_ tree: Tree, _ folder: FolderShards) -> [Int32] {
    var codes = Array(repeating: Tree.none, count: tree.count)
    for id in tree.preorder.reversed() {
      let node = tree[id]
      if node.kind == .tensor, node.entry >= 0, Int(node.entry) < folder.entryFile.count {
        codes[Int(id)] = folder.entryFile[Int(node.entry)]
      }
      let parent = Int(node.parent)
      if parent >= 0, codes[Int(id)] != Tree.none {
        codes[parent] = TreeBuilder.merge(codes[parent], codes[Int(id)])
      }
    }
    return codes
  }

  /// Whether staged operations can be planned (a file or a folder is open).
  var canPlan: Bool { checkpoint != nil || folder != nil }

  /// Plans `operations` on the file, or on every shard of the folder.
  func planEdits(_ operations: [EditOperation]) throws(EditRefusal) -> EditPlan {
    if let folder { return try folder.plan(operations) }
    guard let checkpoint else { throw EditRefusal("no checkpoint to plan edits on") }
    return try EditPlanner.plan(checkpoint, operations)
  }

  /// The screen layout for the current size (and the values pane, when open).
  public var layout: Layout { Layout(size, valuesPane: values.isOpen) }

  /// The focused node, if any row is shown.
  public var focusedNode: Int32? { rows.indices.contains(focus) ? rows[focus] : nil }

  /// Whether `id` passes the filter.
  func isShown(_ id: Int32) -> Bool { filter?.shown[Int(id)] ?? true }

  /// Expands levels from the top while the rows fit in `budget`: the first screen shows the
  /// top-level containers opened (`model`, `optimizer`) with numbered runs still folded.
  mutating func openToUsefulDepth(budget: Int) {
    var shown = tree[0].children.count
    var level = tree[0].children
    for depth in 0..<8 {
      let candidates = level.filter { id in
        let node = tree[id]
        return node.kind == .group && !node.indexed && node.tensors > 0 && !node.children.isEmpty
      }
      if candidates.isEmpty { break }
      let added = candidates.reduce(0) { $0 + tree[$1].children.count }
      if shown + added <= budget {
        for id in candidates { expanded[Int(id)] = true }
        shown += added
        level = candidates.flatMap { tree[$0].children }
        continue
      }
      if depth == 0 {
        for id in candidates where shown + tree[id].children.count <= budget {
          expanded[Int(id)] = true
          shown += tree[id].children.count
        }
      }
      break
    }
  }

  /// The rows under `id` that its expansion shows, in order.
  func visibleDescendants(of id: Int32) -> [Int32] {
    var out: [Int32] = []
    var work: [Int32] = tree[id].children.reversed()
    while let next = work.popLast() {
      guard isShown(next) else { continue }
      out.append(next)
      if expanded[Int(next)] {
        for child in tree[next].children.reversed() { work.append(child) }
      }
    }
    return out
  }

  /// Recomputes every row (after a filter or depth change), keeping the focus on the same
  /// node or its nearest shown ancestor.
  /// Takes the safety scan and the load prediction that arrived after the first screen:
  /// marks the tree (adding rows for findings no row shows) and keeps the focus where it was.
  mutating func receive(_ delivery: AssessmentDelivery) {
    if let folder {
      // Each shard was scanned on its own: the rows of a shard with findings carry its
      // mark, and the status names the shard. The doctor's verdict is the worst file's.
      safety = SafetyMarks(
        folder: folder, tree: tree,
        scans: delivery.shards?.map { $0?.scan } ?? [delivery.assessment.scan],
        doctor: delivery.assessment.doctor.map(LoadSummary.init))
      assessing = false
      if let warning = safety.folderStatus, status == nil || status?.kind != .error {
        status = warning
      }
      return
    }
    var grown = tree
    let marks = SafetyMarks(
      tree: &grown, checkpoint: delivery.checkpoint, assessment: delivery.assessment)
    let added = grown.count - tree.count
    tree = grown
    safety = marks
    assessing = false
    if added > 0 {
      expanded += Array(repeating: false, count: added)
      pending = PendingView(tree: tree, plan: plan)
      edit = EditView(tree: tree, operations: staging.operations, plan: plan)
      if let active = filter {
        filter = ActiveFilter(active.filter, tree: tree, moves: pending.moves)
      }
    }
    rebuildRows()
    graphAssessed()
    if let warning = safety.openingStatus, status == nil || status?.kind != .error {
      status = warning
    }
  }

  mutating func rebuildRows() {
    let keep = focusedNode
    rows = visibleDescendants(of: 0)
    if let keep { focusNode(keep) } else { focus = 0 }
    clampFocus()
  }

  /// The row of `id`, if shown: rows follow preorder, so a binary search finds it.
  func row(of id: Int32) -> Int? {
    let target = tree.preIndex[Int(id)]
    var low = 0
    var high = rows.count
    while low < high {
      let mid = (low + high) / 2
      if tree.preIndex[Int(rows[mid])] < target { low = mid + 1 } else { high = mid }
    }
    return low < rows.count && rows[low] == id ? low : nil
  }

  /// Focuses `id`, or its nearest ancestor on display.
  mutating func focusNode(_ id: Int32) {
    var at = id
    while at > 0 {
      if let r = row(of: at) {
        focus = r
        return
      }
      at = tree[at].parent
    }
    focus = 0
  }

  /// Expands the node on row `index`.
  mutating func expand(row index: Int) {
    guard rows.indices.contains(index) else { return }
    let id = rows[index]
    guard tree[id].isExpandable, !expanded[Int(id)] else { return }
    expanded[Int(id)] = true
    rows.insert(contentsOf: visibleDescendants(of: id), at: index + 1)
  }

  /// Collapses the node on row `index`.
  mutating func collapse(row index: Int) {
    guard rows.indices.contains(index) else { return }
    let id = rows[index]
    guard expanded[Int(id)] else { return }
    expanded[Int(id)] = false
    let end = endOfSubtreeRows(index)
    if end > index + 1 { rows.removeSubrange((index + 1)..<end) }
    if focus > index && focus < end {
      focus = index
    } else if focus >= end {
      focus -= end - index - 1
    }
  }

  /// The first row after `index` that is not in its subtree (binary search on preorder).
  func endOfSubtreeRows(_ index: Int) -> Int {
    let id = rows[index]
    let limit = tree.preIndex[Int(id)] + tree.subtreeSize[Int(id)]
    var low = index + 1
    var high = rows.count
    while low < high {
      let mid = (low + high) / 2
      if tree.preIndex[Int(rows[mid])] < limit { low = mid + 1 } else { high = mid }
    }
    return low
  }

  /// Keeps `focus` on a row and scrolls so that it stays in view with a small margin.
  mutating func clampFocus() {
    focus = max(0, min(focus, rows.count - 1))
    let height = layout.bodyHeight
    let margin = min(2, (height - 1) / 2)
    if focus < top + margin { top = focus - margin }
    if focus > top + height - 1 - margin { top = focus - (height - 1 - margin) }
    top = max(0, min(top, rows.count - height))
  }

  /// Tensor entries in a scope, the filter applied.
  func entries(in scope: Scope) -> [Int32] {
    switch scope {
    case .all:
      if let filter { return filter.entries }
      return Array(0..<Int32(tree.entries.count))
    case .subtree(let id):
      var out: [Int32] = []
      for node in tree.subtree(id) where tree[node].kind == .tensor && isShown(node) {
        out.append(tree[node].entry)
      }
      return out
    }
  }

  /// Recomputes `pending` from `plan` (and the filter, whose `pending` term depends on it).
  mutating func stagingChanged() {
    pending = PendingView(tree: tree, plan: plan)
    if let active = filter {
      filter = ActiveFilter(active.filter, tree: tree, moves: pending.moves)
      rebuildRows()
    }
  }
}
