import PTViewCore
import PTViewEdit
import PTViewPickle

/// A `ptview edit` command that rewrites a file a plain `torch.load` refuses into one it
/// loads: the weights alone, as a flat state_dict.
public struct EditFix: Sendable, Equatable {
  /// The command line, shell-quoted.
  public var command: String
  /// The command's arguments after `ptview`, unquoted.
  public var arguments: [String]
  /// The file it writes.
  public var output: String
  /// What the written file holds, for people.
  public var contains: String
}

/// Decides which `ptview edit` commands turn a file that needs code or trust into a
/// weights-only-loadable state_dict. It asks the edit planner itself, so a command is
/// suggested only when `ptview edit` would carry it out, and checks that every global the
/// planned output still pickles is on torch's default allowlist.
enum EditAdvisor {
  /// The commands, and a note when the file holds several sets of weights.
  static func fixes(_ checkpoint: Checkpoint, path: String, toCPU: Bool) -> (
    fixes: [EditFix], note: String?
  ) {
    let move: [EditOperation] =
      toCPU ? [.moveDevices(DeviceRules(defaultTarget: "cpu"), only: .all)] : []
    let candidates = EditPlanner.stateDictCandidates(checkpoint)
    if candidates.count <= 1 {
      guard let fix = fix(checkpoint, path: path, entry: candidates.first, extract: false, move)
      else { return ([], nil) }
      return ([fix], nil)
    }
    let fixes = candidates.compactMap {
      fix(checkpoint, path: path, entry: $0, extract: true, move)
    }
    guard !fixes.isEmpty else { return ([], nil) }
    let names = candidates.map { "'\($0)'" }.joined(separator: ", ")
    return (
      fixes,
      "several entries hold weights (\(names)): --state-dict alone refuses to choose, so each is offered with --extract; pick the one the model uses"
    )
  }

  private static func fix(
    _ checkpoint: Checkpoint, path: String, entry: String?, extract: Bool,
    _ move: [EditOperation]
  ) -> EditFix? {
    var operations: [EditOperation] = []
    if extract, let entry { operations.append(.extract(entry)) }
    operations.append(.stateDict)
    operations += move
    guard let plan = try? EditPlanner.plan(checkpoint, operations), clean(plan, checkpoint),
      plan.outputKeys?.isEmpty == false
    else { return nil }
    let output = outputName(path, tag: extract ? entry ?? "state_dict" : "state_dict")
    var arguments = ["edit", path, "-o", output]
    if extract, let entry { arguments += ["--extract", entry] }
    arguments.append("--state-dict")
    if !move.isEmpty { arguments += ["--to", "cpu"] }
    return EditFix(
      command: (["ptview"] + arguments).map(shellQuoted).joined(separator: " "),
      arguments: arguments, output: output,
      contains: describe(plan, checkpoint, entry: entry, toCPU: !move.isEmpty))
  }

  /// True when every global the planned output pickles is on torch's default allowlist, so a
  /// plain `torch.load` of the written file needs neither code nor trust.
  private static func clean(_ plan: EditPlan, _ checkpoint: Checkpoint) -> Bool {
    let result = GraphEditor.edit(plan.edits, checkpoint)
    guard let root = result.root else { return false }
    let graph = result.graph
    var visited = Set<ValueID>()
    var work = [root]
    while let node = work.popLast() {
      guard visited.insert(node).inserted else { continue }
      if let name = graph.globalName(node), !SafetyPolicy.torchWeightsOnly.contains(name) {
        return false
      }
      work.append(contentsOf: graph.children(of: node))
    }
    return true
  }

  /// "the state_dict, not the module: ...", "the weights under 'model' only: epoch, args are
  /// left out".
  private static func describe(
    _ plan: EditPlan, _ checkpoint: Checkpoint, entry: String?, toCPU: Bool
  ) -> String {
    let count = plan.outputKeys?.count ?? 0
    var what = plan.root ?? "the weights"
    // The entry is named once, below.
    if let entry { what = what.replacingAll(" under '\(entry)'", with: "") }
    var text: String
    if what.hasPrefix("state_dict() of the pickled") {
      text = "the state_dict, not the module: \(what)"
    } else if what.contains("TorchScript") {
      text = "the state_dict, not the scripted module (no code): \(what)"
    } else {
      text = "the state_dict: \(count) tensors"
    }
    if let entry, let root = checkpoint.root, let items = checkpoint.graph.dictItems(root) {
      let others = items.map { checkpoint.graph.keyText($0.key) }.filter { $0 != entry }
      text += "; the weights under '\(entry)' only"
      if !others.isEmpty {
        let shown = others.prefix(8).joined(separator: ", ") + (others.count > 8 ? ", …" : "")
        text += ": \(shown) \(others.count == 1 ? "is" : "are") left out"
      }
    }
    if toCPU { text += "; every storage moved to cpu" }
    return text
  }

  /// `dir/name.<tag>.pt` beside the input.
  static func outputName(_ input: String, tag: String) -> String {
    let path = LocalName.of(input)
    let slash = path.lastIndex(of: "/")
    let nameStart = slash.map { path.index(after: $0) } ?? path.startIndex
    let name = path[nameStart...]
    var stem = path
    if let dot = name.lastIndex(of: "."), dot != name.startIndex { stem = String(path[..<dot]) }
    let safeTag = String(
      tag.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" ? $0 : "_" })
    return stem + "." + safeTag + ".pt"
  }
}
