import ArgumentParser
import PTViewCore
import PTViewFiles

#if canImport(Glibc)
  import Glibc
#endif

/// `ptview cat`: a tensor's values, printed as `print(t)` prints them in PyTorch.
struct Cat: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "cat",
    abstract: "Print tensors exactly as print(t) does in PyTorch.",
    discussion: """
      Prints the tensor at KEY (the dotted key `ptview ls` shows) character for character as \
      PyTorch's print(t) does with its default print options, for the tensor \
      torch.load(FILE, map_location="cpu") returns: the same summary past 1,000 elements, \
      precision, alignment and wrapping, `dtype=`, `Parameter containing:` and quantization \
      suffixes. Sparse tensors (COO, CSR, CSC, BSR, BSC) print as torch prints them: their \
      index and value tensors, size, nnz and layout. Only the elements the print shows are \
      read, so a huge tensor costs a few hundred small reads.

      A torch.distributed.checkpoint folder prints its tensors as the file \
      dcp_to_torch_save writes holds them, assembled from their chunks.

      With several keys or --only, each tensor follows a `KEY:` line, with a blank line \
      between tensors.

      Examples:
        ptview cat model.pt fc.bias
        ptview cat model.pt --only 'encoder.*.bias'
        ptview cat ./dcp-step-100/ model.fc.weight   # a DCP folder

      Exit codes: 0 printed; 1 a key names no tensor, or a tensor ptview cannot print (nested \
      tensors, packed quint4x2/quint2x4, dtypes torch cannot print, tensor \
      subclasses): one line \
      each on stderr, after printing the others; 2 the input is unreadable; 64 usage errors.
      """)

  @ArgumentParser.Argument(help: "The checkpoint file or DCP folder.", completion: .file())
  var file: String
  @ArgumentParser.Argument(help: "Dotted keys of tensors, as `ptview ls` prints them.")
  var keys: [String] = []
  @Option(help: "Also every tensor whose key matches GLOB (`*` crosses dots; repeatable).")
  var only: [String] = []

  func validate() throws {
    if keys.isEmpty && only.isEmpty {
      throw ValidationError("name a tensor: ptview cat FILE KEY (ptview ls FILE lists them)")
    }
  }

  @OptionGroup var remote: RemoteOptions

  func run() throws {
    let (checkpoint, source) = try Loading.values(file)
    let reader = TensorValues(checkpoint: checkpoint, source: source)
    var byKey: [String: TensorInfo] = [:]
    for entry in checkpoint.entries where byKey[entry.key] == nil {
      byKey[entry.key] = entry.tensor
    }
    var chosen: [String] = []
    var failed = false
    for key in keys {
      if byKey[key] != nil {
        chosen.append(key)
      } else {
        Diagnostics.stderr("ptview: \(file): \(Self.missing(key, in: checkpoint.entries))")
        failed = true
      }
    }
    if !only.isEmpty {
      let matched = checkpoint.entries.map(\.key).filter { key in
        only.contains { Glob.matches($0, key) }
      }
      if matched.isEmpty {
        Diagnostics.stderr(
          "ptview: \(file): no tensor key matches \(only.joined(separator: ", "))")
        failed = true
      }
      var seen = Set(chosen)
      for key in matched where seen.insert(key).inserted { chosen.append(key) }
    }
    let headers = keys.count > 1 || !only.isEmpty
    var printed = 0
    for key in chosen {
      guard let tensor = byKey[key] else { continue }
      let text: TensorText
      do { text = try reader.text(of: tensor) } catch { Diagnostics.fail(file, error) }
      switch text {
      case .text(let body):
        Diagnostics.out((printed > 0 ? "\n" : "") + (headers ? key + ":\n" : "") + body + "\n")
        printed += 1
      case .none(let reason):
        Diagnostics.stderr("ptview: \(file): \(key): cannot print: \(reason)")
        failed = true
      }
    }
    Glibc.exit(failed ? 1 : 0)
  }

  /// Why `key` names no tensor: a container of tensors, or nothing at all.
  static func missing(_ key: String, in entries: [TensorEntry]) -> String {
    let inside = entries.filter { $0.key.hasPrefix(key + ".") }
    if !inside.isEmpty {
      let names = inside.prefix(3).map(\.key).joined(separator: ", ")
      return
        "\(key) holds \(inside.count) tensor\(inside.count == 1 ? "" : "s") (\(names)\(inside.count > 3 ? ", ..." : "")), not one; --only '\(key).*' prints them"
    }
    return "no tensor has the key \(key) (ptview ls lists them)"
  }
}
