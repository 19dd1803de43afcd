public import PTViewCore
import PTViewPickle

/// What a remap will do, before anything is written: the edits and the words to explain them.
public struct RemapPlan: Sendable {
  /// One storage that changes location.
  public struct Move: Sendable, Equatable {
    /// The record (`data/3`) or legacy key.
    public var record: String
    /// Its location now.
    public var from: String
    /// Its new location.
    public var to: String
    /// Bytes in the storage.
    public var bytes: Int64
    /// Keys of the tensors that read it.
    public var tensors: [String]
  }

  /// The edits for the writer.
  public var edits: [Edit]
  /// Storage moves, in record order.
  public var moves: [Move]
  /// Device arguments rewritten (key, from, to).
  public var deviceArguments: [(key: String, from: String, to: String)]
  /// Tensors left where they are, with the reason.
  public var leftAlone: [(key: String, device: String, reason: String)]
  /// Storages moved for a selected tensor that other, unselected tensors share.
  public var sharedWithUnselected: [(record: String, others: [String])]

  /// Per `from -> to` pair: tensors and bytes.
  public var summary: [(from: String, to: String, tensors: Int, storages: Int, bytes: Int64)] {
    var order: [String] = []
    var table: [String: (String, String, Int, Int, Int64)] = [:]
    for move in moves {
      let k = move.from + "\u{0}" + move.to
      if table[k] == nil {
        order.append(k)
        table[k] = (move.from, move.to, 0, 0, 0)
      }
      table[k]!.2 += move.tensors.count
      table[k]!.3 += 1
      table[k]!.4 = table[k]!.4.addingSaturated(move.bytes)
    }
    return order.map { table[$0]! }.map {
      (from: $0.0, to: $0.1, tensors: $0.2, storages: $0.3, bytes: $0.4)
    }
  }
}

/// Decides which storages move where, from device rules and an optional key filter.
public enum RemapPlanner {
  /// Plans a remap of `checkpoint`.
  /// - Parameters:
  ///   - rules: where each location goes.
  ///   - only: key globs (`*` crosses dots); when non-empty, only storages used by a matching
  ///     tensor move.
  public static func plan(_ checkpoint: Checkpoint, rules: DeviceRules, only: [String] = [])
    -> RemapPlan
  {
    // Which tensors read each record.
    var readers: [String: [TensorEntry]] = [:]
    for entry in checkpoint.entries {
      for storage in entry.tensor.allStorages { readers[storage.record, default: []].append(entry) }
    }
    func selected(_ entry: TensorEntry) -> Bool {
      only.isEmpty || only.contains { Glob.matches($0, entry.key) }
    }
    var moves: [RemapPlan.Move] = []
    var edits: [Edit] = []
    var shared: [(String, [String])] = []
    var seen: Set<String> = []
    var movedRecords: [String: String] = [:]
    for ref in checkpoint.storageReferences {
      guard seen.insert(ref.record).inserted else { continue }
      let users = readers[ref.record] ?? []
      let chosen = users.filter(selected)
      guard only.isEmpty || !chosen.isEmpty else { continue }
      guard let target = rules.target(for: ref.location) else { continue }
      movedRecords[ref.record] = target
      edits.append(.moveStorage(record: ref.record, to: target))
      var keys: [String] = []
      var keySet: Set<String> = []
      for u in users where keySet.insert(u.key).inserted { keys.append(u.key) }
      moves.append(
        RemapPlan.Move(
          record: ref.record, from: ref.location, to: target,
          bytes: checkpoint.storages[ref.record]?.size ?? ref.byteCount, tensors: keys))
      if !only.isEmpty {
        let others = users.filter { !selected($0) }.map(\.key)
        if !others.isEmpty { shared.append((ref.record, others)) }
      }
    }
    var deviceArguments: [(String, String, String)] = []
    var leftAlone: [(String, String, String)] = []
    var argumentsDone: Set<ValueID> = []
    for entry in checkpoint.entries {
      let t = entry.tensor
      if let node = t.deviceNode {
        guard selected(entry) else { continue }
        if t.rebuild == "_rebuild_device_tensor_from_cpu_tensor",
          checkpoint.graph.string(node) != nil
        {
          if let target = rules.target(for: t.device) {
            if argumentsDone.insert(node).inserted {
              edits.append(.setDeviceArgument(node: node, to: target))
              deviceArguments.append((entry.key, t.device, target))
            }
          } else {
            leftAlone.append((entry.key, t.device, "no rule matches its device"))
          }
        } else if rules.target(for: t.device) != nil {
          leftAlone.append(
            (
              entry.key, t.device,
              "\(t.rebuild) keeps its device in a torch.device argument; not rewritten"
            ))
        }
        continue
      }
      guard let storage = t.storage else {
        if t.layout == nil && t.device != "meta" {
          leftAlone.append((entry.key, t.device, "holds no storage"))
        } else if t.layout != nil {
          let targets = t.allStorages.compactMap { movedRecords[$0.record] }
          if targets.isEmpty, rules.target(for: t.device) != nil, selected(entry) {
            leftAlone.append((entry.key, t.device, "not selected"))
          }
        }
        continue
      }
      if movedRecords[storage.record] == nil {
        let reason =
          selected(entry)
          ? (rules.target(for: t.device) == nil
            ? "already there or no rule matches" : "not selected") : "not selected by --only"
        leftAlone.append((entry.key, t.device, reason))
      }
    }
    return RemapPlan(
      edits: edits, moves: moves, deviceArguments: deviceArguments, leftAlone: leftAlone,
      sharedWithUnselected: shared)
  }
}
