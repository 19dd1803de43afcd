import PTViewCore
import PTViewPickle

/// The part of a checkpoint that key operations address: dicts (and dict-like objects such as
/// `OrderedDict`), lists and tuples, nested from a root, each item with its dotted key.
/// Tensors and other objects are leaves: their insides have no keys a user renames or drops.
///
/// Items are stored flat with parent links, so a rename of a container item changes the full
/// keys of everything under it without copying strings around.
struct KeyTree {
  /// One item of a container.
  struct Item {
    /// Index of the item holding the container this item is in (-1: the root's items).
    var parent: Int
    /// The container node.
    var container: ValueID
    /// Position in `dictItems` (or the sequence's elements).
    var index: Int
    /// The key as the output will have it (`str()` of the key; renames change it).
    var key: String
    /// The key as the input has it.
    var originalKey: String
    /// True when the key is a `str` (only those can be renamed).
    var isString: Bool
    /// The value.
    var value: ValueID
    /// Depth below the root (0: the root's own items).
    var depth: Int
    /// True when the value is a tensor.
    var isTensor: Bool
  }

  /// Items in preorder (parents before children).
  var items: [Item] = []
  /// The root node.
  let root: ValueID

  /// The tree under `root`. Shared containers are expanded once, under their first key.
  init(root: ValueID, graph: ValueGraph, tensors: TensorTable, limit: Int = 5_000_000) {
    self.root = root
    var seen: Set<ValueID> = [root]
    // Depth-first, children in order: a stack of (parent item, container, depth).
    var stack: [(Int, ValueID, Int)] = [(-1, root, 0)]
    while let (parent, container, depth) = stack.popLast(), items.count < limit {
      guard let children = KeyTree.children(of: container, graph: graph) else { continue }
      var pushed: [(Int, ValueID, Int)] = []
      for (i, child) in children.enumerated() {
        let isTensor = tensors[child.value] != nil
        items.append(
          Item(
            parent: parent, container: container, index: i, key: child.key,
            originalKey: child.key, isString: child.isString, value: child.value, depth: depth,
            isTensor: isTensor))
        if !isTensor, KeyTree.isContainer(child.value, graph: graph),
          seen.insert(child.value).inserted
        {
          pushed.append((items.count - 1, child.value, depth + 1))
        }
      }
      stack.append(contentsOf: pushed.reversed())
    }
    // The stack visits a container's children after all of its siblings were listed: sort
    // into preorder so parents come first and siblings keep their order.
    items = KeyTree.preorder(items)
  }

  /// Keyed children of a container node, or nil for leaves.
  static func children(of node: ValueID, graph: ValueGraph)
    -> [(key: String, isString: Bool, value: ValueID)]?
  {
    if let items = graph.dictItems(node) {
      return items.map { item in
        let isString: Bool
        switch graph[item.key] {
        case .string, .legacyString: isString = true
        default: isString = false
        }
        return (graph.keyText(item.key), isString, item.value)
      }
    }
    switch graph[node] {
    case .list, .tuple:
      return (graph.sequence(node) ?? []).enumerated().map {
        (String($0.offset), false, $0.element)
      }
    default:
      return nil
    }
  }

  static func isContainer(_ node: ValueID, graph: ValueGraph) -> Bool {
    switch graph[node] {
    case .dict, .list, .tuple: true
    case .object: graph.dictItems(node) != nil
    default: false
    }
  }

  private static func preorder(_ items: [Item]) -> [Item] {
    var children: [[Int]] = Array(repeating: [], count: items.count)
    var top: [Int] = []
    for (i, item) in items.enumerated() {
      if item.parent < 0 { top.append(i) } else { children[item.parent].append(i) }
    }
    var order: [Int] = []
    order.reserveCapacity(items.count)
    var stack = top.reversed() as [Int]
    while let i = stack.popLast() {
      order.append(i)
      stack.append(contentsOf: children[i].reversed())
    }
    var remap = Array(repeating: -1, count: items.count)
    for (new, old) in order.enumerated() { remap[old] = new }
    return order.map { old in
      var item = items[old]
      if item.parent >= 0 { item.parent = remap[item.parent] }
      return item
    }
  }

  /// The full dotted key of item `i` as the output will have it.
  func fullKey(_ i: Int) -> String {
    var parts: [String] = []
    var at = i
    while at >= 0 {
      parts.append(items[at].key)
      at = items[at].parent
    }
    return parts.reversed().joined(separator: ".")
  }

  /// The full dotted key of item `i` as the input has it.
  func originalFullKey(_ i: Int) -> String {
    var parts: [String] = []
    var at = i
    while at >= 0 {
      parts.append(items[at].originalKey)
      at = items[at].parent
    }
    return parts.reversed().joined(separator: ".")
  }

  /// Keys of the tensors (the leaves a state_dict is made of), as the output will have them.
  var tensorKeys: [String] {
    items.indices.filter { items[$0].isTensor }.map(fullKey)
  }
}
