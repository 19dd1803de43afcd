import PTViewCore
import PTViewPickle

/// Where each node of the pickle graph is shown in full: one walk, in display order, over the
/// children the graph view shows. A node reached again (memo sharing, a cycle) is shown there
/// as a reference to this first place, so shared objects are listed once and cycles end.
///
/// Three `Int32` per graph node and a byte of sharing: on the 80,000-tensor benchmark file a
/// few megabytes, made in one pass with no text formatted.
struct GraphIndex: Sendable {
  /// Per node: the node it is shown under (`top` for the top rows; `unseen` when no row shows it).
  var parent: [Int32]
  /// Per node: which child of that parent it is (the index in `GraphOutline.kids`).
  var slot: [Int32]
  /// Per node: its position in display order (`unseen` when not shown).
  var order: [Int32]
  /// Per node: how many rows show it (saturating at 255); above one it gets an anchor.
  var uses: [UInt8]
  /// The nodes in display order.
  var preorder: [Int32]

  static let top: Int32 = -2
  static let unseen: Int32 = -1

  init(outline: GraphOutline, roots: [GraphKid]) {
    let count = outline.graph.count
    parent = Array(repeating: Self.unseen, count: count)
    slot = Array(repeating: Self.unseen, count: count)
    order = Array(repeating: Self.unseen, count: count)
    uses = Array(repeating: 0, count: count)
    preorder = []
    preorder.reserveCapacity(count / 2)
    // (node, parent, slot), popped in display order.
    var work: [(ValueID, Int32, Int32)] = []
    for (i, root) in roots.enumerated().reversed() { work.append((root.node, Self.top, Int32(i))) }
    while let (id, from, at) = work.popLast() {
      let i = Int(id.index)
      guard i >= 0, i < count else { continue }
      if uses[i] < 255 { uses[i] += 1 }
      guard order[i] == Self.unseen else { continue }
      order[i] = Int32(preorder.count)
      preorder.append(id.index)
      parent[i] = from
      slot[i] = at
      let kids = outline.kids(id)
      var k = kids.count - 1
      while k >= 0 {
        let child = kids[k].node
        // Scalars cannot be shared visibly and have no children: count them, skip the stack.
        if !outline.isScalar(child) {
          work.append((child, id.index, Int32(k)))
        } else {
          let c = Int(child.index)
          if order[c] == Self.unseen {
            // Listed with its parent: searches find it, in nearly display order.
            order[c] = Int32(preorder.count)
            preorder.append(child.index)
            parent[c] = id.index
            slot[c] = Int32(k)
          }
          if uses[c] < 255 { uses[c] += 1 }
        }
        k -= 1
      }
    }
  }

  /// Whether `id` is shown in full under (`from`, `at`); anywhere else it is a reference.
  func isHome(_ id: ValueID, parent from: Int32, slot at: Int32) -> Bool {
    let i = Int(id.index)
    return i >= 0 && i < parent.count && parent[i] == from && slot[i] == at
  }

  /// Whether `id` appears on more than one row.
  func isShared(_ id: ValueID) -> Bool {
    let i = Int(id.index)
    return i >= 0 && i < uses.count && uses[i] > 1
  }

  /// The slots from a top row down to where `id` is shown in full (nil when no row shows it).
  func path(to id: ValueID) -> [Int32]? {
    var out: [Int32] = []
    var at = id.index
    var steps = 0
    while at >= 0 && Int(at) < parent.count {
      let p = parent[Int(at)]
      if p == Self.unseen { return nil }
      out.append(slot[Int(at)])
      if p == Self.top { return out.reversed() }
      at = p
      steps += 1
      if steps > parent.count { return nil }
    }
    return nil
  }
}
