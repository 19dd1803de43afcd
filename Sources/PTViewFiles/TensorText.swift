public import PTViewCore
import PTViewValues

/// What `print(t)` would write for a tensor, or why ptview cannot say.
public enum TensorText: Sendable, Equatable {
  /// `str(t)` for the tensor `torch.load(FILE, map_location="cpu")` returns.
  case text(String)
  /// The tensor cannot be printed here, and why (a nested tensor, a dtype torch cannot print).
  case none(String)
}

extension TensorValues {
  /// `str(t)` for `tensor` as `torch.load(FILE, map_location="cpu")` returns it, reading only
  /// the elements the print shows: all of a tensor of up to 1,000 elements, and the edge
  /// elements (a few hundred at most, in short runs) of a summarised one.
  /// - Throws: `CheckpointError` naming the record and byte offset when values that should be
  ///   in the file are not (as `locate` and `values(of:from:count:)`).
  public func text(of tensor: TensorInfo) throws(CheckpointError) -> TensorText {
    if let subclass = subclassName(of: tensor) {
      return .none("an instance of \(subclass), a tensor subclass torch prints its own way")
    }
    if let name = tensor.layout {
      guard let layout = SparseLayout(rawValue: name) else {
        return .none("a \(name) tensor; ptview prints strided and sparse tensors only")
      }
      return try sparseText(of: tensor, layout: layout)
    }
    let name = tensor.dtype.name
    guard let dtype = PrintDType(torchName: name) else {
      return .none("torch cannot print \(name) tensors (it has no element formatting for them)")
    }
    guard let shape = printableShape(tensor.shape) else {
      return .none("its shape \(tensor.shape) has no element count (negative or overflowing)")
    }
    // A meta tensor stays on `meta` whatever map_location says: torch prints its size only.
    if tensor.storage == nil && tensor.device == "meta" {
      let printed = PrintedTensor(
        dtype: dtype, shape: shape, requiresGrad: tensor.requiresGrad,
        isParameter: tensor.isParameter, device: "meta")
      return .text(TensorPrinter.string(printed) { _ in ElementValue.bool(false) })
    }
    // torch prints float4_e2m1fn_x2 as its raw bytes, so read them as bytes.
    var source = tensor
    if name == "float4_e2m1fn_x2", let byte = DType.named("uint8") { source.dtype = byte }
    let stored: StoredTensor
    switch try locate(source) {
    case .stored(let found): stored = found
    case .none(let reason): return .none(reason)
    }
    var quantization: Quantization?
    if dtype.kind == .quantized {
      switch try printedQuantization(of: tensor) {
      case .success(let found): quantization = found
      case .failure(let reason): return .none(reason.description)
      }
    }
    let printed = PrintedTensor(
      dtype: dtype, shape: shape, requiresGrad: tensor.requiresGrad,
      isParameter: tensor.isParameter, device: "cpu", quantization: quantization)
    var window = ShownWindow(count: Int(stored.layout.count ?? 0))
    let text = try TensorPrinter.string(printed) { (index: Int) throws(CheckpointError) in
      try window.element(index) { (from: Int, count: Int) throws(CheckpointError) in
        try values(of: stored, from: Int64(from), count: count)
      }
    }
    return .text(text)
  }

  /// `str(t)` of a sparse tensor: its component tensors (indices and values) each printed in
  /// full or summarised on its own terms, as torch does, reading only what shows.
  private func sparseText(of tensor: TensorInfo, layout: SparseLayout) throws(CheckpointError)
    -> TensorText
  {
    let names = layout.componentNames
    guard tensor.components.count == names.count, tensor.components.allSatisfy({ $0.layout == nil })
    else {
      return .none("a \(layout.rawValue) tensor without its \(names.joined(separator: ", "))")
    }
    guard let shape = printableShape(tensor.shape) else {
      return .none("its shape \(tensor.shape) has no element count (negative or overflowing)")
    }
    var printed: [PrintedTensor] = []
    var stored: [StoredTensor] = []
    for (name, component) in zip(names, tensor.components) {
      guard let dtype = PrintDType(torchName: component.dtype.name), dtype.kind != .quantized,
        component.dtype.name != "float4_e2m1fn_x2"
      else { return .none("torch cannot print its \(name) (\(component.dtype.name))") }
      guard let componentShape = printableShape(component.shape) else {
        return .none("its \(name) shape \(component.shape) has no element count")
      }
      switch try locate(component) {
      case .stored(let found): stored.append(found)
      case .none(let reason): return .none("its \(name): \(reason)")
      }
      printed.append(PrintedTensor(dtype: dtype, shape: componentShape))
    }
    let sparse = PrintedSparseTensor(
      layout: layout, shape: shape, components: printed, requiresGrad: tensor.requiresGrad,
      isParameter: tensor.isParameter)
    var windows = stored.map { ShownWindow(count: Int($0.layout.count ?? 0)) }
    let text = try TensorPrinter.sparseString(sparse) {
      (component: Int, index: Int) throws(CheckpointError) in
      try windows[component].element(index) { (from: Int, count: Int) throws(CheckpointError) in
        try values(of: stored[component], from: Int64(from), count: count)
      }
    }
    return .text(text)
  }

  /// `shape` as the printer takes it; nil for sizes no tensor can have (negative, or more
  /// elements than an `Int` counts), which a hostile file may claim and the printer traps on.
  private func printableShape(_ shape: [Int64]) -> [Int]? {
    var elements = 1
    for size in shape {
      guard size >= 0, size <= Int64(Int.max) else { return nil }
      let (product, overflow) = elements.multipliedReportingOverflow(by: Int(size))
      guard !overflow else { return nil }
      elements = product
    }
    return shape.map { Int($0) }
  }

  /// The class of a tensor rebuilt by `_rebuild_from_type_v2` as something other than a plain
  /// tensor or Parameter (torch prints those with their class name, or their own `__repr__`).
  private func subclassName(of tensor: TensorInfo) -> String? {
    let graph = checkpoint.graph
    guard let node = tensor.node, let callee = graph.calleeName(node),
      callee == "torch._tensor._rebuild_from_type_v2"
        || callee == "torch._tensor._rebuild_from_type",
      let args = graph.callArguments(node), args.count >= 2
    else { return nil }
    let name = graph.globalName(args[1]) ?? "an unnamed class"
    let plain = ["torch.Tensor", "torch._tensor.Tensor", "torch.nn.parameter.Parameter"]
    return plain.contains(name) ? nil : name
  }

  /// The quantization parameters torch prints after a quantized tensor's values.
  private func printedQuantization(of tensor: TensorInfo) throws(CheckpointError) -> Result<
    Quantization, TextReason
  > {
    guard let quantizer = tensor.quantizer else {
      return .failure(TextReason("\(tensor.dtype.name) without a quantizer"))
    }
    if !quantizer.isPerChannel {
      guard let scale = quantizer.scale, let zeroPoint = quantizer.zeroPoint,
        let scheme = QuantizationScheme(rawValue: quantizer.scheme)
      else { return .failure(TextReason("quantizer \(quantizer.scheme) without its parameters")) }
      return .success(.perTensor(scheme: scheme, scale: scale, zeroPoint: zeroPoint))
    }
    guard tensor.components.count >= 2, let axis = quantizer.axis else {
      return .failure(TextReason("per-channel quantizer without scales, zero points or axis"))
    }
    var parameters: [[ElementValue]] = []
    for component in tensor.components.prefix(2) {
      guard case .stored(let stored) = try locate(component), let count = stored.layout.count,
        count <= 1 << 20
      else { return .failure(TextReason("per-channel quantizer parameters are not stored")) }
      parameters.append(try values(of: stored, from: 0, count: Int(count)))
    }
    // torch pickles every per-channel scheme as per_channel_affine; float zero points are
    // what makes the loaded tensor's scheme per_channel_affine_float_qparams, whose scales
    // and zero points are float32 tensors (float64 and int64 otherwise).
    let floatParameters = tensor.components[1].dtype.name.hasPrefix("float")
    let scheme: QuantizationScheme
    if floatParameters {
      scheme = .perChannelAffineFloatQParams
    } else if let named = QuantizationScheme(rawValue: quantizer.scheme) {
      scheme = named
    } else {
      return .failure(TextReason("unknown quantization scheme \(quantizer.scheme)"))
    }
    guard let float32 = PrintDType(torchName: "float32"),
      let float64 = PrintDType(torchName: "float64"), let int64 = PrintDType(torchName: "int64")
    else { return .failure(TextReason("no print dtypes")) }
    let scales: ChannelValues
    let zeroPoints: ChannelValues
    if floatParameters {
      scales = ChannelValues(
        dtype: float32, values: parameters[0].map { .float(Double(Float($0.real))) })
      zeroPoints = ChannelValues(
        dtype: float32, values: parameters[1].map { .float(Double(Float($0.real))) })
    } else {
      scales = ChannelValues(dtype: float64, values: parameters[0].map { .float($0.real) })
      zeroPoints = ChannelValues(dtype: int64, values: parameters[1].map { .int($0.integer) })
    }
    return .success(
      .perChannel(scheme: scheme, scales: scales, zeroPoints: zeroPoints, axis: Int(axis)))
  }
}

/// Why a tensor has no text (a `Result` failure).
private struct TextReason: Error, CustomStringConvertible {
  var description: String
  init(_ text: String) { description = text }
}

/// The printer asks for elements in ascending order, in short runs (3 edge items, or a whole
/// last dimension of up to 6 when summarising; everything otherwise): reading a small window
/// ahead of each miss serves a run with one read, without reading what is never shown.
struct ShownWindow {
  /// Elements in the tensor.
  let count: Int
  /// Elements read per miss when the print summarises.
  static let ahead = 6
  private var start = 0
  private var values: [ElementValue] = []

  init(count: Int) { self.count = count }

  /// Element `index`, reading from `read(from, count)` when it is not in the window.
  mutating func element<Failure: Error>(
    _ index: Int, read: (Int, Int) throws(Failure) -> [ElementValue]
  ) throws(Failure) -> ElementValue {
    if index < start || index >= start + values.count {
      // Up to 1,000 elements the print shows them all: one read.
      let wanted = count <= 1000 ? count - index : min(Self.ahead, count - index)
      values = try read(index, wanted)
      start = index
    }
    let offset = index - start
    guard offset < values.count else { return .float(.nan) }
    return values[offset]
  }
}
