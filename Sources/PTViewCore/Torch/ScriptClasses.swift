/// What a TorchScript archive's `code/` says about each scripted class: whether it is a
/// module, and which of its attributes are parameters and buffers.
///
/// The pickle alone cannot tell: a module's state is a flat dict of attributes, and a plain
/// tensor attribute (`self.scale = torch.ones(3)`) looks exactly like a parameter there.
/// `torch.jit.load(f).state_dict()` takes the parameters (in attribute order), then the
/// buffers, then each submodule's, from the class declarations torch prints into the code:
///
///     class Linear(Module):
///       __parameters__ = ["weight", "bias", ]
///       __buffers__ = []
public struct ScriptClass: Sendable, Equatable {
  /// Declared with `Module` as its base: its module-typed attributes are children.
  public var isModule: Bool
  /// Names in `__parameters__`.
  public var parameters: [String]
  /// Names in `__buffers__`.
  public var buffers: [String]

  /// Creates a declaration.
  public init(isModule: Bool, parameters: [String] = [], buffers: [String] = []) {
    self.isModule = isModule
    self.parameters = parameters
    self.buffers = buffers
  }
}

/// Reads `ScriptClass` declarations out of TorchScript source.
public enum ScriptClassParser {
  /// The qualified name torch gives the classes of `path` (`code/__torch__/torch/nn/linear.py`
  /// holds `__torch__.torch.nn.linear.*`), relative to the archive's root folder.
  public static func module(ofCodePath path: String) -> String? {
    guard path.hasPrefix("code/"), path.hasSuffix(".py") else { return nil }
    let inner = path.dropFirst("code/".count).dropLast(".py".count)
    guard !inner.isEmpty else { return nil }
    return inner.split(separator: "/", omittingEmptySubsequences: false).joined(separator: ".")
  }

  /// The classes `text` declares at its top level, by qualified name (`module.Name`).
  /// Anything it does not understand is skipped: the caller falls back to the pickle alone.
  public static func parse(_ text: String, module: String) -> [String: ScriptClass] {
    var out: [String: ScriptClass] = [:]
    var current: (name: String, declaration: ScriptClass)?
    var pending: (field: Substring, text: String)?
    // The class body's own indentation: deeper lines are method bodies.
    var bodyIndent: Int?
    func close() {
      if let c = current { out[module + "." + c.name] = c.declaration }
      current = nil
    }
    for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
      let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
      if var open = pending {
        // A list that continues on the next lines (torch prints one line; be lenient).
        open.text += " " + line
        pending = open
        if line.contains("]") {
          assign(open.field, names(in: open.text), to: &current)
          pending = nil
        }
        continue
      }
      if line.hasPrefix("class ") {
        close()
        current = classHeader(line)
        bodyIndent = nil
        continue
      }
      guard current != nil, line.first == " " || line.first == "\t" else {
        if !line.allSatisfy({ $0 == " " || $0 == "\t" }) && !line.hasPrefix("#") { close() }
        continue
      }
      let body = line.drop { $0 == " " || $0 == "\t" }
      if body.isEmpty { continue }
      let indent = line.count - body.count
      if bodyIndent == nil { bodyIndent = indent }
      guard indent == bodyIndent else { continue }
      for field in ["__parameters__", "__buffers__"] where body.hasPrefix(field) {
        let rest = body.dropFirst(field.count).drop { $0 == " " }
        guard rest.hasPrefix("=") else { continue }
        let list = String(rest.dropFirst())
        if list.contains("]") {
          assign(Substring(field), names(in: list), to: &current)
        } else {
          pending = (Substring(field), list)
        }
      }
    }
    close()
    return out
  }

  /// `class Name(Base):` -> the class, a module when its base is `Module`.
  private static func classHeader(_ line: Substring) -> (String, ScriptClass)? {
    let rest = line.dropFirst("class ".count)
    let name = rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
    guard !name.isEmpty else { return nil }
    var bases = ""
    if let open = rest.firstIndex(of: "("), let shut = rest[open...].firstIndex(of: ")") {
      bases = String(rest[rest.index(after: open)..<shut])
    }
    let isModule = bases.split(separator: ",").contains { $0.filter { $0 != " " } == "Module" }
    return (String(name), ScriptClass(isModule: isModule))
  }

  private static func assign(
    _ field: Substring, _ names: [String],
    to current: inout (name: String, declaration: ScriptClass)?
  ) {
    guard current != nil else { return }
    if field == "__parameters__" {
      current!.declaration.parameters = names
    } else {
      current!.declaration.buffers = names
    }
  }

  /// The string literals of `["a", "b", ]`.
  private static func names(in list: String) -> [String] {
    var out: [String] = []
    var inside: Character?
    var current = ""
    var escaped = false
    for ch in list {
      if let quote = inside {
        if escaped {
          current.append(ch)
          escaped = false
        } else if ch == "\\" {
          escaped = true
        } else if ch == quote {
          out.append(current)
          current = ""
          inside = nil
        } else {
          current.append(ch)
        }
      } else if ch == "\"" || ch == "'" {
        inside = ch
      } else if ch == "]" {
        break
      }
    }
    return out
  }
}
