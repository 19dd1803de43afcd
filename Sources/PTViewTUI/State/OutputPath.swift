import PTViewCore

/// The path the write prompt offers: `<stem>.<target><ext>` beside the input.
///
/// `model.pt` -> `model.cpu.pt`, `pytorch_model.bin` -> `pytorch_model.cpu.bin`,
/// `dir/ckpt` -> `dir/ckpt.cpu`. Device tags lose their colon (`cuda:0` -> `cuda0`), so the
/// name is safe everywhere; edits to several devices give `remapped`.
public enum OutputPath {
  /// The suggestion for `input` when the staged edits go to `targets`.
  public static func suggest(input given: String, targets: Set<String>) -> String {
    // A URL has no folder here: the suggestion goes into the current one.
    let input = LocalName.of(given)
    let tag: String
    if targets.count == 1, let only = targets.first {
      tag = String(only.filter { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" })
    } else {
      tag = "remapped"
    }
    let slash = input.lastIndex(of: "/")
    let folder = slash.map { String(input[...$0]) } ?? ""
    let name = slash.map { String(input[input.index(after: $0)...]) } ?? input
    // A leading dot is part of the stem (`.hidden`), not an extension.
    if let dot = name.lastIndex(of: "."), dot != name.startIndex {
      return folder + name[..<dot] + "." + tag + name[dot...]
    }
    return folder + name + "." + (tag.isEmpty ? "out" : tag)
  }
}
