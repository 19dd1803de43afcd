/// Everything about a tensor that `print(t)` shows besides its values: what `ptview cat` knows
/// from the checkpoint's metadata, described as torch would see the tensor after
/// `torch.load(FILE, map_location="cpu")`.
public struct PrintedTensor: Sendable, Equatable {
  public var dtype: PrintDType
  /// Logical sizes, outermost first; `[]` for a 0-dim tensor. The element accessor is indexed
  /// row-major over this shape, whatever the tensor's strides in the file.
  public var shape: [Int]
  /// The tensor's (or Parameter's) `requires_grad`: adds `requires_grad=True`.
  public var requiresGrad: Bool
  /// Whether the value is an `nn.Parameter`: prefixes `Parameter containing:` and a newline.
  public var isParameter: Bool
  /// `str(t.device)`: `cpu` (no suffix; always the case after `map_location="cpu"`), or e.g.
  /// `meta`, whose tensors have no values and print as `tensor(..., device='meta', ...)`.
  public var device: String
  /// Quantization parameters; required for quantized dtypes, ignored for others.
  public var quantization: Quantization?

  public init(
    dtype: PrintDType, shape: [Int], requiresGrad: Bool = false, isParameter: Bool = false,
    device: String = "cpu", quantization: Quantization? = nil
  ) {
    self.dtype = dtype
    self.shape = shape
    self.requiresGrad = requiresGrad
    self.isParameter = isParameter
    self.device = device
    self.quantization = quantization
  }
}

/// A quantized tensor's parameters, as torch prints them after the values.
public enum Quantization: Sendable, Equatable {
  /// `quantization_scheme=torch.<scheme>, scale=<repr(float)>, zero_point=<int>`.
  case perTensor(scheme: QuantizationScheme, scale: Double, zeroPoint: Int64)
  /// `quantization_scheme=torch.<scheme>, scale=tensor(...), zero_point=tensor(...), axis=<n>`:
  /// the per-channel scales and zero points are printed as tensors of their own (float64 and
  /// int64 for the affine schemes; float32 and float32 for `per_channel_affine_float_qparams`).
  case perChannel(
    scheme: QuantizationScheme, scales: ChannelValues, zeroPoints: ChannelValues, axis: Int)
}

/// torch's `qscheme` names.
public enum QuantizationScheme: String, Sendable, CaseIterable {
  case perTensorAffine = "per_tensor_affine"
  case perChannelAffine = "per_channel_affine"
  case perTensorSymmetric = "per_tensor_symmetric"
  case perChannelSymmetric = "per_channel_symmetric"
  case perChannelAffineFloatQParams = "per_channel_affine_float_qparams"
}

/// A per-channel parameter tensor (1-D): its dtype and its values.
public struct ChannelValues: Sendable, Equatable {
  public var dtype: PrintDType
  public var values: [ElementValue]

  public init(dtype: PrintDType, values: [ElementValue]) {
    self.dtype = dtype
    self.values = values
  }
}
