import PTViewCore
import PTViewJudge

extension Model {
  /// Draws the model: a pure function of the state, so tests compare whole screens.
  public func render() -> Screen {
    var renderer = Renderer(model: self)
    renderer.draw()
    if settings.asciiOnly { renderer.screen.asciiOnly() }
    return renderer.screen
  }
}

/// One frame being drawn. Only the rows on screen are touched, so a frame costs the same for
/// ten tensors or sixty thousand.
struct Renderer {
  let model: Model
  let tree: Tree
  let layout: Layout
  let columns: Columns
  let g: Glyphs
  var screen: Screen
  /// The FILE column's names of a folder's files, shortened to the column.
  let fileLabels: [String]
  /// Set when a long status message uses the hint line.
  var hintsTaken = false
  var width: Int { screen.size.columns }

  init(model: Model) {
    self.model = model
    tree = model.tree
    layout = model.layout
    var columns = Columns(width: model.layout.treeWidth)
    if !model.safety.flagged.isEmpty {
      // A gutter for the safety marks, so `! ▸ cfg` never runs into the fold marker.
      columns.key += 1
      columns.keyWidth -= 1
    }
    if model.valueCheck.hasMarks {
      // A gutter for the NaN/Inf marks of the full-file check (`V`).
      columns.key += 1
      columns.keyWidth -= 1
    }
    // A folder's rows say which file holds each tensor.
    if let folder = model.folder {
      columns.addFile(
        width: model.layout.treeWidth, longest: folder.fileNames.map(TextWidth.width).max() ?? 4)
    }
    // Staged casts read `f32 > bf16` in the DTYPE column: it takes the room from the keys.
    if !model.edit.castTargets.isEmpty { columns.widenDType(to: 12) }
    self.columns = columns
    // Once per frame, not per row: a DeepSpeed folder can have hundreds of files.
    fileLabels =
      columns.fileWidth > 0 ? model.folder?.shortNames(width: columns.fileWidth) ?? [] : []
    g = model.settings.asciiOnly ? .ascii : .unicode
    screen = Screen(size: model.size)
  }

  mutating func draw() {
    guard model.size.columns >= 24, model.size.rows >= 6 else {
      screen.put("ptview: terminal too small", x: 0, y: 0, style: Theme.status(.warning))
      return
    }
    header()
    titles()
    if case .help(let top) = model.mode {
      help(top: top)
    } else if let view = model.graph, view.active {
      drawGraph(view)
      return
    } else {
      body()
      detail()
      valuesPane()
    }
    statusLine()
    hints()
    if case .picker(let picker) = model.mode { self.picker(picker) }
  }

  // MARK: Header

  /// A piece of the header: its forms from shortest to longest, each a run of styled texts,
  /// and the form chosen (-1: left out).
  struct HeaderPart {
    var forms: [[(text: String, style: Style)]]
    /// Cells before it (two spaces; none for the title, which comes first).
    var gap = 2
    var chosen = -1

    func width(_ form: Int) -> Int {
      form < 0 ? 0 : forms[form].reduce(gap) { $0 + TextWidth.width($1.text) }
    }
  }

  mutating func header() {
    let y = layout.header
    screen.fill(x: 0, y: y, width: width, style: Theme.header)
    let facts = model.header
    var badge = ""
    let operations = model.staging.editCount
    if operations > 0 {
      // Key, root and dtype edits: how many, and what the write saves.
      var parts = ["\(operations) edit\(operations == 1 ? "" : "s")"]
      if model.pending.tensors > 0 { parts.append("\(model.pending.tensors) pending") }
      let saved = model.edit.bytesSaved
      if saved > 0 { parts.append("saves " + Format.bytes(saved)) }
      if saved < 0 { parts.append("adds " + Format.bytes(-saved)) }
      badge = " " + parts.joined(separator: ", ") + " "
    } else if model.pending.tensors > 0 {
      badge = " \(model.pending.tensors) pending "
    } else if !model.staging.isEmpty {
      badge = " edits staged "
    }
    let right = width - TextWidth.width(badge) - 1
    func plain(_ text: String) -> [(text: String, style: Style)] { [(text, Theme.header)] }

    // Facts on the left, in display order; verdicts on the right. Each form of each part has a
    // rank: parts (and longer forms) are added by rank while they fit, so a narrow terminal
    // drops the least useful first. A dangerous scan verdict always shows.
    var left: [HeaderPart] = []
    var verdicts: [HeaderPart] = []
    var steps: [(rank: Int, onRight: Bool, part: Int, form: Int)] = []
    func step(_ rank: Int, _ onRight: Bool, _ part: Int, _ form: Int) {
      steps.append((rank, onRight, part, form))
    }
    left.append(HeaderPart(forms: [[(" ptview ", Theme.headerTitle)]], gap: 0))
    step(8, false, 0, 0)
    for (text, rank) in [
      // A folder's shard count is what tells it apart from a file: it stays longer.
      (facts.format, model.folder == nil ? 11 : 3), (Format.bytes(facts.fileSize), 7),
      ("\(facts.tensors) tensor\(facts.tensors == 1 ? "" : "s")", 4),
      (Format.count(facts.parameters) + " params", 10),
    ] {
      step(rank, false, left.count, 0)
      left.append(HeaderPart(forms: [plain(text)]))
    }
    // The device census: the first device, then more of them as room allows, with `+N` for
    // the ones left out.
    if !facts.devices.isEmpty {
      let counts = facts.devices.map { "\($0.device) ×\($0.tensors)" }
      var forms: [[(text: String, style: Style)]] = []
      for shown in 1...counts.count {
        let rest = counts.count - shown
        forms.append(
          plain(counts.prefix(shown).joined(separator: "  ") + (rest > 0 ? "  +\(rest)" : "")))
        step(shown == 1 ? 1 : 11 + shown, false, left.count, shown - 1)
      }
      left.append(HeaderPart(forms: forms))
    }
    var mandatory = 0
    if let doctor = model.safety.doctor {
      let chip: Style
      switch doctor.outcome {
      case .loads: chip = Theme.chipGood
      case .fixable, .needsCode: chip = Theme.chipDoubt
      case .unreadable: chip = Theme.header
      }
      var forms = [plain("torch.load: ") + [(doctor.word, chip)]]
      if doctor.outcome == .fixable || doctor.outcome == .needsCode {
        forms = [plain("load: ") + [(doctor.word, chip)]] + forms
        if !doctor.reasons.isEmpty { forms.append(plain("torch.load: ") + [(doctor.phrase, chip)]) }
      }
      for (form, rank) in zip(forms.indices, [2, 6, 9]) { step(rank, true, verdicts.count, form) }
      verdicts.append(HeaderPart(forms: forms))
    }
    if model.assessing {
      // The scan and the doctor are still running (they arrive in a moment).
      let part = HeaderPart(forms: [plain("checking…")])
      step(4, true, verdicts.count, 0)
      verdicts.append(part)
    }
    if let scan = model.safety.scan {
      let (chip, rank): (Style, Int)
      switch scan {
      case .dangerous: (chip, rank) = (Theme.chipDanger, 0)
      case .suspicious, .unscannable: (chip, rank) = (Theme.chipDoubt, 3)
      case .safe: (chip, rank) = (Theme.chipGood, 5)
      }
      let part = HeaderPart(forms: [plain("scan: ") + [(scan.rawValue, chip)]])
      if rank == 0 { mandatory = part.width(0) }
      step(rank, true, verdicts.count, 0)
      verdicts.append(part)
    }
    // The verdicts end a cell before the pending badge, so two chips never touch.
    let end = badge.isEmpty ? right : right - 1
    let name = " " + TextWidth.truncate(facts.fileName, to: max(8, end - mandatory - 3))
    var used = TextWidth.width(name)
    for s in steps.sorted(by: { $0.rank < $1.rank }) {
      let part = s.onRight ? verdicts[s.part] : left[s.part]
      guard s.form == part.chosen + 1 else { continue }
      let extra = part.width(s.form) - part.width(part.chosen)
      guard used + extra <= end else { continue }
      used += extra
      if s.onRight { verdicts[s.part].chosen = s.form } else { left[s.part].chosen = s.form }
    }

    var x = 0
    if left[0].chosen >= 0 { x += screen.put(" ptview ", x: 0, y: y, style: Theme.headerTitle) }
    x += screen.put(name, x: x, y: y, style: Theme.headerTitle)
    for part in left.dropFirst() where part.chosen >= 0 {
      x += screen.put("  ", x: x, y: y, style: Theme.header)
      for piece in part.forms[part.chosen] {
        x += screen.put(piece.text, x: x, y: y, style: piece.style)
      }
    }
    x = end - verdicts.reduce(0) { $0 + $1.width($1.chosen) }
    for part in verdicts where part.chosen >= 0 {
      x += 2
      for piece in part.forms[part.chosen] {
        x += screen.put(piece.text, x: x, y: y, style: piece.style)
      }
    }
    if !badge.isEmpty {
      screen.put(badge, x: right, y: y, style: Theme.headerPending)
    }
  }

  mutating func titles() {
    let y = layout.titles
    let c = columns
    screen.put("KEY", x: c.key, y: y, style: Theme.titles)
    screen.put("DTYPE", x: c.dtype, y: y, style: Theme.titles)
    screen.put("SHAPE", x: c.shape, y: y, style: Theme.titles)
    screen.put("DEVICE", x: c.device, y: y, style: Theme.titles)
    screen.put("BYTES", x: c.bytes + c.bytesWidth - 5, y: y, style: Theme.titles)
    if c.barWidth > 0 { screen.put("OF PARENT", x: c.bar, y: y, style: Theme.titles) }
    if c.fileWidth > 0 { screen.put("FILE", x: c.file, y: y, style: Theme.titles) }
  }

  // MARK: Tree rows

  mutating func body() {
    if model.rows.isEmpty {
      let text =
        model.filter != nil
        ? "Nothing matches the filter (Esc clears it)."
        : "This file holds no tensors and no values."
      screen.put(text, x: 2, y: layout.body.lowerBound, style: Theme.dim)
      return
    }
    for (i, y) in layout.body.enumerated() {
      let r = model.top + i
      guard r < model.rows.count else { break }
      row(model.rows[r], y: y, selected: r == model.focus)
    }
  }

  mutating func row(_ id: Int32, y: Int, selected: Bool) {
    let node = tree[id]
    let c = columns
    var x = c.key + Int(node.depth) * 2
    let keyEnd = c.key + c.keyWidth
    let isOpen = model.expanded[Int(id)]
    let marker = node.isExpandable ? (isOpen ? g.expanded : g.collapsed) : " "
    x += screen.put(marker + " ", x: x, y: y, style: Theme.marker)
    let isMatch = model.search?.contains(id, tree: tree) ?? false
    let matchStyle: (Style) -> Style = { isMatch ? $0.adding(.underline) : $0 }

    let isDropped = model.edit.dropped[Int(id)]
    let arrow = model.edit.arrow[id].map { " -> " + ($0.isEmpty ? "(stripped)" : $0) }
    switch node.kind {
    case .value:
      x += screen.put(node.label, x: x, y: y, style: matchStyle(Theme.label), limit: width - 1 - x)
      if let arrow {
        x += screen.put(arrow, x: x, y: y, style: Theme.pending, limit: width - 1 - x)
      }
      screen.put(
        " = " + tree.text(of: id, limit: max(16, width - x)), x: x, y: y, style: Theme.value,
        limit: width - 1 - x)
    case .group where node.tensors == 0:
      x += screen.put(
        node.label, x: x, y: y, style: matchStyle(Theme.groupLabel), limit: width - 1 - x)
      if let arrow {
        x += screen.put(arrow, x: x, y: y, style: Theme.pending, limit: width - 1 - x)
      }
      if !isOpen {
        let preview = tree.text(of: id, limit: max(16, width - x))
        if !preview.isEmpty {
          screen.put("  " + preview, x: x, y: y, style: Theme.dim, limit: width - 1 - x)
        }
      }
    default:
      let labelStyle = node.kind == .tensor ? Theme.label : Theme.groupLabel
      let room = keyEnd - x
      let label = TextWidth.truncate(node.label, to: room)
      x += screen.put(label, x: x, y: y, style: matchStyle(labelStyle), limit: room)
      if let arrow, keyEnd - x > 4 {
        x += screen.put(
          TextWidth.truncate(arrow, to: keyEnd - x), x: x, y: y, style: Theme.pending,
          limit: keyEnd - x)
      }
      if !node.suffix.isEmpty && keyEnd - x > 4 {
        screen.put("  " + node.suffix, x: x, y: y, style: Theme.dim, limit: keyEnd - x)
      }
      columnsOf(node, id: id, y: y)
    }
    // The safety mark, in the column left of every key: its own finding, or for a folded row
    // the worst finding it hides.
    let level = isOpen ? model.safety.level(of: id) : model.safety.levelBelow(id)
    if isDropped {
      // Left out of the output: dimmed, and marked in the first column.
      screen.restyle(x: 0, y: y, width: width) { _ in Theme.dim }
      screen.put("x", x: 0, y: y, style: Theme.pending)
    }
    if level != .none {
      screen.put(level == .dangerous ? "!" : "?", x: 0, y: y, style: Theme.mark(level))
    }
    valueMark(id, isOpen: isOpen, y: y)
    if selected {
      screen.restyle(x: 0, y: y, width: width) { $0.adding(.reverse) }
    }
  }

  mutating func columnsOf(_ node: Tree.Node, id: Int32, y: Int) {
    let c = columns
    let castCount = model.edit.castCount[Int(id)]
    if castCount > 0 {
      let to = model.edit.castName(model.edit.castTarget[Int(id)]) ?? "mixed"
      let from: String
      if node.kind == .tensor, let entry = tree.entry(of: id) {
        from = entry.tensor.dtype.shortName
      } else if castCount < node.tensors {
        from = "\(castCount)/\(node.tensors)"
      } else {
        from = tree.dtypeName(node.dtype) ?? "mixed"
      }
      screen.put(
        TextWidth.truncate(from + " > " + to, to: c.dtypeWidth), x: c.dtype, y: y,
        style: Theme.pending)
    }
    if node.kind == .tensor, let entry = tree.entry(of: id) {
      let t = entry.tensor
      if castCount == 0 {
        screen.put(
          TextWidth.truncate(t.dtype.shortName, to: c.dtypeWidth), x: c.dtype, y: y,
          style: Theme.dtype)
      }
      let shape = t.layout == "nested" ? "nested" : Format.compactShape(t.shape)
      screen.put(TextWidth.truncate(shape, to: c.shapeWidth), x: c.shape, y: y, style: .plain)
    } else {
      if castCount > 0 {
        // Drawn above.
      } else if let dtype = tree.dtypeName(node.dtype) {
        screen.put(
          TextWidth.truncate(dtype, to: c.dtypeWidth), x: c.dtype, y: y, style: Theme.dtype)
      } else if node.dtype == Tree.mixed {
        screen.put("mixed", x: c.dtype, y: y, style: Theme.dtype, limit: c.dtypeWidth)
      }
      let count = "\(node.tensors) tensor" + (node.tensors == 1 ? "" : "s")
      screen.put(TextWidth.truncate(count, to: c.shapeWidth), x: c.shape, y: y, style: Theme.dim)
    }
    let (device, style) = deviceText(id)
    screen.put(TextWidth.truncate(device, to: c.deviceWidth), x: c.device, y: y, style: style)
    screen.put(
      TextWidth.padLeft(Format.bytes(node.bytes), to: c.bytesWidth), x: c.bytes, y: y, style: .plain
    )
    if c.barWidth > 0 { bar(node, x: c.bar, y: y) }
    if c.fileWidth > 0, model.folder != nil, model.nodeFile.indices.contains(Int(id)) {
      let code = model.nodeFile[Int(id)]
      if code >= 0 && Int(code) < fileLabels.count {
        screen.put(
          TextWidth.truncate(fileLabels[Int(code)], to: c.fileWidth), x: c.file, y: y,
          style: Theme.dim)
      } else if code == Tree.mixed {
        screen.put("mixed", x: c.file, y: y, style: Theme.dim, limit: c.fileWidth)
      }
    }
  }

  /// The device column: the device, or `from > to` in the change colour when staged.
  func deviceText(_ id: Int32) -> (String, Style) {
    let node = tree[id]
    if let folder = model.folder, folder.readOnly != nil {
      // A DCP folder records no device: the column shows how many chunks a tensor is in.
      let e = Int(node.entry)
      guard node.kind == .tensor, folder.chunks.indices.contains(e) else { return ("", Theme.dim) }
      return ("\(folder.chunks[e]) chunk" + (folder.chunks[e] == 1 ? "" : "s"), Theme.dim)
    }
    let from = tree.deviceName(node.device) ?? (node.device == Tree.mixed ? "mixed" : "")
    let pendingCount = model.pending.count[Int(id)]
    if pendingCount > 0 {
      let to = model.pending.targetName(model.pending.target[Int(id)]) ?? "mixed"
      if pendingCount == node.tensors { return (from + " > " + to, Theme.pending) }
      return ("\(pendingCount)/\(node.tensors) > " + to, Theme.pending)
    }
    return (from, node.device >= 0 ? Theme.device(from) : Theme.dim)
  }

  mutating func bar(_ node: Tree.Node, x: Int, y: Int) {
    let parentBytes = node.parent >= 0 ? tree[node.parent].bytes : node.bytes
    guard parentBytes > 0, node.bytes > 0 else { return }
    let share = min(1, Double(node.bytes) / Double(parentBytes))
    let cells = columns.barWidth - 5
    let eighths = Int((share * Double(cells * 8)).rounded())
    var text = String(repeating: g.full, count: eighths / 8) + g.partial[eighths % 8]
    if text.isEmpty { text = g.partial[1].isEmpty ? "" : g.partial[1] }
    screen.put(text, x: x, y: y, style: Theme.bar, limit: cells)
    let percent = Int((share * 100).rounded())
    let label = percent == 0 ? "<1%" : "\(percent)%"
    screen.put(TextWidth.padLeft(label, to: 4), x: x + cells + 1, y: y, style: Theme.dim)
  }

  // MARK: Detail pane

  mutating func detail() {
    guard let sep = layout.separator else { return }
    screen.put(String(repeating: g.horizontal, count: width), x: 0, y: sep, style: Theme.separator)
    if let active = model.filter {
      let text =
        " filter: \(active.filter.text) · \(active.tensors) tensors · \(Format.bytes(active.bytes)) "
      screen.put(text, x: 2, y: sep, style: Theme.prompt, limit: width - 16)
    }
    if !model.rows.isEmpty {
      let position = " \(model.focus + 1)/\(model.rows.count) "
      screen.put(position, x: width - TextWidth.width(position) - 2, y: sep, style: Theme.separator)
    }
    guard let id = model.focusedNode else { return }
    var lines: [[(String, Style)]] = []
    let node = tree[id]
    switch node.kind {
    case .tensor: lines = tensorDetail(id)
    case .value: lines = valueDetail(id)
    default: lines = containerDetail(id)
    }
    // A flagged row explains its finding; what it would have shown otherwise follows if the
    // pane has room.
    if let flagged = safetyDetail(id, normal: lines) { lines = flagged }
    for (i, y) in layout.detail.enumerated() where i < lines.count {
      var x = 1
      for (text, style) in lines[i] {
        x += screen.put(text, x: x, y: y, style: style, limit: width - 1 - x)
      }
    }
  }

  /// The pane of a flagged row (or of a folded row hiding one): the key and what the global
  /// resolves to, the verdict and why (wrapped when the pane has room), then where it is in
  /// the file and what the pickle does there. Nil for rows without findings.
  func safetyDetail(_ id: Int32, normal: [[(String, Style)]]) -> [[(String, Style)]]? {
    let safety = model.safety
    let own = safety.findings(of: id)
    var finding = own.first
    var at: Int32 = id
    if finding == nil, !model.expanded[Int(id)] || !tree[id].isExpandable,
      let worst = safety.worstFinding(under: id, in: tree)
    {
      finding = worst.finding
      at = worst.node
    }
    guard let f = finding else { return nil }
    let style = Theme.mark(SafetyMarks.Level(f.verdict))
    let mark = f.verdict == .dangerous ? "! " : "? "
    let note: String
    if at != id {
      let count = safety.flagged(under: id, in: tree).count
      note = mark + "\(count) flagged row\(count == 1 ? "" : "s") below; ! goes to each"
    } else if let made = safety.notes[id] {
      note = mark + made
    } else {
      note =
        mark + (f.global ?? f.verdict.rawValue)
        + (own.count > 1 ? "  (\(own.count) findings)" : "")
    }
    let key = displayKey(id)
    var lines = [
      [
        (
          TextWidth.truncateLeft(key.isEmpty ? "(root)" : key, to: max(10, width - 12)),
          Theme.detailKey
        ),
        ("  " + note, style),
      ]
    ]
    let why = f.verdict.rawValue + ": " + f.detail
    let whyLines = Self.wrap(why, width: width - 2, lines: max(1, layout.detail.count - 2))
    for (i, text) in whyLines.enumerated() {
      if i == 0, text.hasPrefix(f.verdict.rawValue) {
        let verdictWidth = f.verdict.rawValue.count
        lines.append([
          (String(text.prefix(verdictWidth)), style),
          (String(text.dropFirst(verdictWidth)), .plain),
        ])
      } else {
        lines.append([(text, .plain)])
      }
    }
    // The offset first: the call can be long, and the record is named last.
    var whereLine: [(String, Style)] = []
    if at != id { whereLine.append((tree[at].key + "  ", Theme.detailKey)) }
    whereLine.append(("byte \(f.offset)", Theme.fieldName))
    if let rendering = f.rendering ?? f.global {
      whereLine.append(("  " + rendering, Theme.value))
    }
    whereLine.append(
      ("  in " + f.location + (f.offsetIsInFile ? "" : " (inflated)"), Theme.fieldName))
    lines.append(whereLine)
    return lines + normal.dropFirst()
  }

  /// The key a detail pane names for `id` (a folded run is named by its first and last keys).
  func displayKey(_ id: Int32) -> String {
    let node = tree[id]
    return node.kind == .run ? (node.key.isEmpty ? "" : node.key + ".") + node.label : node.key
  }

  /// `text` in at most `lines` lines of `width` cells, cut at spaces; the last line ends in `…`
  /// when text is left over.
  static func wrap(_ text: String, width: Int, lines: Int) -> [String] {
    var out: [String] = []
    var rest = Substring(text)
    while !rest.isEmpty && out.count < lines {
      if TextWidth.width(String(rest)) <= width {
        out.append(String(rest))
        return out
      }
      if out.count == lines - 1 {
        out.append(TextWidth.truncate(String(rest), to: width))
        return out
      }
      var cut = rest.startIndex
      var used = 0
      var lastSpace: Substring.Index?
      for i in rest.indices {
        let w = TextWidth.width(rest[i])
        if used + w > width { break }
        used += w
        if rest[i] == " " { lastSpace = i }
        cut = rest.index(after: i)
      }
      if let lastSpace, lastSpace > rest.startIndex { cut = lastSpace }
      out.append(String(rest[..<cut]))
      rest = rest[cut...].drop { $0 == " " }
    }
    return out
  }

  func keyLine(_ key: String, _ note: String = "") -> [(String, Style)] {
    let room = width - 2 - (note.isEmpty ? 0 : TextWidth.width(note) + 2)
    var out = [
      (TextWidth.truncateLeft(key.isEmpty ? "(root)" : key, to: max(10, room)), Theme.detailKey)
    ]
    if !note.isEmpty { out.append(("  " + note, Theme.dim)) }
    return out
  }

  func tensorDetail(_ id: Int32) -> [[(String, Style)]] {
    guard let entry = tree.entry(of: id) else { return [] }
    let t = entry.tensor
    var flags: [String] = []
    if t.isParameter { flags.append("parameter") }
    if t.requiresGrad { flags.append("requires_grad") }
    if !entry.inStateDict { flags.append("not in state_dict") }
    if let layout = t.layout { flags.append(layout) }
    if model.edit.dropped[Int(id)] {
      flags.insert("dropped", at: 0)
    } else if let renamed = model.edit.newKey[id] {
      flags.insert("-> " + renamed, at: 0)
    }
    if model.edit.castCount[Int(id)] > 0,
      let to = model.edit.castName(model.edit.castTarget[Int(id)])
    {
      flags.insert("cast > " + to, at: 0)
    }
    var lines = [keyLine(entry.key, flags.joined(separator: ", "))]
    var shapeLine: [(String, Style)] = [
      (t.dtype.name, .plain), ("  shape ", Theme.fieldName), (Format.compactShape(t.shape), .plain),
    ]
    if let stride = t.stride {
      shapeLine += [("  stride ", Theme.fieldName), (Format.compactShape(stride), .plain)]
    }
    shapeLine += [
      ("  offset ", Theme.fieldName), (String(t.offset), .plain),
      (
        "  " + (t.isContiguous ? "contiguous" : "not contiguous"),
        t.isContiguous ? .plain : Theme.pending
      ),
      ("  " + Format.count(t.numel) + " elements, " + Format.bytes(t.nbytes), Theme.dim),
    ]
    lines.append(shapeLine)
    var storageLine: [(String, Style)] = []
    if let folder = model.folder, folder.readOnly != nil {
      // A DCP tensor: its chunks and files, as .metadata lists them.
      let e = Int(tree[id].entry)
      let chunks = folder.chunks.indices.contains(e) ? Int(folder.chunks[e]) : 0
      let file =
        folder.entryFile.indices.contains(e) ? folder.fileNames[Int(folder.entryFile[e])] : ""
      lines.append([
        ("\(chunks) chunk\(chunks == 1 ? "" : "s") in ", Theme.fieldName), (file, .plain),
        ("  no device recorded", Theme.dim),
      ])
      return lines
    }
    if let s = t.storage {
      storageLine += [
        ("storage ", Theme.fieldName), (displayRecord(s.record), .plain),
        (" (\(Format.bytes(s.byteCount)))", Theme.dim),
      ]
    } else if !t.allStorages.isEmpty {
      storageLine += [
        ("storages ", Theme.fieldName),
        (t.allStorages.map { displayRecord($0.record) }.joined(separator: ", "), .plain),
      ]
    } else if let file = entry.file, model.folder != nil {
      // A safetensors shard's tensor: a byte range of its file.
      storageLine += [("in ", Theme.fieldName), (file, .plain)]
    } else {
      storageLine += [("no storage", Theme.dim)]
    }
    storageLine += [("  on ", Theme.fieldName), (t.device, Theme.device(t.device))]
    if let to = model.pending.target(of: t) {
      storageLine += [("  staged > " + to, Theme.pending)]
    }
    let others = sharing(entry: tree[id].entry, tensor: t)
    if !others.isEmpty {
      var text = "  shares storage with " + others.prefix(2).joined(separator: ", ")
      if others.count > 2 { text += " +\(others.count - 2) more" }
      if layout.detail.count >= 4 {
        lines.append(storageLine)
        lines.append([(String(text.dropFirst(2)), Theme.dim)])
        return lines
      }
      storageLine.append((text, Theme.dim))
    }
    lines.append(storageLine)
    return lines
  }

  /// A storage record as the detail pane shows it: a folder's merged records read
  /// `data/0 in FILE`.
  func displayRecord(_ record: String) -> String {
    guard model.folder != nil, let cut = record.firstIndex(of: FolderShards.separator) else {
      return record
    }
    return String(record[record.index(after: cut)...]) + " in " + String(record[..<cut])
  }

  func sharing(entry: Int32, tensor: TensorInfo) -> [String] {
    var out: [String] = []
    for s in tensor.allStorages {
      for user in tree.storageUsers[s.record] ?? [] where user != entry {
        let other = tree.entries[Int(user)]
        if let a = other.tensor.node, let b = tensor.node, a == b,
          other.key == tree.entries[Int(entry)].key
        {
          continue
        }
        out.append(other.key)
        if out.count > 50 { return out }
      }
    }
    return out
  }

  func valueDetail(_ id: Int32) -> [[(String, Style)]] {
    var lines = [keyLine(tree[id].key)]
    let room = max(10, width - 2)
    var text = "= " + tree.text(of: id, limit: room * 3)
    for _ in 1..<max(2, layout.detail.count) {
      guard !text.isEmpty else { break }
      let chunk = String(text.prefix(room))
      lines.append([(chunk, Theme.value)])
      text = String(text.dropFirst(chunk.count))
    }
    return lines
  }

  func containerDetail(_ id: Int32) -> [[(String, Style)]] {
    let node = tree[id]
    var lines = [keyLine(displayKey(id), node.suffix)]
    if node.tensors == 0 {
      lines.append([
        ("\(node.children.count) item\(node.children.count == 1 ? "" : "s"), no tensors", Theme.dim)
      ])
      let preview = tree.text(of: id, limit: width)
      if !preview.isEmpty { lines.append([(preview, Theme.value)]) }
      return lines
    }
    var totals: [(String, Style)] = [
      ("\(node.tensors) tensor\(node.tensors == 1 ? "" : "s")", .plain),
      ("  " + Format.count(node.elements) + " elements", .plain),
      ("  " + Format.bytes(node.bytes), .plain),
      ("  dtype ", Theme.fieldName),
      (tree.dtypeName(node.dtype) ?? "mixed", .plain),
    ]
    totals.append(("  devices ", Theme.fieldName))
    totals += census(id)
    lines.append(totals)
    let pendingCount = Int(model.pending.count[Int(id)])
    if pendingCount > 0 {
      let to = model.pending.targetName(model.pending.target[Int(id)]) ?? "several devices"
      lines.append([
        ("staged: \(pendingCount) of \(node.tensors) > \(to)", Theme.pending),
        ("  w writes, u undoes", Theme.dim),
      ])
    } else if let edits = containerEdits(id) {
      lines.append([(edits, Theme.pending), ("  w writes, u undoes", Theme.dim)])
    } else {
      lines.append([("m maps this subtree, M every tensor", Theme.dim)])
    }
    return lines
  }

  /// What the staged operations do to a container, in a few words (nil when nothing).
  func containerEdits(_ id: Int32) -> String? {
    let node = tree[id]
    var parts: [String] = []
    if model.edit.dropped[Int(id)] {
      parts.append("left out of the output")
    } else if let renamed = model.edit.newKey[id] {
      parts.append(renamed.isEmpty ? "its prefix is stripped" : "renamed to " + renamed)
    }
    let cast = Int(model.edit.castCount[Int(id)])
    if cast > 0 {
      let to = model.edit.castName(model.edit.castTarget[Int(id)]) ?? "several dtypes"
      parts.append("\(cast) of \(node.tensors) cast > \(to)")
    }
    return parts.isEmpty ? nil : "staged: " + parts.joined(separator: ", ")
  }

  /// Tensors per device under `id`. Mixed subtrees are counted up to a bound, so a focus on a
  /// huge container never costs a full walk per frame.
  func census(_ id: Int32) -> [(String, Style)] {
    let node = tree[id]
    if let only = tree.deviceName(node.device) {
      return [("\(only) ×\(node.tensors)", Theme.device(only))]
    }
    var counts: [Int32: Int] = [:]
    var order: [Int32] = []
    var seen = 0
    var complete = true
    for n in tree.subtree(id) where tree[n].kind == .tensor {
      seen += 1
      if seen > 20_000 {
        complete = false
        break
      }
      let d = tree[n].device
      if counts[d] == nil { order.append(d) }
      counts[d, default: 0] += 1
    }
    var out: [(String, Style)] = []
    for d in order {
      let name = tree.deviceName(d) ?? "?"
      out.append(((out.isEmpty ? "" : " ") + "\(name) ×\(counts[d] ?? 0)", Theme.device(name)))
    }
    if !complete { out.append((" …", Theme.dim)) }
    return out
  }

  // MARK: Status and hints

  mutating func statusLine() {
    let y = layout.status
    switch model.mode {
    case .prompt(let prompt):
      if let status = model.status {
        screen.put(
          status.text, x: 1, y: layout.hints, style: Theme.status(status.kind), limit: width - 2)
      }
      var x = 1 + screen.put(prompt.label, x: 1, y: y, style: Theme.prompt)
      let room = width - x - 2
      let text = prompt.editor.characters
      let start = max(0, prompt.editor.cursor - room + 1)
      let visible = String(text[start..<min(text.count, start + room)])
      screen.put(visible, x: x, y: y, style: .plain)
      x += prompt.editor.cursor - start
      let under = prompt.editor.cursor < text.count ? String(text[prompt.editor.cursor]) : " "
      screen.put(under, x: x, y: y, style: Theme.cursor)
      return
    case .confirm(let question):
      let text: String
      switch question {
      case .quit:
        let operations = model.staging.editCount
        let tensors = model.pending.tensors
        text =
          operations > 0
          ? "\(operations) edit\(operations == 1 ? "" : "s") staged and not written. Quit anyway? (y/N)"
          : tensors > 0
            ? "\(tensors) tensor\(tensors == 1 ? "" : "s") staged and not written. Quit anyway? (y/N)"
            : "Device moves staged and not written. Quit anyway? (y/N)"
      case .overwrite(let path):
        text = "\(path) exists. Replace it? (y/N)"
      }
      screen.put(text, x: 1, y: y, style: Theme.status(.warning), limit: width - 2)
      return
    case .checking(let path):
      screen.put("Checking \(path)…", x: 1, y: y, style: .plain, limit: width - 2)
      return
    case .writing(let progress):
      writing(progress, y: y)
      return
    case .help:
      return
    default:
      break
    }
    if let status = model.status {
      // A long message takes the hint line too: an error matters more than the hints.
      let room = width - 2
      if TextWidth.width(status.text) > room {
        let words = status.text.split(separator: " ", omittingEmptySubsequences: false)
        var first = ""
        var used = 0
        for word in words {
          let w = TextWidth.width(String(word)) + (first.isEmpty ? 0 : 1)
          if used + w > room { break }
          first += (first.isEmpty ? "" : " ") + word
          used += w
        }
        if first.isEmpty { first = TextWidth.truncate(status.text, to: room) }
        let rest = String(status.text.dropFirst(first.count).drop { $0 == " " })
        screen.put(first, x: 1, y: y, style: Theme.status(status.kind))
        screen.fill(x: 0, y: layout.hints, width: width, style: .plain)
        screen.put(
          TextWidth.truncate(rest, to: room), x: 1, y: layout.hints,
          style: Theme.status(status.kind))
        hintsTaken = true
        return
      }
      screen.put(status.text, x: 1, y: y, style: Theme.status(status.kind))
      return
    }
    guard let id = model.focusedNode else { return }
    var crumbs: [String] = []
    var at = id
    while at > 0 {
      let n = tree[at]
      if n.parent > 0 && tree[n.parent].indexed {
        // `layers.3`, not `layers › 3`: the numbered row reads as it does in the tree.
        crumbs.append(n.label)
        at = tree[n.parent].parent
        continue
      }
      if n.kind != .run { crumbs.append(n.name.isEmpty ? "''" : n.name) }
      at = n.parent
    }
    let path = crumbs.reversed().joined(separator: g.crumb)
    var right = ""
    if let search = model.search {
      right =
        "/\(search.query) · \(search.matches.count) match\(search.matches.count == 1 ? "" : "es")"
    }
    let rightWidth = right.isEmpty ? 0 : TextWidth.width(right) + 2
    screen.put(
      TextWidth.truncateLeft(path, to: width - 2 - rightWidth), x: 1, y: y, style: Theme.dim)
    if !right.isEmpty {
      screen.put(right, x: width - 1 - TextWidth.width(right), y: y, style: Theme.dim)
    }
  }

  mutating func writing(_ progress: WriteProgress, y: Int) {
    let numbers =
      progress.total > 0
      ? "\(Int((Double(progress.done) / Double(progress.total) * 100).rounded(.down)))%  "
        + "\(Format.bytes(progress.done)) / \(Format.bytes(progress.total))" : "starting…"
    // The path matters more than a long bar: the bar takes what is left, at least 10 cells.
    let fixed = 1 + 8 + 1 + 2 + 2 + TextWidth.width(numbers) + 1
    let path = TextWidth.truncateLeft(progress.path, to: max(8, width - fixed - 10))
    let barCells = max(10, min(40, width - fixed - TextWidth.width(path)))
    var x = 1 + screen.put("Writing ", x: 1, y: y, style: Theme.prompt)
    x += screen.put(path + " ", x: x, y: y, style: .plain)
    let share = progress.total > 0 ? min(1, Double(progress.done) / Double(progress.total)) : 0
    let filled = Int((share * Double(barCells)).rounded(.down))
    x += screen.put("[", x: x, y: y, style: Theme.dim)
    x += screen.put(String(repeating: g.full, count: filled), x: x, y: y, style: Theme.progress)
    x += screen.put(
      String(repeating: g.horizontal == "-" ? "." : "░", count: barCells - filled), x: x, y: y,
      style: Theme.dim)
    x += screen.put("] ", x: x, y: y, style: Theme.dim)
    screen.put(numbers, x: x, y: y, style: .plain)
  }

  mutating func hints() {
    guard !hintsTaken else { return }
    let y = layout.hints
    let items: [(String, String)]
    switch model.mode {
    case .browse:
      items =
        (model.safety.flagged.isEmpty ? [] : [("!", "findings")])
        + (model.values.isOpen ? [("→", "grid"), ("v", "close values")] : []) + [
          ("m", "map"), ("M", "map all"), ("u", "undo"), ("w", "write"), ("/", "search"),
          ("f", "filter"), ("?", "help"), ("q", "quit"),
        ]
    case .help: items = [("↑↓", "scroll"), ("PgDn", "page"), ("q", "close")]
    case .picker: items = [("↑↓", "choose"), ("Enter", "stage"), ("Esc", "cancel")]
    case .prompt(let p):
      if model.status != nil { return }
      switch p.purpose {
      case .filter:
        items = [
          ("Enter", "apply"), ("Esc", "cancel"),
          ("e.g.", "device:cuda dtype:bf16 shape:*,768 pending -bias"),
        ]
      case .search: items = [("Enter", "find"), ("Esc", "cancel"), ("then", "n next, N previous")]
      case .writePath: items = [("Enter", "write"), ("Esc", "cancel"), ("Ctrl-U", "clear")]
      case .device: items = [("Enter", "stage"), ("Esc", "cancel"), ("e.g.", "cuda:1 mps xpu:0")]
      case .rename:
        items = [("Enter", "stage"), ("Esc", "cancel"), ("e.g.", "backbone.=encoder.  module.=")]
      }
    case .confirm: items = [("y", "yes"), ("n", "no")]
    case .checking, .writing: items = []
    case .values:
      items = [
        ("↑↓←→", "scroll"), ("[ ]", "slice"), ("Esc", "tree"), ("v", "close"), ("?", "help"),
        ("q", "tree"),
      ]
    }
    hintLine(items, y: y)
  }

  /// Draws `items` (key, what it does) on row `y`; when they do not fit, hints are dropped
  /// from the end, but `? help` and `q quit` always stay. The tree and the graph share it.
  mutating func hintLine(_ items: [(String, String)], y: Int) {
    var chosen = items
    func widthOf(_ list: [(String, String)]) -> Int {
      list.reduce(0) { $0 + TextWidth.width($1.0) + TextWidth.width($1.1) + 3 }
    }
    while widthOf(chosen) > width - 1 && chosen.count > 2 {
      let removable = chosen.indices.last { chosen[$0].0 != "?" && chosen[$0].0 != "q" } ?? 0
      chosen.remove(at: removable)
    }
    var x = 1
    for (key, text) in chosen {
      x += screen.put(key, x: x, y: y, style: Theme.hintKey)
      x += screen.put(" " + text + "  ", x: x, y: y, style: Theme.hintText, limit: width - x)
    }
  }

  // MARK: Overlays

  mutating func picker(_ picker: DevicePicker) {
    let inner = max(28, TextWidth.width(picker.title) + 6)
    let boxWidth = min(width - 4, inner + 2)
    let boxHeight = picker.options.count + 4
    let x0 = max(0, (width - boxWidth) / 2)
    let y0 = max(
      layout.body.lowerBound, layout.body.lowerBound + (layout.bodyHeight - boxHeight) / 2)
    let horizontal = String(repeating: g.horizontal, count: max(0, boxWidth - 2))
    screen.put(g.topLeft + horizontal + g.topRight, x: x0, y: y0, style: Theme.box)
    screen.put(
      " " + picker.title + " ", x: x0 + 2, y: y0, style: Theme.boxTitle, limit: boxWidth - 4)
    for i in 1..<(boxHeight - 1) {
      let y = y0 + i
      screen.put(g.vertical, x: x0, y: y, style: Theme.box)
      screen.fill(x: x0 + 1, y: y, width: boxWidth - 2, style: .plain)
      screen.put(g.vertical, x: x0 + boxWidth - 1, y: y, style: Theme.box)
    }
    for (i, option) in picker.options.enumerated() {
      let y = y0 + 2 + i
      let chosen = i == picker.selected
      let text = (chosen ? g.collapsed + " " : "  ") + option
      if chosen { screen.fill(x: x0 + 2, y: y, width: boxWidth - 4, style: Theme.chosen) }
      screen.put(text, x: x0 + 2, y: y, style: chosen ? Theme.chosen : .plain, limit: boxWidth - 4)
    }
    screen.put(
      g.bottomLeft + horizontal + g.bottomRight, x: x0, y: y0 + boxHeight - 1, style: Theme.box)
  }

  mutating func help(top: Int) {
    let area = layout.body.lowerBound..<layout.status
    for y in area { screen.fill(x: 0, y: y, width: width, style: .plain) }
    screen.fill(x: 0, y: layout.titles, width: width, style: .plain)
    screen.put("Keys", x: 1, y: layout.titles, style: Theme.titles)
    let lines = Model.helpLines(width: width)
    let keyWidth = Model.helpKeyWidth(width)
    for (i, y) in area.enumerated() {
      let index = top + i
      guard index < lines.count else { break }
      let line = lines[index]
      if line.isTitle {
        screen.put(line.key, x: 1, y: y, style: Theme.groupLabel)
      } else {
        screen.put(line.key, x: 3, y: y, style: Theme.detailKey, limit: keyWidth)
        screen.put(line.text, x: 3 + keyWidth + 1, y: y, style: .plain, limit: width - keyWidth - 5)
      }
    }
    if lines.count > area.count {
      let text = " \(min(lines.count, top + area.count))/\(lines.count) "
      screen.put(text, x: width - TextWidth.width(text) - 1, y: layout.titles, style: Theme.dim)
    }
  }
}
