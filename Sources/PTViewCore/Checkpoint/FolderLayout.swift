/// What a checkpoint folder is and what each of its files is for, from the file names alone.
///
/// Training libraries write folders, not files: Hugging Face sharded weights with an index,
/// the transformers Trainer's `checkpoint-N/` (weights, optimizer, scheduler, RNG state,
/// `trainer_state.json`, a pickled `training_args.bin`), accelerate's `save_state`
/// (`pytorch_model.bin` or `model.safetensors`, `optimizer.bin`, `scheduler.bin`,
/// `random_states_N.pkl`), DeepSpeed's `global_stepN/` (`mp_rank_NN_model_states.pt` and,
/// under ZeRO, one `zero_pp_rank_N_mp_rank_NN_optim_states.pt` per data-parallel rank, beside
/// a `latest` file and the `zero_to_fp32.py` converter). Recognition only names; the shell
/// reads the files it says hold torch pickles.
public struct FolderLayout: Sendable {
  /// One file of the folder.
  public struct File: Sendable, Equatable {
    /// Path relative to the folder (`global_step10/mp_rank_00_model_states.pt` for files in
    /// DeepSpeed's tag folder).
    public var name: String
    /// What it is for, for people.
    public var role: String
    /// How ptview reads it.
    public var reading: Reading
    /// True for the files whose tensors make up the model's state_dict (shards, the weights
    /// file): what a folder remap must write and what the index is checked against.
    public var isWeights: Bool
  }

  /// How a file is read.
  public enum Reading: String, Sendable {
    /// A torch.save file (zip or legacy): its pickles are read, never its tensor bytes.
    case torch
    /// A safetensors file: its header is read, never its data.
    case safetensors
    /// Not a checkpoint (JSON, text, tokenizer files, scripts): listed, copied by a remap.
    case other
  }

  /// The kinds of folder recognised (a Trainer checkpoint run with DeepSpeed is both).
  public var kinds: [String]
  /// Every file, sorted by name.
  public var files: [File]
  /// The index file's name, for sharded weights.
  public var index: String?
  /// Which converter applies where tensors are partitioned (DeepSpeed ZeRO), or nil.
  public var converter: String?

  /// Names the folder from the relative paths of its regular files. `indexShards`: the shard
  /// names the index (if any) lists, which mark those files as weights.
  public static func recognise(_ names: [String], indexShards: [String] = []) -> FolderLayout {
    let sorted = names.sorted()
    var files: [File] = []
    let shardSet = Set(indexShards)
    let index = sorted.first(where: { isIndex($0) })
    var zeroRanks = 0
    var zeroBF16 = false
    var modelStates = 0
    var tag: String?
    for name in sorted {
      let base = name.split(separator: "/").last.map(String.init) ?? name
      var file = File(name: name, role: "other", reading: reading(base), isWeights: false)
      if shardSet.contains(name) {
        file.role = "weights shard"
        file.isWeights = true
      } else if isIndex(base) {
        file.role = "shard index (tensor → shard file)"
      } else if let role = role(base) {
        file.role = role.text
        file.isWeights = role.weights && index == nil
      }
      if base.hasSuffix("_model_states.pt") && base.hasPrefix("mp_rank_") {
        modelStates += 1
        if name.contains("/") { tag = String(name.prefix(while: { $0 != "/" })) }
      }
      if base.contains("zero_pp_rank_") && base.hasSuffix("_optim_states.pt") {
        zeroRanks += 1
        zeroBF16 = zeroBF16 || base.hasPrefix("bf16_")
      }
      files.append(file)
    }
    var kinds: [String] = []
    let has = { (n: String) in sorted.contains(n) }
    if let index {
      let count = indexShards.count
      let ext =
        indexShards.first.map { $0.hasSuffix(".safetensors") ? ".safetensors" : ".bin" } ?? ""
      kinds.append("Hugging Face sharded model (\(count) \(ext) shards, index \(index))")
    } else if has("pytorch_model.bin") || has("model.safetensors") {
      kinds.append("Hugging Face model (one weights file)")
    }
    if has("trainer_state.json") || has("training_args.bin") {
      kinds.append("transformers Trainer checkpoint")
    } else if sorted.contains(where: { $0.hasPrefix("random_states_") && $0.hasSuffix(".pkl") })
      || has("optimizer.bin")
    {
      kinds.append("accelerate save_state folder")
    }
    var converter: String?
    if modelStates > 0 || zeroRanks > 0 || has("zero_to_fp32.py") {
      let place = tag.map { " in \($0)/" } ?? ""
      if zeroRanks > 0 {
        kinds.append(
          "DeepSpeed checkpoint\(place) (ZeRO: optimizer partitioned over \(zeroRanks) data-parallel rank\(zeroRanks == 1 ? "" : "s")\(zeroBF16 ? ", bf16" : ""))"
        )
        converter =
          "the fp32 weights are partitioned over the zero_pp_rank_* files: `python zero_to_fp32.py FOLDER OUT` (the script DeepSpeed saves beside them) or deepspeed.utils.zero_to_fp32.get_fp32_state_dict_from_zero_checkpoint(FOLDER) assembles them; mp_rank_*_model_states.pt holds the module's own (possibly half-precision or, under ZeRO-3, empty) tensors"
      } else {
        kinds.append("DeepSpeed checkpoint\(place) (no ZeRO partitions: module weights are whole)")
      }
      for i in files.indices {
        let base = files[i].name.split(separator: "/").last.map(String.init) ?? files[i].name
        if base.hasPrefix("mp_rank_") && base.hasSuffix("_model_states.pt") {
          files[i].isWeights = true
        }
      }
    }
    if kinds.isEmpty { kinds.append("folder") }
    return FolderLayout(kinds: kinds, files: files, index: index, converter: converter)
  }

  /// Whether `name` looks like a Hugging Face shard index.
  public static func isIndex(_ name: String) -> Bool { name.hasSuffix(".index.json") }

  /// How a file with this base name is read.
  static func reading(_ base: String) -> Reading {
    if base.hasSuffix(".safetensors") { return .safetensors }
    for ext in [".bin", ".pt", ".pth", ".ckpt", ".pkl", ".tar"] where base.hasSuffix(ext) {
      return .torch
    }
    return .other
  }

  /// The role of a file by its base name, and whether it holds model weights.
  static func role(_ base: String) -> (text: String, weights: Bool)? {
    func matches(_ prefix: String, _ suffix: String) -> Bool {
      base.hasPrefix(prefix) && base.hasSuffix(suffix) && base.count >= prefix.count + suffix.count
    }
    switch base {
    case "pytorch_model.bin", "model.safetensors": return ("model weights", true)
    case "adapter_model.bin", "adapter_model.safetensors": return ("PEFT adapter weights", true)
    case "config.json": return ("model config", false)
    case "adapter_config.json": return ("PEFT adapter config", false)
    case "generation_config.json": return ("generation config", false)
    case "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json",
      "vocab.txt", "merges.txt", "spiece.model", "tokenizer.model", "added_tokens.json",
      "sentencepiece.bpe.model", "chat_template.jinja":
      return ("tokenizer", false)
    case "preprocessor_config.json", "processor_config.json": return ("processor config", false)
    case "optimizer.pt", "optimizer.bin": return ("optimizer state", false)
    case "scheduler.pt", "scheduler.bin": return ("LR scheduler state", false)
    case "scaler.pt": return ("AMP gradient scaler state", false)
    case "rng_state.pth": return ("RNG state", false)
    case "trainer_state.json": return ("Trainer state (step, log history)", false)
    case "training_args.bin":
      return ("TrainingArguments (a pickled object: needs weights_only=False)", false)
    case "latest": return ("DeepSpeed: tag of the latest checkpoint", false)
    case "zero_to_fp32.py": return ("DeepSpeed's converter script (ZeRO → fp32 state_dict)", false)
    case "README.md": return ("model card", false)
    default: break
    }
    if matches("pytorch_model-", ".bin") || matches("model-", ".safetensors") {
      return ("model weights", true)
    }
    if matches("rng_state_", ".pth") { return ("RNG state (one process)", false) }
    if matches("random_states_", ".pkl") { return ("RNG state (accelerate, one process)", false) }
    if matches("optimizer_", ".bin") { return ("optimizer state", false) }
    if matches("scheduler_", ".bin") { return ("LR scheduler state", false) }
    if matches("pytorch_model_", ".bin") || matches("model_", ".safetensors") {
      return ("model weights (accelerate, one model)", true)
    }
    if matches("mp_rank_", "_model_states.pt") {
      return ("DeepSpeed model states (module, buffers, scheduler, config)", true)
    }
    if base.contains("zero_pp_rank_") && base.hasSuffix("_optim_states.pt") {
      return ("DeepSpeed ZeRO optimizer partition (one data-parallel rank)", false)
    }
    return nil
  }
}
