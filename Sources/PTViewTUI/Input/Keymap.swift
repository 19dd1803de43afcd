/// What a key does in the tree view.
public enum Action: Hashable, Sendable {
  case moveDown
  case moveUp
  case pageDown
  case pageUp
  case halfPageDown
  case halfPageUp
  case top
  case bottom
  case expandOrEnter
  case collapseOrParent
  case toggle
  case parent
  case nextSibling
  case previousSibling
  case expandRecursively
  case collapseRecursively
  case collapseToDepth(Int)
  case search
  case nextMatch
  case previousMatch
  case nextFinding
  case filter
  case mapSelection
  case mapAll
  case stripPrefix
  case rename
  case drop
  case extract
  case stateDict
  case cast
  case undo
  case write
  case help
  case valuesPane
  case checkValues
  case quit
  case cancel
  /// Between the key view and the pickle graph.
  case switchView
}

/// One row of the key map: the keys, what they do, and the words help shows for them.
public struct KeyBinding: Hashable, Sendable {
  /// Section of the help screen.
  public var section: String
  /// The keys, first is the one hints show.
  public var keys: [KeyEvent]
  /// The action.
  public var action: Action
  /// What help says.
  public var help: String
  /// How the keys are written in help (defaults to their names joined with spaces).
  public var label: String

  init(
    _ section: String, _ keys: [KeyEvent], _ action: Action, _ help: String, label: String? = nil
  ) {
    self.section = section
    self.keys = keys
    self.action = action
    self.help = help
    self.label = label ?? keys.map(\.name).joined(separator: " ")
  }
}

/// The key map as data: the one table behind dispatch, the help screen and `docs/keys.md`,
/// so the three can never disagree. Arrows and vim keys both work (gitui had to add vim keys
/// by popular demand); `?` is help and `q` quits as in most tools people know.
public enum Keymap {
  /// Every binding, in help order.
  public static let bindings: [KeyBinding] = [
    KeyBinding("Move", [.down, .character("j"), .control("n")], .moveDown, "next row"),
    KeyBinding("Move", [.up, .character("k"), .control("p")], .moveUp, "previous row"),
    KeyBinding("Move", [.pageDown, .control("f")], .pageDown, "page down"),
    KeyBinding("Move", [.pageUp, .control("b")], .pageUp, "page up"),
    KeyBinding("Move", [.control("d")], .halfPageDown, "half a page down"),
    KeyBinding("Move", [.control("u")], .halfPageUp, "half a page up"),
    KeyBinding("Move", [.character("g"), .home], .top, "first row"),
    KeyBinding("Move", [.character("G"), .end], .bottom, "last row"),
    KeyBinding("Move", [.character("p")], .parent, "parent, without collapsing"),
    KeyBinding("Move", [.character("J")], .nextSibling, "next sibling"),
    KeyBinding("Move", [.character("K")], .previousSibling, "previous sibling"),
    KeyBinding(
      "Tree", [.right, .character("l")], .expandOrEnter, "expand, or go to the first child"),
    KeyBinding(
      "Tree", [.left, .character("h")], .collapseOrParent, "collapse, or go to the parent"),
    KeyBinding("Tree", [.enter, .character(" ")], .toggle, "expand or collapse"),
    KeyBinding("Tree", [.character("L")], .expandRecursively, "expand everything below"),
    KeyBinding("Tree", [.character("H")], .collapseRecursively, "collapse everything below"),
    KeyBinding(
      "Tree", (1...9).map { .character(Character(String($0))) }, .collapseToDepth(0),
      "show the tree N levels deep", label: "1 … 9"),
    KeyBinding("Find", [.character("/")], .search, "search keys (smart case)"),
    KeyBinding("Find", [.character("n")], .nextMatch, "next match"),
    KeyBinding("Find", [.character("N")], .previousMatch, "previous match"),
    KeyBinding(
      "Find", [.character("!")], .nextFinding,
      "next row the safety scan flags (marked ! or ?)"),
    KeyBinding(
      "Find", [.character("f"), .character("\\")], .filter,
      "filter: device:cuda dtype:bf16 shape:*,768 pending key*"),
    KeyBinding("Edit", [.character("m")], .mapSelection, "map the devices of the selected subtree"),
    KeyBinding("Edit", [.character("M")], .mapAll, "map every device (cpu first)"),
    KeyBinding(
      "Edit", [.character("P")], .stripPrefix,
      "strip a key prefix (module., _orig_mod. detected first)"),
    KeyBinding("Edit", [.character("r")], .rename, "rename the selected key or subtree (OLD=NEW)"),
    KeyBinding("Edit", [.character("x")], .drop, "drop the selected subtree (again: keep it)"),
    KeyBinding("Edit", [.character("e")], .extract, "extract the selected subtree as the root"),
    KeyBinding("Edit", [.character("S")], .stateDict, "keep the weights as a flat state_dict"),
    KeyBinding("Edit", [.character("c")], .cast, "cast floating tensors (bf16 fp16 fp32 fp64)"),
    KeyBinding("Edit", [.character("u")], .undo, "undo the last staged change"),
    KeyBinding(
      "Edit", [.character("w"), .control("s")], .write, "write an edited copy (asks for the path)"),
    KeyBinding(
      "Values", [.character("v")], .valuesPane,
      "values pane: statistics, histogram, values (→ enters the grid)"),
    KeyBinding(
      "Values", [.character("V")], .checkValues,
      "check every tensor for NaN/Inf, mark rows N or I (again: stop)"),
    KeyBinding(
      "Views", [.tab], .switchView,
      "the pickle graph and back; from a tensor, to its rebuild call"),
    KeyBinding("Other", [.escape], .cancel, "clear the message, the search or the filter"),
    KeyBinding("Other", [.character("?"), .function(1)], .help, "this help"),
    KeyBinding(
      "Other", [.character("q"), .control("q")], .quit, "quit (asks when edits are unsaved)"),
  ]

  /// The action bound to `key` in the tree view.
  public static func action(for key: KeyEvent) -> Action? {
    if case .character(let c) = key, let digit = c.wholeNumberValue, (1...9).contains(digit),
      c.isASCII
    {
      return .collapseToDepth(digit)
    }
    return lookup[key]
  }

  private static let lookup: [KeyEvent: Action] = {
    var table: [KeyEvent: Action] = [:]
    for binding in bindings {
      for key in binding.keys where table[key] == nil { table[key] = binding.action }
    }
    return table
  }()

  /// Keys that work in every overlay, shown in help.
  public static let overlayNotes: [(String, String)] = [
    ("Mouse", "wheel scrolls, click selects, double click toggles"),
    ("Prompts", "Enter confirms, Esc cancels, Ctrl-U clears the line"),
    ("Pickers", "↑ ↓ j k choose, Enter applies, Esc cancels"),
    ("Ctrl-C", "leaves at once; the terminal is restored, nothing written"),
  ]

  /// The key map as Markdown, for `docs/keys.md`: the tables come from `bindings`, the rest
  /// from `KeymapGuide`.
  public static var markdown: String {
    var out = KeymapGuide.introduction
    var section = ""
    for binding in bindings + GraphKeymap.bindings {
      if binding.section != section {
        section = binding.section
        out += "\n## \(section)\n\n| Keys | Action |\n|---|---|\n"
      }
      out += "| `\(binding.label)` | \(binding.help) |\n"
    }
    out += "\n## Everywhere\n\n| | |\n|---|---|\n"
    for (name, text) in overlayNotes { out += "| \(name) | \(text) |\n" }
    out += KeymapGuide.details + KeymapGuide.valuesDetails
    out += FolderGuide.markdown
    out += DiffModel.markdown
    return out
  }
}
