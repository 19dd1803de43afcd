extension ValueGraph {
  /// Every node `id` refers to directly, in stream order.
  public func children(of id: ValueID) -> [ValueID] {
    var out: [ValueID] = []
    forEachChild(of: id) { out.append($0) }
    return out
  }

  /// Calls `body` with every node `id` refers to directly, in stream order, without
  /// building an array: graph walks visit every node, and one allocation each was most of
  /// their cost.
  @inlinable public func forEachChild(of id: ValueID, _ body: (ValueID) -> Void) {
    switch self[id] {
    case .tuple(let s), .frozenset(let s): for child in ids(s) { body(child) }
    case .list(let c), .dict(let c), .set(let c): for child in containers[Int(c)] { body(child) }
    case .object(let index):
      switch construction(index) {
      case .reduce(let a, let b), .newobj(let a, let b):
        body(a)
        body(b)
      case .newobjEx(let a, let b, let c):
        body(a)
        body(b)
        body(c)
      }
    case .persistentID(let pid): body(pid)
    default: break
    }
    guard !mutations.isEmpty, let list = mutations[id.index] else { return }
    for mutation in list {
      switch mutation {
      case .build(let s): body(s)
      case .setItem(let k, let v):
        body(k)
        body(v)
      case .append(let v), .add(let v): body(v)
      }
    }
  }

  /// How many references each node receives (memo sharing shows up as counts above one).
  public func referenceCounts(from roots: [ValueID]) -> [Int32] {
    var counts = [Int32](repeating: 0, count: count)
    var visited = [Bool](repeating: false, count: count)
    var work = roots
    for r in roots where Int(r.index) < count { counts[Int(r.index)] += 1 }
    while let id = work.popLast() {
      let i = Int(id.index)
      guard i >= 0, i < count, !visited[i] else { continue }
      visited[i] = true
      forEachChild(of: id) { child in
        let c = Int(child.index)
        guard c >= 0, c < count else { return }
        counts[c] &+= 1
        if !visited[c] { work.append(child) }
      }
    }
    return counts
  }
}
