public import PTViewPickle

/// The tensors of a checkpoint, by graph node: a slot per node and the tensors in node order.
///
/// Looking a tensor up is an array index, not a hash: the walk, the tree and the explorer ask
/// for every node of graphs with millions of them. It reads like a dictionary
/// (`table[node]`, `values`, `keys`, `count`), which is what it replaced.
public struct TensorTable: Sendable, ExpressibleByDictionaryLiteral {
  private var slots: [Int32] = []
  /// The tensors, in node order.
  public private(set) var values: [TensorInfo] = []
  /// Their nodes, in the same order.
  public private(set) var keys: [ValueID] = []

  /// An empty table.
  public init() {}

  /// A table from `(node, tensor)` pairs.
  public init(dictionaryLiteral elements: (ValueID, TensorInfo)...) {
    for (id, tensor) in elements { self[id] = tensor }
  }

  /// Number of tensors.
  public var count: Int { values.count }

  /// Whether there are none.
  public var isEmpty: Bool { values.isEmpty }

  /// The tensor a node rebuilds, if it is one.
  public subscript(id: ValueID) -> TensorInfo? {
    get {
      let i = Int(id.index)
      guard i >= 0, i < slots.count, slots[i] >= 0 else { return nil }
      return values[Int(slots[i])]
    }
    set {
      let i = Int(id.index)
      guard i >= 0 else { return }
      if i >= slots.count { slots += [Int32](repeating: -1, count: i - slots.count + 1) }
      if slots[i] >= 0 {
        if let newValue {
          values[Int(slots[i])] = newValue
        } else {
          // Rare: rebuild without the removed entry.
          var table = TensorTable()
          for (k, v) in zip(keys, values) where k != id { table[k] = v }
          self = table
        }
        return
      }
      guard let newValue else { return }
      slots[i] = Int32(values.count)
      values.append(newValue)
      keys.append(id)
    }
  }

  /// Whether `id` is a tensor (cheaper than fetching it).
  public func contains(_ id: ValueID) -> Bool {
    let i = Int(id.index)
    return i >= 0 && i < slots.count && slots[i] >= 0
  }

  /// Adds the tensors of `other` whose nodes are not in this table yet.
  public mutating func merge(_ other: TensorTable) {
    for (k, v) in zip(other.keys, other.values) where !contains(k) { self[k] = v }
  }

  /// A table from runs built over disjoint node ranges, in range order (no hashing, no
  /// lookups).
  public static func joined(_ parts: [Run], nodeCount: Int) -> TensorTable {
    var table = TensorTable()
    table.slots = [Int32](repeating: -1, count: nodeCount)
    for part in parts {
      if table.values.isEmpty {
        // The first run becomes the table's storage as is (no copy of its tensors).
        table.values = part.values
        table.keys = part.keys
      } else {
        table.values += part.values
        table.keys += part.keys
      }
    }
    for (slot, key) in table.keys.enumerated() {
      let i = Int(key.index)
      precondition(
        i >= 0 && i < nodeCount && table.slots[i] < 0, "runs must be disjoint and sorted")
      table.slots[i] = Int32(slot)
    }
    return table
  }

  /// Tensors of one node range, in node order.
  public struct Run: Sendable {
    public var keys: [ValueID] = []
    public var values: [TensorInfo] = []
    public init() {}
    mutating func append(_ key: ValueID, _ value: TensorInfo) {
      keys.append(key)
      values.append(value)
    }
  }

  /// Prepares slots for `nodeCount` nodes (so inserts never grow the slot array).
  mutating func reserve(nodeCount: Int, tensors: Int) {
    if slots.count < nodeCount { slots += [Int32](repeating: -1, count: nodeCount - slots.count) }
    values.reserveCapacity(tensors)
    keys.reserveCapacity(tensors)
  }
}
