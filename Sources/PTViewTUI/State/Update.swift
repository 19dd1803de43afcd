import PTViewCore
import PTViewEdit
import PTViewJudge

extension Model {
  /// Applies one message and returns the effects the shell must run. Pure: the same model
  /// and message always give the same result.
  public mutating func update(_ message: Message) -> [Effect] {
    let effects = handle(message)
    // The values pane follows the selection and the grid's window (a no-op when closed).
    return effects.contains(.quit) ? effects : effects + syncValues()
  }

  mutating func handle(_ message: Message) -> [Effect] {
    switch message {
    case .resize(let newSize):
      size = newSize
      clampFocus()
      graphChanged()
      return []
    case .mouse(let event):
      if showingGraph, case .browse = mode {
        graphMouse(event)
      } else if case .browse = mode {
        mouse(event)
      } else if case .help = mode {
        helpMouse(event)
      }
      if case .values = mode { valuesMouse(event) }
      return []
    case .outputChecked(let path, let result):
      return outputChecked(path, result)
    case .writeProgress(let done, let total):
      if case .writing(var progress) = mode {
        progress.done = done
        progress.total = total
        mode = .writing(progress)
      }
      return []
    case .assessed(let delivery):
      receive(delivery)
      return []
    case .values(let reply):
      receiveValues(reply)
      return []
    case .writeFinished(let result):
      return writeFinished(result)
    case .key(let key):
      if showingGraph, let effects = graphKey(key) { return effects }
      switch mode {
      case .browse: return browse(key)
      case .help(let top): return help(key, top: top)
      case .picker(let picker): return pick(key, picker)
      case .prompt(let open): return prompt(key, open)
      case .confirm(let question): return confirm(key, question)
      case .checking, .writing: return []
      case .values: return valuesKey(key)
      }
    }
  }

  // MARK: Browsing

  mutating func browse(_ key: KeyEvent) -> [Effect] {
    status = nil
    guard let action = Keymap.action(for: key) else {
      if key == .control("c") { return [.quit] }
      status = Status("\(key.name) does nothing here; ? lists the keys.")
      return []
    }
    return perform(action)
  }

  /// Runs a tree-view action.
  public mutating func perform(_ action: Action) -> [Effect] {
    let height = layout.bodyHeight
    if let refusal = folderRefusal(action) {
      status = Status(refusal, .error)
      return []
    }
    switch action {
    case .moveDown: focus += 1
    case .moveUp: focus -= 1
    case .pageDown:
      focus += height
      top += height
    case .pageUp:
      focus -= height
      top -= height
    case .halfPageDown:
      focus += height / 2
      top += height / 2
    case .halfPageUp:
      focus -= height / 2
      top -= height / 2
    case .top: focus = 0
    case .bottom: focus = rows.count - 1
    case .expandOrEnter:
      if let id = focusedNode, tree[id].isExpandable {
        if expanded[Int(id)] {
          if focus + 1 < rows.count, tree[rows[focus + 1]].parent == id { focus += 1 }
        } else {
          expand(row: focus)
        }
      } else if values.isOpen {
        _ = enterValuesGrid()
      }
    case .collapseOrParent:
      if let id = focusedNode {
        if expanded[Int(id)] && tree[id].isExpandable {
          collapse(row: focus)
        } else {
          focusParent()
        }
      }
    case .toggle:
      if let id = focusedNode, tree[id].isExpandable {
        if expanded[Int(id)] { collapse(row: focus) } else { expand(row: focus) }
      }
    case .parent: focusParent()
    case .nextSibling: focusSibling(+1)
    case .previousSibling: focusSibling(-1)
    case .expandRecursively:
      if let id = focusedNode, tree[id].isExpandable {
        collapse(row: focus)
        for node in tree.subtree(id) where tree[node].isExpandable { expanded[Int(node)] = true }
        expanded[Int(id)] = false
        expand(row: focus)
      }
    case .collapseRecursively:
      if let id = focusedNode {
        let target = expanded[Int(id)] && tree[id].isExpandable ? id : tree[id].parent
        if target > 0, let r = row(of: target) {
          collapse(row: r)
          for node in tree.subtree(target) { expanded[Int(node)] = false }
          focus = r
        }
      }
    case .collapseToDepth(let depth):
      for id in tree.preorder where id != 0 {
        expanded[Int(id)] = tree[id].isExpandable && Int(tree[id].depth) < depth - 1
      }
      rebuildRows()
      status = Status("Showing \(depth) level\(depth == 1 ? "" : "s").")
    case .search:
      mode = .prompt(Prompt(purpose: .search, editor: LineEditor()))
    case .nextMatch: jumpToMatch(forward: true)
    case .previousMatch: jumpToMatch(forward: false)
    case .nextFinding: jumpToFinding()
    case .filter:
      mode = .prompt(Prompt(purpose: .filter, editor: LineEditor(filter?.filter.text ?? "")))
    case .mapSelection:
      if let id = focusedNode { openPicker(.subtree(id)) }
    case .mapAll: openPicker(.all)
    case .stripPrefix: openPrefixPicker()
    case .rename: openRenamePrompt()
    case .drop: toggleDrop()
    case .extract: stageExtract()
    case .stateDict:
      if staging.operations.contains(.stateDict) {
        status = Status("state_dict is already staged; u undoes it.", .warning)
      } else {
        stageOperations(staging.operations + [.stateDict], "the weights as a state_dict")
      }
    case .cast: openCastPicker()
    case .undo: undo()
    case .write: openWritePrompt()
    case .switchView: switchToGraph()
    case .help: mode = .help(top: 0)
    case .valuesPane: return toggleValuesPane()
    case .checkValues: return toggleValueCheck()
    case .quit:
      if staging.isEmpty { return [.quit] }
      mode = .confirm(.quit)
    case .cancel:
      if search != nil {
        search = nil
        status = Status("Search cleared.")
      } else if filter != nil {
        clearFilter()
      }
    }
    clampFocus()
    return []
  }

  mutating func focusParent() {
    guard let id = focusedNode else { return }
    let parent = tree[id].parent
    if parent > 0, let r = row(of: parent) { focus = r }
  }

  mutating func focusSibling(_ step: Int) {
    guard let id = focusedNode else { return }
    let siblings = tree[tree[id].parent].children
    guard var i = siblings.firstIndex(of: id) else { return }
    while true {
      i += step
      guard siblings.indices.contains(i) else { return }
      if let r = row(of: siblings[i]) {
        focus = r
        return
      }
    }
  }

  mutating func mouse(_ event: MouseEvent) {
    let body = layout.body
    switch event {
    case .wheelUp:
      focus -= 3
      top -= 3
    case .wheelDown:
      focus += 3
      top += 3
    case .click(_, let y), .doubleClick(_, let y):
      guard body.contains(y) else { return }
      let r = top + (y - body.lowerBound)
      guard rows.indices.contains(r) else { return }
      focus = r
      if case .doubleClick = event { _ = perform(.toggle) }
    }
    clampFocus()
  }

  // MARK: Search and filter

  mutating func jumpToMatch(forward: Bool) {
    guard let search, !search.matches.isEmpty else {
      status = Status(
        self.search == nil ? "No search yet: press / to search." : "No matches.", .warning)
      return
    }
    let position = focusedNode.map { tree.preIndex[Int($0)] } ?? 0
    var i: Int
    if forward {
      i = search.firstMatch(atOrAfter: position + 1, tree: tree)
      if i >= search.matches.count { i = 0 }
    } else {
      i = search.firstMatch(atOrAfter: position, tree: tree) - 1
      if i < 0 { i = search.matches.count - 1 }
    }
    reveal(search.matches[i])
    status = Status("/\(search.query)  match \(i + 1) of \(search.matches.count)")
  }

  /// Focuses the next row with a safety finding of its own, after the focused one.
  mutating func jumpToFinding() {
    let flagged = safety.flagged
    guard !flagged.isEmpty else {
      if let scan = safety.scan {
        status = Status("The safety scan flags nothing in this file: \(scan.rawValue).")
      } else {
        status = Status("No safety scan for this file.", .warning)
      }
      return
    }
    let position = focusedNode.map { tree.preIndex[Int($0)] } ?? -1
    let i = flagged.firstIndex { tree.preIndex[Int($0)] > position } ?? 0
    reveal(flagged[i])
    let level = safety.level(of: flagged[i])
    var text =
      "Finding \(i + 1) of \(flagged.count): \(level == .dangerous ? "dangerous" : "suspicious")."
    // Without a detail pane (a short terminal), the status line says what it is.
    if layout.detail.isEmpty, let first = safety.findings(of: flagged[i]).first {
      text += " " + (first.rendering ?? first.global ?? first.detail)
    }
    status = Status(text, level == .dangerous ? .error : .warning)
  }

  /// Expands the ancestors of `id` and focuses it.
  mutating func reveal(_ id: Int32) {
    if !isShown(id) { clearFilter() }
    for ancestor in tree.ancestors(of: id).reversed() where !expanded[Int(ancestor)] {
      if let r = row(of: ancestor) { expand(row: r) } else { expanded[Int(ancestor)] = true }
    }
    if row(of: id) == nil { rebuildRows() }
    if let r = row(of: id) { focus = r }
    clampFocus()
  }

  mutating func applyFilter(_ text: String) {
    let trimmed = text.split(separator: " ").joined(separator: " ")
    if trimmed.isEmpty {
      clearFilter()
      return
    }
    do {
      let parsed = try Filter(trimmed)
      let active = ActiveFilter(parsed, tree: tree, moves: pending.moves)
      filter = active
      // Few matches: open the way to each, so they are on screen at once.
      if active.tensors <= 200 {
        for e in active.entries {
          for ancestor in tree.ancestors(of: tree.entryNode[Int(e)]) {
            expanded[Int(ancestor)] = true
          }
        }
      }
      rebuildRows()
      if active.tensors == 0 && rows.isEmpty {
        status = Status("Nothing matches \(trimmed); Esc clears the filter.", .warning)
      } else {
        status = Status(
          "Filter \(trimmed): \(active.tensors) tensor\(active.tensors == 1 ? "" : "s"), "
            + Format.bytes(active.bytes) + ". Esc clears it.")
      }
    } catch {
      status = Status("Filter: \(error.message)", .error)
      mode = .prompt(Prompt(purpose: .filter, editor: LineEditor(text)))
    }
  }

  mutating func clearFilter() {
    guard filter != nil else { return }
    filter = nil
    rebuildRows()
    status = Status("Filter cleared.")
  }

  // MARK: Remapping

  /// The devices the picker offers: cpu first, then the file's devices, then cuda:0.
  func deviceChoices() -> [String] {
    var out = ["cpu"]
    for d in header.devices.map(\.device) where !out.contains(d) && d != "meta" { out.append(d) }
    if !out.contains("cuda:0") { out.append("cuda:0") }
    return out + [DevicePicker.other]
  }

  mutating func openPicker(_ scope: Scope) {
    let entries = entries(in: scope)
    guard !entries.isEmpty else {
      status = Status("No tensors here to map.", .warning)
      return
    }
    let what: String
    switch scope {
    case .all:
      what = filter == nil ? "all \(entries.count) tensors" : "\(entries.count) filtered tensors"
    case .subtree(let id):
      let name = tree[id].kind == .run ? tree[id].label : tree[id].key
      what = entries.count == 1 ? TextWidth.truncateLeft(name, to: 40) : "\(entries.count) tensors"
    }
    mode = .picker(DevicePicker(scope: scope, title: "Map \(what) to", options: deviceChoices()))
  }

  mutating func pick(_ key: KeyEvent, _ picker: DevicePicker) -> [Effect] {
    var picker = picker
    switch key {
    case .down, .character("j"), .control("n"), .tab:
      picker.selected = (picker.selected + 1) % picker.options.count
    case .up, .character("k"), .control("p"):
      picker.selected = (picker.selected + picker.options.count - 1) % picker.options.count
    case .home, .character("g"): picker.selected = 0
    case .end, .character("G"): picker.selected = picker.options.count - 1
    case .escape, .character("q"), .control("c"):
      mode = .browse
      status = Status("Nothing staged.")
      return []
    case .character(let c) where picker.kind != .device && c.isNumber:
      // The picker's options by number, as the order shows them.
      guard let n = c.wholeNumberValue, n >= 1, n <= picker.options.count else { return [] }
      mode = .browse
      pickOperation(picker, picker.options[n - 1])
      return []
    case .enter, .character(" "), .character("l"), .right:
      let choice = picker.options[picker.selected]
      if choice == DevicePicker.other {
        mode = .prompt(Prompt(purpose: .device(picker.scope), editor: LineEditor()))
      } else {
        mode = .browse
        pickOperation(picker, choice)
      }
      return []
    default:
      return []
    }
    mode = .picker(picker)
    return []
  }

  /// Whether `torch.load` can restore a storage tagged `text` (the same check `ptview edit`
  /// and `remap` make: `banana` or `cuda0` would write a file torch refuses).
  static func isDeviceName(_ text: String) -> Bool {
    do {
      try DeviceRules.validateTarget(text, custom: false)
      return true
    } catch {
      return false
    }
  }

  /// Stages moving every tensor of `scope` that is not on `device` there: one device move,
  /// planned with the staged operations by `EditPlanner`, which decides (as for `ptview
  /// remap`) which storages, device arguments and code literals move. Not staged when the
  /// plan would not change.
  mutating func stage(_ scope: Scope, to device: String) {
    guard canPlan else {
      status = Status("No checkpoint to plan edits on.", .error)
      return
    }
    let chosen = entries(in: scope)
    // `M` without a filter is `--to DEVICE` (TorchScript code literals included); a subtree,
    // one tensor or the filtered rows name their tensors by key.
    let selection: TensorSelection
    if case .all = scope, filter == nil {
      selection = .all
    } else {
      selection = .keys(Set(chosen.map { tree.entries[Int($0)].key }))
    }
    let operations =
      staging.operations + [.moveDevices(DeviceRules(defaultTarget: device), only: selection)]
    let planned: EditPlan
    do { planned = try planEdits(operations) } catch {
      status = Status("Not staged: \(error.message)", .error)
      return
    }
    let before = pending.moves
    let after = PlannedMoves(planned)
    var moved = 0
    var stuck: [TensorEntry] = []
    for e in chosen {
      let entry = tree.entries[Int(e)]
      if before.device(of: entry.tensor) == device { continue }
      if after.device(of: entry.tensor) == device { moved += 1 } else { stuck.append(entry) }
    }
    let edits = plan?.edits ?? []
    guard moved > 0 || planned.edits != edits else {
      status = Status(
        stuck.isEmpty
          ? "Already on \(device): nothing to stage."
          : "\(Model.leftAlone(stuck, planned)); nothing staged.", .warning)
      return
    }
    var text: String
    if moved > 0 {
      text = "Staged \(moved) tensor\(moved == 1 ? "" : "s") > \(device)"
      if !stuck.isEmpty { text += " (\(Model.leftAlone(stuck, planned)))" }
    } else {
      // No tensor of the scope changes device, but the plan does: a storage nothing listed
      // reads, the CPU storage a device tensor is rebuilt from, code literals.
      let storages = Set(planned.edits).subtracting(edits).count {
        if case .moveStorage = $0 { return true }
        return false
      }
      text = "Staged > \(device): no tensor here changes device"
      if storages > 0 { text += ", \(storages) storage\(storages == 1 ? " moves" : "s move")" }
    }
    // A storage moves as a whole: name tensors outside the scope that share one.
    var sharing: [String] = []
    var named: Set<String> = []
    for shared in planned.remap.sharedWithUnselected where after.storages[shared.record] != nil {
      for key in shared.others where named.insert(key).inserted { sharing.append(key) }
    }
    if !sharing.isEmpty {
      text += "; also moves \(sharing.prefix(2).joined(separator: ", "))"
      if sharing.count > 2 { text += " and \(sharing.count - 2) more" }
      text += " (shared storage)"
    }
    // Mapping every tensor also maps TorchScript code's torch.device("...") literals, as
    // `ptview remap --to` does; a filter or a subtree leaves code alone.
    if Model.codeRules(planned) != Model.codeRules(plan) {
      text += "; torch.device literals in the code follow"
    }
    text += ". w writes, u undoes."
    history.append(
      (
        staging,
        moved > 0 ? "\(moved) tensor\(moved == 1 ? "" : "s") > \(device)" : "a move > \(device)"
      ))
    staging.operations = operations
    plan = planned
    edit = EditView(tree: tree, operations: operations, plan: planned)
    stagingChanged()
    status = Status(text, .success)
  }

  /// The code rules a plan writes, if any.
  static func codeRules(_ plan: EditPlan?) -> DeviceRules? {
    for case .rewriteCode(let rules) in plan?.edits ?? [] { return rules }
    return nil
  }

  /// `3 tensors have no storage to move (meta)`, `1 tensor left alone: <the planner's
  /// reason>`: why tensors of a move's scope stay where they are.
  static func leftAlone(_ entries: [TensorEntry], _ plan: EditPlan) -> String {
    var reasons: [String: String] = [:]
    for item in plan.remap.leftAlone where reasons[item.key] == nil {
      reasons[item.key] = item.reason
    }
    let unused = Set(plan.unusedStorages.map(\.record))
    var counts: [String: Int] = [:]
    var order: [String] = []
    for entry in entries {
      let reason: String
      if let known = reasons[entry.key] {
        reason = known
      } else if entry.tensor.allStorages.isEmpty {
        reason = "no storage to move (meta)"
      } else if entry.tensor.allStorages.allSatisfy({ unused.contains($0.record) }) {
        reason = "left out of the output"
      } else {
        reason = "not moved"
      }
      if counts[reason] == nil { order.append(reason) }
      counts[reason, default: 0] += 1
    }
    let n = entries.count
    if order == ["no storage to move (meta)"] {
      return "\(n) tensor\(n == 1 ? " has" : "s have") no storage to move (meta)"
    }
    return "\(n) tensor\(n == 1 ? "" : "s") left alone: " + order.joined(separator: "; ")
  }

  mutating func undo() {
    guard let last = history.popLast() else {
      status = Status("Nothing to undo.", .warning)
      return
    }
    staging = last.staging
    replan()
    stagingChanged()
    status = Status("Undid: \(last.description).")
  }

  // MARK: Writing

  mutating func openWritePrompt() {
    guard !staging.isEmpty else {
      status = Status("Nothing staged yet: M maps every device, m the selected subtree.", .warning)
      return
    }
    // Key, root and dtype edits make `model.edited.pt`; device moves alone name the device
    // the plan moves to (the last one asked for when it moves no storage: code literals).
    var targets: Set<String> = ["edited"]
    if staging.editCount == 0 {
      targets = pending.moves.targets
      if targets.isEmpty, case .moveDevices(let rules, _)? = staging.operations.last,
        let to = rules.defaultTarget
      {
        targets = [to]
      }
    }
    let path = OutputPath.suggest(input: settings.inputPath, targets: targets)
    mode = .prompt(Prompt(purpose: .writePath, editor: LineEditor(path)))
  }

  mutating func outputChecked(_ path: String, _ result: OutputStatus) -> [Effect] {
    guard case .checking(let waiting) = mode, waiting == path else { return [] }
    func again(_ why: String) -> [Effect] {
      status = Status(why, .error)
      mode = .prompt(Prompt(purpose: .writePath, editor: LineEditor(path)))
      return []
    }
    switch result {
    case .free:
      return startWrite(path, overwrite: false)
    case .exists:
      mode = .confirm(.overwrite(path: path))
      return []
    case .isInput:
      return again("That is the input file, which ptview never changes: choose another path.")
    case .isDirectory:
      return again("\(path) is a folder: add a file name.")
    case .missingFolder:
      return again("The folder of \(path) does not exist.")
    }
  }

  mutating func startWrite(_ path: String, overwrite: Bool) -> [Effect] {
    mode = .writing(WriteProgress(path: path, done: 0, total: 0))
    status = nil
    return [
      .write(
        WriteRequest(path: path, operations: staging.operations, overwrite: overwrite))
    ]
  }

  mutating func writeFinished(_ result: WriteResult) -> [Effect] {
    guard case .writing = mode else { return [] }
    mode = .browse
    switch result {
    case .saved(let summary, let path):
      staging = Staging()
      history = []
      replan()
      stagingChanged()
      saved = path
      // The writer's summary says what was written where; add the path if it does not.
      let text =
        summary.isEmpty
        ? "Wrote \(path)." : summary.contains(path) ? summary : "Wrote \(path): \(summary)"
      status = Status(text.prefix(1).uppercased() + text.dropFirst(), .success)
    case .failed(let why):
      status = Status("Not written, edits still staged (the input is untouched): \(why)", .error)
    }
    return []
  }

  // MARK: Prompts and questions

  mutating func prompt(_ key: KeyEvent, _ prompt: Prompt) -> [Effect] {
    var prompt = prompt
    switch prompt.editor.handle(key) {
    case .edited, .ignored:
      mode = .prompt(prompt)
      return []
    case .cancelled:
      mode = .browse
      status = nil
      return []
    case .submitted:
      mode = .browse
      let text = prompt.editor.text
      switch prompt.purpose {
      case .search:
        runSearch(text)
      case .filter:
        applyFilter(text)
      case .device(let scope):
        let device = text.trimmingSpaces
        if Model.isDeviceName(device) {
          stage(scope, to: device)
        } else {
          status = Status(
            "\(device.isEmpty ? "An empty name" : device) is not a device torch.load restores (cpu, cuda:1, mps, xpu:0, meta).",
            .error)
          mode = .prompt(prompt)
        }
      case .rename:
        submitRename(text.trimmingSpaces, prompt)
      case .writePath:
        let path = text.trimmingSpaces
        if path.isEmpty {
          status = Status("Type a path to write to, or Esc.", .error)
          mode = .prompt(prompt)
        } else if path == settings.inputPath {
          status = Status(
            "That is the input file, which ptview never changes: choose another path.", .error)
          mode = .prompt(prompt)
        } else {
          mode = .checking(path: path)
          return [.checkOutput(path: path)]
        }
      }
      clampFocus()
      return []
    }
  }

  mutating func runSearch(_ query: String) {
    guard !query.isEmpty else {
      search = nil
      return
    }
    let found = Search(query, tree: tree)
    search = found
    if found.matches.isEmpty {
      status = Status("No key contains \(query).", .warning)
      return
    }
    // Start from the focused row itself, so a match under the cursor is found first.
    let position = focusedNode.map { tree.preIndex[Int($0)] } ?? 0
    var i = found.firstMatch(atOrAfter: position, tree: tree)
    if i >= found.matches.count { i = 0 }
    reveal(found.matches[i])
    status = Status("/\(query)  match \(i + 1) of \(found.matches.count)  (n next, N previous)")
  }

  mutating func confirm(_ key: KeyEvent, _ question: Confirmation) -> [Effect] {
    let yes = key == .character("y") || key == .character("Y")
    switch question {
    case .quit:
      if yes { return [.quit] }
      mode = .browse
      status = Status("Edits kept: w writes them.")
    case .overwrite(let path):
      if yes { return startWrite(path, overwrite: true) }
      mode = .prompt(Prompt(purpose: .writePath, editor: LineEditor(path)))
      status = Status("Not replaced: choose another path.")
    }
    return []
  }

  // MARK: Help

  /// Lines of the help screen for a width: sections, then keys and what they do, long
  /// texts wrapped under their own column.
  static func helpLines(width: Int) -> [(key: String, text: String, isTitle: Bool)] {
    var out: [(String, String, Bool)] = []
    let room = max(16, width - helpKeyWidth(width) - 5)
    func add(_ key: String, _ text: String) {
      var rest = Substring(text)
      var first = true
      while !rest.isEmpty {
        var cut = rest.endIndex
        if rest.count > room {
          let limit = rest.index(rest.startIndex, offsetBy: room)
          cut = rest[..<limit].lastIndex(of: " ") ?? limit
        }
        out.append((first ? key : "", String(rest[..<cut]), false))
        rest = rest[cut...].drop { $0 == " " }
        first = false
      }
    }
    var section = ""
    for binding in Keymap.bindings + GraphKeymap.bindings {
      if binding.section != section {
        if !section.isEmpty { out.append(("", "", false)) }
        section = binding.section
        out.append((section, "", true))
      }
      add(binding.label, binding.help)
    }
    out.append(("", "", false))
    out.append(("Everywhere", "", true))
    for (name, text) in Keymap.overlayNotes { add(name, text) }
    return out
  }

  /// Width of the key column of the help screen.
  static func helpKeyWidth(_ width: Int) -> Int { min(24, max(14, width / 4)) }

  /// Rows the help screen has.
  var helpHeight: Int { max(1, layout.status - layout.body.lowerBound) }

  mutating func help(_ key: KeyEvent, top: Int) -> [Effect] {
    let height = helpHeight
    let last = max(0, Model.helpLines(width: size.columns).count - height)
    var next = top
    switch key {
    case .down, .character("j"), .control("n"): next += 1
    case .up, .character("k"), .control("p"): next -= 1
    case .pageDown, .character(" "), .control("f"): next += height
    case .pageUp, .control("b"): next -= height
    case .home, .character("g"): next = 0
    case .end, .character("G"): next = last
    case .control("c"): return [.quit]
    default:
      mode = .browse
      return []
    }
    mode = .help(top: max(0, min(next, last)))
    return []
  }

  mutating func helpMouse(_ event: MouseEvent) {
    guard case .help(let top) = mode else { return }
    switch event {
    case .wheelUp: _ = help(.up, top: top)
    case .wheelDown: _ = help(.down, top: top)
    default: mode = .browse
    }
  }
}

extension String {
  var trimmingSpaces: String {
    var s = Substring(self)
    while s.first == " " { s.removeFirst() }
    while s.last == " " { s.removeLast() }
    return String(s)
  }
}

// MARK: Key, root and dtype operations

extension Model {
  /// The path of the extracted root, when `extract` operations are staged (they compose).
  var extractedBase: String {
    var base = ""
    for case .extract(let path) in staging.operations {
      base = base.isEmpty ? path : base + "." + path
    }
    return base
  }

  /// The key the planner sees for `id` once the staged operations apply (relative to the
  /// new root, renames applied); nil when the row is left out.
  func plannedKey(_ id: Int32) -> String? {
    guard id > 0, !edit.dropped[Int(id)] else { return nil }
    if let renamed = edit.newKey[id] { return renamed }
    let key = tree[id].key
    let base = extractedBase
    if base.isEmpty { return key }
    if key == base { return "" }
    return key.hasPrefix(base + ".") ? String(key.dropFirst(base.count + 1)) : nil
  }

  /// Why an edit key does nothing on this folder (a DCP folder is read-only; extracts and
  /// state_dict are not done on folders yet), or nil.
  func folderRefusal(_ action: Action) -> String? {
    guard let folder else { return nil }
    let operation: EditOperation
    switch action {
    case .mapSelection, .mapAll, .write:
      operation = .moveDevices(DeviceRules(defaultTarget: "cpu"), only: .all)
    // Key and dtype edits (the refusal is the same for all three).
    case .stripPrefix, .rename, .cast: operation = .stripPrefix(EditOperation.autoPrefix)
    case .drop: operation = .drop("*")
    case .extract: operation = .extract("x")
    case .stateDict: operation = .stateDict
    default: return nil
    }
    if let readOnly = folder.readOnly {
      return readOnly.prefix(1).uppercased() + readOnly.dropFirst() + "."
    }
    if let refusal = FolderShards.refusal([operation]) {
      return "Not on this folder: " + refusal + "."
    }
    return nil
  }

  /// Re-plans the staged operations (after undo or a write); a plan that no longer holds is
  /// dropped from the view rather than shown wrong.
  mutating func replan() {
    if staging.operations.isEmpty {
      plan = nil
    } else if canPlan {
      plan = try? planEdits(staging.operations)
    }
    edit = EditView(tree: tree, operations: staging.operations, plan: plan)
  }

  /// Plans `operations` in place of the staged ones: on success they are staged (one undo
  /// step, `description`); a refusal goes to the status line and nothing changes.
  @discardableResult
  mutating func stageOperations(_ operations: [EditOperation], _ description: String) -> Bool {
    guard canPlan else {
      status = Status("No checkpoint to plan edits on.", .error)
      return false
    }
    do {
      let planned = try planEdits(operations)
      history.append((staging, description))
      staging.operations = operations
      plan = planned
      edit = EditView(tree: tree, operations: operations, plan: planned)
      stagingChanged()
      var text = "Staged: \(description)"
      let saved = edit.bytesSaved
      if saved > 0 { text += "; saves \(Format.bytes(saved))" }
      if saved < 0 { text += "; adds \(Format.bytes(-saved))" }
      status = Status(text + ". w writes, u undoes.", .success)
      return true
    } catch {
      status = Status("Not staged: \(error.message)", .error)
      return false
    }
  }

  /// The prefixes `P` offers: what `--strip-prefix auto` detects first, then the keys'
  /// common first components (by how many tensors have them).
  func prefixChoices() -> [String] {
    var out: [String] = []
    if canPlan,
      let auto = try? planEdits(staging.operations + [.stripPrefix(EditOperation.autoPrefix)])
    {
      out += auto.detectedPrefixes
    }
    var counts: [String: Int] = [:]
    var order: [String] = []
    for id in tree.preorder where tree[id].kind == .tensor {
      guard let key = plannedKey(id), let dot = key.firstIndex(of: ".") else { continue }
      let first = String(key[...dot])
      if counts[first] == nil { order.append(first) }
      counts[first, default: 0] += 1
    }
    for prefix in order.sorted(by: { counts[$0]! > counts[$1]! }).prefix(8)
    where !out.contains(prefix) {
      out.append(prefix)
    }
    return out
  }

  mutating func openPrefixPicker() {
    let choices = prefixChoices()
    guard !choices.isEmpty else {
      status = Status("No key has a dotted prefix to strip.", .warning)
      return
    }
    mode = .picker(
      DevicePicker(scope: .all, kind: .prefix, title: "Strip from every key", options: choices))
  }

  mutating func openCastPicker() {
    mode = .picker(
      DevicePicker(
        scope: .all, kind: .cast, title: "Cast floating tensors to",
        options: ["bf16", "fp16", "fp32", "fp64"]))
  }

  mutating func openRenamePrompt() {
    guard let id = focusedNode, let key = plannedKey(id), !key.isEmpty else {
      status = Status("Nothing here to rename (a row left out, or the root).", .warning)
      return
    }
    mode = .prompt(Prompt(purpose: .rename, editor: LineEditor(key + "=" + key)))
  }

  mutating func submitRename(_ text: String, _ prompt: Prompt) {
    do {
      let pattern = try KeyPattern.parse(text)
      if pattern.old == pattern.new {
        status = Status("OLD and NEW are the same: edit NEW, or Esc.", .error)
        mode = .prompt(prompt)
        return
      }
      if !stageOperations(
        staging.operations + [.rename(pattern)], "rename \(pattern.old) -> \(pattern.new)")
      {
        mode = .prompt(prompt)
      }
    } catch {
      status = Status("Rename: \(error.message)", .error)
      mode = .prompt(prompt)
    }
  }

  /// `x`: drops the focused subtree, or takes its drop back when it is already dropped.
  mutating func toggleDrop() {
    guard let id = focusedNode else { return }
    if edit.dropped[Int(id)] {
      // Take back the drop that covers this row (the planner's keys are the output's).
      var remaining = staging.operations
      var undone: String?
      for (i, operation) in remaining.enumerated().reversed() {
        guard case .drop(let glob) = operation else { continue }
        var without = remaining
        without.remove(at: i)
        if canPlan, let trial = try? planEdits(without),
          !EditView(tree: tree, operations: without, plan: trial).dropped[Int(id)]
        {
          remaining = without
          undone = glob
          break
        }
      }
      guard let undone else {
        status = Status(
          "This row is left out by an extract or state_dict, not a drop: u undoes that.",
          .warning)
        return
      }
      stageOperations(remaining, "keep \(undone) again")
      return
    }
    guard let key = plannedKey(id), !key.isEmpty else {
      status = Status("Nothing here to drop.", .warning)
      return
    }
    // A container the planner knows is dropped by its key; the dotted containers of a flat
    // state_dict by what is under them.
    let exact = staging.operations + [.drop(key)]
    if canPlan, (try? planEdits(exact)) != nil {
      stageOperations(exact, "drop \(key)")
    } else {
      stageOperations(staging.operations + [.drop(key + ".*")], "drop \(key).*")
    }
  }

  /// `e`: the focused container becomes the root of the output. The planner extracts before
  /// it renames, so the path is the input's key (relative to an earlier extract).
  mutating func stageExtract() {
    guard let id = focusedNode, id > 0, !edit.dropped[Int(id)] else {
      status = Status("Nothing here to extract.", .warning)
      return
    }
    let node = tree[id]
    guard node.kind != .value else {
      status = Status("Extract a container or a tensor, not a value row.", .warning)
      return
    }
    let base = extractedBase
    var key = node.key
    if !base.isEmpty {
      guard key.hasPrefix(base + ".") else {
        status = Status("This is already the root.", .warning)
        return
      }
      key = String(key.dropFirst(base.count + 1))
    }
    stageOperations(staging.operations + [.extract(key)], "extract \(key) as the root")
  }

  /// Enter in the prefix or cast picker.
  mutating func pickOperation(_ picker: DevicePicker, _ choice: String) {
    switch picker.kind {
    case .device: stage(picker.scope, to: choice)
    case .prefix:
      stageOperations(staging.operations + [.stripPrefix(choice)], "strip \(choice) from every key")
    case .cast:
      guard let dtype = EditOperation.castTarget(named: choice) else { return }
      var operations = staging.operations.filter {
        if case .cast = $0 { return false }
        return true
      }
      operations.append(.cast(dtype))
      stageOperations(operations, "cast floating tensors to \(dtype.shortName)")
    }
  }
}
