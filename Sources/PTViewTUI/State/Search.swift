/// A search typed after `/`: the nodes whose key contains the query, at the node where the
/// match first appears (so `attn.q` stops at the `attn.q` group, not at every tensor below).
public struct Search: Hashable, Sendable {
  /// The query as typed.
  public var query: String
  /// Matching node ids, in display (preorder) order.
  public var matches: [Int32]

  /// Runs `query` over `tree`: one pass, on Enter only (never per keypress). Below a node
  /// whose key already contains the query nothing else can match (keys extend their
  /// parent's), so its subtree is skipped.
  public init(_ query: String, tree: Tree) {
    self.query = query
    let matcher = KeyMatcher(query)
    var matches: [Int32] = []
    var i = 1
    let order = tree.preorder
    while i < order.count {
      let id = order[i]
      let node = tree[id]
      if node.kind != .run, matcher.matches(node.key) {
        matches.append(id)
        i += Int(tree.subtreeSize[Int(id)])
      } else {
        i += 1
      }
    }
    self.matches = matches
  }

  /// Whether `id` is a match (binary search over preorder positions).
  public func contains(_ id: Int32, tree: Tree) -> Bool {
    index(of: id, tree: tree) != nil
  }

  /// The position of `id` among the matches.
  public func index(of id: Int32, tree: Tree) -> Int? {
    let i = firstMatch(atOrAfter: tree.preIndex[Int(id)], tree: tree)
    return i < matches.count && matches[i] == id ? i : nil
  }

  /// The index of the first match at or after preorder position `position`.
  func firstMatch(atOrAfter position: Int32, tree: Tree) -> Int {
    tree.firstIndex(in: matches, atOrAfter: position)
  }
}
