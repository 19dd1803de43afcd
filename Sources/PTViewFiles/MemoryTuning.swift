import CSystemShims

/// malloc settings for the command-line process (see `ptv_tune_malloc`): a listing of a big
/// checkpoint page-faults a third less when freed arrays stay in the process.
public enum MemoryTuning {
  /// Applies the settings; call once at start-up.
  public static func apply() { ptv_tune_malloc() }
}
