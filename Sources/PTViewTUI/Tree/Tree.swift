public import PTViewCore
import PTViewPickle

/// The checkpoint as the explorer shows it: nested dicts and lists, dotted state_dict keys
/// split into the module hierarchy, runs of numbered siblings folded, non-tensor values as
/// leaves.
///
/// It is built once, in time linear in the number of tensors and values, and never changes
/// afterwards: everything that does change (expansion, staged edits, filters) lives in the
/// model as arrays indexed by node id, so a keypress never re-walks the checkpoint.
public struct Tree: Sendable {
  /// What a node is.
  public enum Kind: UInt8, Sendable {
    /// The invisible root (the object `torch.load` returns).
    case root
    /// A dict, list, module or key prefix.
    case group
    /// A folded run of numbered siblings (`layers.0 … layers.23`).
    case run
    /// A tensor (one path of `ptview ls`).
    case tensor
    /// A value that is not a tensor (`epoch = 17`).
    case value
  }

  /// Codes in `devices` and `dtypes` for "no tensor below" and "more than one".
  public static let none: Int32 = -1
  public static let mixed: Int32 = -2

  /// One node.
  public struct Node: Sendable {
    /// What it is.
    public var kind: Kind
    /// Its own key segment (`weight`, `3`, `layers`).
    public var name: String
    /// The text of its row (`layers.0 … layers.23`; a value leaf's name, drawn before ` = value`).
    public var label: String = ""
    /// Dim text after the label: `(24×)`, `nn.Module Net`, a preview of a value container.
    public var suffix: String = ""
    /// Fixed text for a value (safetensors metadata, the "more values" marker); most values
    /// are described from `source` on demand instead, see `Tree.text(of:)`.
    public var value: String = ""
    /// The pickle node a value leaf or container came from (-1 if none): its text is made only
    /// when a row showing it is drawn, so opening a file never formats 100,000 values.
    public var source: Int32 = -1
    /// For a group that is a pickled `nn.Module` shown through its tensors: the module's
    /// object node (-1 otherwise), so findings about the object can be put on its row.
    public var module: Int32 = -1
    /// The parent (-1 for the root).
    public var parent: Int32
    /// Children in file order.
    public var children: [Int32] = []
    /// Indentation level of its row (top-level rows are 0, the root -1).
    public var depth: Int32 = 0
    /// For tensors, the index in `entries`.
    public var entry: Int32 = -1
    /// The dotted path from the root (`model.layers.3.attn.q.weight`); runs have their parent's.
    public var key: String = ""
    /// Tensors below (1 for a tensor).
    public var tensors: Int32 = 0
    /// Their bytes.
    public var bytes: Int64 = 0
    /// Their elements.
    public var elements: Int64 = 0
    /// Index into `Tree.dtypes`, `Tree.none` or `Tree.mixed`.
    public var dtype: Int32 = Tree.none
    /// Index into `Tree.devices`, `Tree.none` or `Tree.mixed`.
    public var device: Int32 = Tree.none
    /// True for a group whose children are all numbered (`layers` of a ModuleList): its row
    /// reads `layers.0 … layers.23`.
    public var indexed = false

    /// Whether the row can be expanded.
    public var isExpandable: Bool { !children.isEmpty }
  }

  /// Every node; node 0 is the root.
  public internal(set) var nodes: [Node]
  /// The tensors, as the reader listed them.
  public internal(set) var entries: [TensorEntry]
  /// For each entry, its node.
  public internal(set) var entryNode: [Int32]
  /// Device names, indexed by the codes in nodes.
  public internal(set) var devices: [String]
  /// Short dtype names, indexed by the codes in nodes.
  public internal(set) var dtypes: [String]
  /// Node ids in depth-first (display) order, root first.
  public internal(set) var preorder: [Int32]
  /// Each node's position in `preorder`.
  public internal(set) var preIndex: [Int32]
  /// Nodes in each subtree, itself included: a subtree is `preorder[preIndex ..< preIndex + size]`.
  public internal(set) var subtreeSize: [Int32]
  /// Entries reading each storage record.
  public internal(set) var storageUsers: [String: [Int32]]
  /// The pickle graph, for describing values on demand.
  let graph: ValueGraph?
  /// Tensors by pickle node, for describing values on demand.
  let tensorsByNode: TensorTable

  /// The text of a value leaf (`17`, `'adamw'`) or the preview of a container
  /// (`{lr: 0.001, …}`), at most about `limit` characters.
  public func text(of id: Int32, limit: Int = 160) -> String {
    let node = nodes[Int(id)]
    if node.source >= 0, let graph {
      return ValueText(graph: graph, tensors: tensorsByNode).inline(
        ValueID(node.source), limit: limit)
    }
    return node.value
  }

  /// Node `id`.
  @inlinable public subscript(id: Int32) -> Node { nodes[Int(id)] }

  /// The node ids in `id`'s subtree, itself first.
  public func subtree(_ id: Int32) -> ArraySlice<Int32> {
    let start = Int(preIndex[Int(id)])
    return preorder[start..<(start + Int(subtreeSize[Int(id)]))]
  }

  /// The index of the first of `ids` (node ids in display order) at or after preorder
  /// position `position`: a binary search, so marks and matches are found without a walk.
  func firstIndex(in ids: [Int32], atOrAfter position: Int32) -> Int {
    var low = 0
    var high = ids.count
    while low < high {
      let mid = (low + high) / 2
      if preIndex[Int(ids[mid])] < position { low = mid + 1 } else { high = mid }
    }
    return low
  }

  /// The tensor entry of a tensor node.
  public func entry(of id: Int32) -> TensorEntry? {
    let e = nodes[Int(id)].entry
    guard e >= 0, Int(e) < entries.count else { return nil }
    return entries[Int(e)]
  }

  /// The device name for a code, or nil for none/mixed.
  public func deviceName(_ code: Int32) -> String? {
    code >= 0 && Int(code) < devices.count ? devices[Int(code)] : nil
  }

  /// The dtype name for a code, or nil for none/mixed.
  public func dtypeName(_ code: Int32) -> String? {
    code >= 0 && Int(code) < dtypes.count ? dtypes[Int(code)] : nil
  }

  /// The chain of ancestors of `id`, nearest first, root excluded.
  public func ancestors(of id: Int32) -> [Int32] {
    var out: [Int32] = []
    var at = nodes[Int(id)].parent
    while at > 0 {
      out.append(at)
      at = nodes[Int(at)].parent
    }
    return out
  }

  /// Count of nodes, the root included.
  public var count: Int { nodes.count }

  /// Puts value rows with fixed text at the top of the tree, before everything else (the
  /// safety findings that belong to no row of the file's object). Returns their ids.
  ///
  /// Linear in the number of nodes: the preorder positions of everything else shift.
  mutating func prependValues(_ items: [(label: String, text: String)]) -> [Int32] {
    guard !items.isEmpty else { return [] }
    var added: [Int32] = []
    for item in items {
      let id = Int32(nodes.count)
      var node = Node(kind: .value, name: item.label, parent: 0)
      node.label = item.label
      node.key = item.label
      node.value = item.text
      nodes.append(node)
      added.append(id)
    }
    nodes[0].children.insert(contentsOf: added, at: 0)
    preorder.insert(contentsOf: added, at: 1)
    preIndex += Array(repeating: 0, count: added.count)
    for (position, id) in preorder.enumerated() { preIndex[Int(id)] = Int32(position) }
    subtreeSize += Array(repeating: 1, count: added.count)
    subtreeSize[0] += Int32(added.count)
    return added
  }
}
