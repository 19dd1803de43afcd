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
      dcp_to_torch_save writes holds them, assembled from their chunks. A Hugging Face \
      sharded checkpoint (its folder, its X.index.json, or the index's URL or s3:// key) \
      prints from the shard its index names for KEY: only that shard is opened, and \
      remotely only its header and the printed elements are fetched.

      With several keys or --only, each tensor follows a `KEY:` line, with a blank line \
      between tensors.

      Examples:
        ptview cat model.pt fc.bias
        ptview cat model.pt --only 'encoder.*.bias'
        ptview cat ./dcp-step-100/ model.fc.weight   # a DCP folder
        ptview cat ./llama/model.safetensors.index.json lm_head.weight

      Exit codes: 0 printed; 1 a key names no tensor, or a tensor ptview cannot print (nested \
      tensors, packed quint4x2/quint2x4, dtypes torch cannot print, tensor \
      subclasses): one line \
      each on stderr, after printing the others; 2 the input is unreadable; 64 usage errors.
      """)

  @ArgumentParser.Argument(
    help: "The checkpoint: a file, a folder, an index or URL.", completion: .file())
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
    if let sharded = ShardedCat.open(file) {
      Glibc.exit(printSharded(sharded) ? 1 : 0)
    }
    let (checkpoint, source) = try Loading.values(file)
    let reader = TensorValues(checkpoint: checkpoint, source: source)
    var byKey: [String: TensorInfo] = [:]
    for entry in checkpoint.entries where byKey[entry.key] == nil {
      byKey[entry.key] = entry.tensor
    }
    let (chosen, missed) = choose(from: checkpoint.entries.map(\.key), has: { byKey[$0] != nil })
    var failed = missed
    var printed = 0
    for key in chosen {
      guard let tensor = byKey[key] else { continue }
      if !show(key, tensor, reader, printed: &printed) { failed = true }
    }
    Glibc.exit(failed ? 1 : 0)
  }

  /// Prints the keys of a sharded checkpoint, opening each shard that holds one when its
  /// first key comes (and only those). True when something failed (said on stderr).
  func printSharded(_ sharded: ShardedCat) -> Bool {
    let (shardOf, allKeys) = sharded.shardsByKey()
    let (chosen, missed) = choose(from: allKeys, has: { shardOf[$0] != nil })
    var failed = missed
    var opened: [String: (reader: TensorValues, byKey: [String: TensorInfo])] = [:]
    var printed = 0
    for key in chosen {
      guard let shard = shardOf[key], let path = sharded.shardPaths[shard] else { continue }
      if opened[shard] == nil {
        let checkpoint: Checkpoint
        let source: any ByteSource
        do { (checkpoint, source) = try Loading.checkpoint(path) } catch { return true }
        var byKey: [String: TensorInfo] = [:]
        for entry in checkpoint.entries where byKey[entry.key] == nil {
          byKey[entry.key] = entry.tensor
        }
        opened[shard] = (TensorValues(checkpoint: checkpoint, source: source), byKey)
      }
      guard let (reader, byKey) = opened[shard], let tensor = byKey[key] else {
        Diagnostics.stderr(
          "ptview: \(file): the index puts \(key) in \(shard), which does not hold it")
        failed = true
        continue
      }
      if !show(key, tensor, reader, printed: &printed) { failed = true }
    }
    return failed
  }

  /// The keys to print, in order (the named keys, then the --only matches among `keys`),
  /// and whether a key or a pattern named nothing (said on stderr).
  func choose(from keys: [String], has: (String) -> Bool) -> (chosen: [String], missed: Bool) {
    var chosen: [String] = []
    var missed = false
    for key in self.keys {
      if has(key) {
        chosen.append(key)
      } else {
        Diagnostics.stderr("ptview: \(file): \(Self.missing(key, in: keys))")
        missed = true
      }
    }
    if !only.isEmpty {
      let matched = keys.filter { key in only.contains { Glob.matches($0, key) } }
      if matched.isEmpty {
        Diagnostics.stderr(
          "ptview: \(file): no tensor key matches \(only.joined(separator: ", "))")
        missed = true
      }
      var seen = Set(chosen)
      for key in matched where seen.insert(key).inserted { chosen.append(key) }
    }
    return (chosen, missed)
  }

  /// Prints one tensor (after a `KEY:` line when several are printed); false when it cannot
  /// be printed (said on stderr). An unreadable tensor ends the command (exit 2).
  func show(_ key: String, _ tensor: TensorInfo, _ reader: TensorValues, printed: inout Int)
    -> Bool
  {
    let headers = keys.count > 1 || !only.isEmpty
    let text: TensorText
    do { text = try reader.text(of: tensor) } catch { Diagnostics.fail(file, error) }
    switch text {
    case .text(let body):
      Diagnostics.out((printed > 0 ? "\n" : "") + (headers ? key + ":\n" : "") + body + "\n")
      printed += 1
      return true
    case .none(let reason):
      Diagnostics.stderr("ptview: \(file): \(key): cannot print: \(reason)")
      return false
    }
  }

  /// Why `key` names no tensor: a container of tensors, or nothing at all.
  static func missing(_ key: String, in keys: [String]) -> String {
    let inside = keys.filter { $0.hasPrefix(key + ".") }
    if !inside.isEmpty {
      let names = inside.prefix(3).joined(separator: ", ")
      return
        "\(key) holds \(inside.count) tensor\(inside.count == 1 ? "" : "s") (\(names)\(inside.count > 3 ? ", ..." : "")), not one; --only '\(key).*' prints them"
    }
    return "no tensor has the key \(key) (ptview ls lists them)"
  }
}
