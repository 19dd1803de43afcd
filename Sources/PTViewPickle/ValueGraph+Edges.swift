extension ValueGraph {
  /// Every node `id` refers to directly, in stream order.
  public func children(of id: ValueID) -> [ValueID] {
    var out: [ValueID] = []
    switch self[id] {
    case .tuple(let s), .frozenset(let s): out.append(contentsOf: ids(s))
    case .list(let c), .dict(let c), .set(let c): out.append(contentsOf: container(c))
    case .object(let index):
      switch construction(index) {
      case .reduce(let a, let b), .newobj(let a, let b): out += [a, b]
      case .newobjEx(let a, let b, let c): out += [a, b, c]
      }
    case .persistentID(let pid): out.append(pid)
    default: break
    }
    for mutation in mutations(of: id) {
      switch mutation {
      case .build(let s): out.append(s)
      case .setItem(let k, let v): out += [k, v]
      case .append(let v), .add(let v): out.append(v)
      }
    }
    return out
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
      for child in children(of: id) {
        let c = Int(child.index)
        guard c >= 0, c < count else { continue }
        counts[c] &+= 1
        if !visited[c] { work.append(child) }
      }
    }
    return counts
  }
}
