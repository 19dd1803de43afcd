/// The sparse layouts torch saves and prints: COO with its indices and values, and the four
/// compressed layouts with their compressed indices, plain indices and values.
public enum SparseLayout: String, Sendable, CaseIterable {
  case coo = "sparse_coo"
  case csr = "sparse_csr"
  case csc = "sparse_csc"
  case bsr = "sparse_bsr"
  case bsc = "sparse_bsc"

  /// The names torch prints its component tensors under, in the order the pickle stores them
  /// (`_reduce_ex_internal`) and `str(t)` prints them.
  public var componentNames: [String] {
    switch self {
    case .coo: ["indices", "values"]
    case .csr, .bsr: ["crow_indices", "col_indices", "values"]
    case .csc, .bsc: ["ccol_indices", "row_indices", "values"]
    }
  }
}

/// What `print(t)` shows of a sparse tensor besides its component tensors' values.
public struct PrintedSparseTensor: Sendable, Equatable {
  public var layout: SparseLayout
  /// The sparse tensor's own size (`size=` in the suffix).
  public var shape: [Int]
  /// The component tensors (dtype and logical shape), as `layout.componentNames` names them;
  /// the last one holds the values, whose dtype is the sparse tensor's.
  public var components: [PrintedTensor]
  public var requiresGrad: Bool
  public var isParameter: Bool

  public init(
    layout: SparseLayout, shape: [Int], components: [PrintedTensor], requiresGrad: Bool = false,
    isParameter: Bool = false
  ) {
    self.layout = layout
    self.shape = shape
    self.components = components
    self.requiresGrad = requiresGrad
    self.isParameter = isParameter
  }

  /// torch's `_nnz()`: the values' first size for COO, the plain indices' last size for the
  /// compressed layouts (batched ones keep a batch dimension in front).
  public var nnz: Int {
    let counted =
      layout == .coo ? components.last?.shape.first : components.dropLast().last?.shape.last
    return counted ?? 0
  }
}

extension TensorPrinter {
  /// The text `print(t)` writes for a sparse tensor on the CPU (torch's `_str_intern` for
  /// sparse layouts): each component as `name=tensor(<values>)` on a line of its own, the
  /// component's values formatted on their own terms (no dtype of their own), an empty one
  /// followed by its size; then `size`, `nnz`, a dtype other than the default ones, `layout`
  /// and `requires_grad` as suffixes, the first on a new line for COO.
  ///
  /// `element(c, i)` returns element `i` (row-major over `components[c].shape`) of component
  /// `c`, asked for as `string(_:element:)` asks, one component after another. The components'
  /// element counts must fit in an `Int`, as there.
  public static func sparseString<Failure: Error>(
    _ tensor: PrintedSparseTensor, element: (Int, Int) throws(Failure) -> ElementValue
  ) throws(Failure) -> String {
    let prefix = "tensor("
    let indent = prefix.utf8.count
    var parts: [String] = []
    for (index, (name, component)) in zip(tensor.layout.componentNames, tensor.components)
      .enumerated()
    {
      let label = name + "=tensor("
      let count = elementCount(component.shape)
      var body = try values(
        component, count: count, indent: indent + label.utf8.count
      ) { (at: Int) throws(Failure) in try element(index, at) }
      if count == 0 { body += ", size=" + sizeText(component.shape) }
      parts.append(label + body)
    }
    let text =
      prefix + parts.joined(separator: "),\n" + String(repeating: " ", count: indent)) + ")"
    var suffixes = ["size=" + sizeText(tensor.shape), "nnz=" + String(tensor.nnz)]
    if let values = tensor.components.last, !values.dtype.isPrintedWithoutSuffix {
      suffixes.append("dtype=torch." + values.dtype.name)
    }
    suffixes.append("layout=torch." + tensor.layout.rawValue)
    if tensor.requiresGrad { suffixes.append("requires_grad=True") }
    let printed = addSuffixes(
      text, suffixes, indent: indent, forceNewline: tensor.layout == .coo)
    return tensor.isParameter ? "Parameter containing:\n" + printed : printed
  }
}
