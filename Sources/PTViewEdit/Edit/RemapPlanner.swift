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

/// Decides which storages move where, from device rules and a selection of tensors.
public enum RemapPlanner {
  /// Plans a remap of `checkpoint`.
  /// - Parameters:
  ///   - rules: where each location goes.
  ///   - only: key globs (`*` crosses dots); when non-empty, only storages used by a matching
  ///     tensor move.
  public static func plan(_ checkpoint: Checkpoint, rules: DeviceRules, only: [String] = [])
    -> RemapPlan
  {
    plan(checkpoint, moves: [(rules, TensorSelection(only: only))])
  }

  /// Plans device moves made one after the other: each move sees where the earlier ones put
  /// every storage and device argument, so a later move of the same tensors wins and a move
  /// back cancels. The plan holds the net result: one edit per storage or device argument
  /// whose device ends up different from the input's, `from` being the input's.
  /// `leftAlone` and `sharedWithUnselected` describe the last move.
  /// - Parameters:
  ///   - moves: rules and the tensors they apply to, in the order they were asked for; a
  ///     storage moves when a selected tensor reads it.
  public static func plan(
    _ checkpoint: Checkpoint, moves: [(rules: DeviceRules, only: TensorSelection)]
  ) -> RemapPlan {
    // Which tensors read each record.
    var readers: [String: [TensorEntry]] = [:]
    for entry in checkpoint.entries {
      for storage in entry.tensor.allStorages { readers[storage.record, default: []].append(entry) }
    }
    // Records only device tensors read (`_rebuild_device_tensor_from_cpu_tensor`: xla, maia,
    // mtia). torch.load moves such a record with map_location, but the tensor then goes to its
    // device argument (`data.to(device)`), and torch.save writes its data as `self.cpu()`
    // again: the record's location never matters after a load, and a save always says cpu.
    // So a rule matching one sends it to cpu (where torch would put it), never elsewhere.
    let deviceOnly = Set(
      readers.filter { _, users in
        users.allSatisfy { $0.tensor.rebuild == "_rebuild_device_tensor_from_cpu_tensor" }
      }.keys)
    // Where the moves so far put each record and device argument (moved ones only).
    var location: [String: String] = [:]
    var argument: [ValueID: String] = [:]
    // Device arguments in the order they were first rewritten: the key that asked, the
    // device the input gives.
    var argumentOrder: [(node: ValueID, key: String, from: String)] = []
    var argumentSeen: Set<ValueID> = []
    var leftAlone: [(key: String, device: String, reason: String)] = []
    var shared: [(record: String, others: [String])] = []
    for (rules, only) in moves {
      func selected(_ entry: TensorEntry) -> Bool { only.contains(entry.key) }
      let restricted = only != .all
      var movedNow: [String: String] = [:]
      var seen: Set<String> = []
      leftAlone = []
      shared = []
      for ref in checkpoint.storageReferences {
        guard seen.insert(ref.record).inserted else { continue }
        let users = readers[ref.record] ?? []
        guard !restricted || users.contains(where: selected) else { continue }
        let current = location[ref.record] ?? ref.location
        guard var target = rules.target(for: current) else { continue }
        if deviceOnly.contains(ref.record) {
          guard current != "cpu" else { continue }
          target = "cpu"
        }
        movedNow[ref.record] = target
        if restricted {
          let others = users.filter { !selected($0) }.map(\.key)
          if !others.isEmpty { shared.append((ref.record, others)) }
        }
      }
      // Device arguments and what stays, as the tensors were before this move.
      let argumentBefore = argument
      var argumentsDone: Set<ValueID> = []
      for entry in checkpoint.entries {
        let t = entry.tensor
        if let node = t.deviceNode {
          guard selected(entry) else { continue }
          let device = argumentBefore[node] ?? t.device
          if t.rebuild == "_rebuild_device_tensor_from_cpu_tensor",
            checkpoint.graph.string(node) != nil
          {
            if let target = rules.target(for: device) {
              if argumentsDone.insert(node).inserted {
                if argumentSeen.insert(node).inserted {
                  argumentOrder.append((node, entry.key, t.device))
                }
                argument[node] = target
              }
            } else {
              leftAlone.append((entry.key, device, "no rule matches its device"))
            }
          } else if rules.target(for: device) != nil {
            leftAlone.append(
              (
                entry.key, device,
                "\(t.rebuild) keeps its device in a torch.device argument; not rewritten"
              ))
          }
          continue
        }
        guard let storage = t.storage else {
          if t.layout == nil && t.device != "meta" {
            leftAlone.append((entry.key, t.device, "holds no storage"))
          } else if t.layout != nil {
            let device = t.allStorages.first.flatMap { location[$0.record] } ?? t.device
            let targets = t.allStorages.compactMap { movedNow[$0.record] }
            if targets.isEmpty, rules.target(for: device) != nil, selected(entry) {
              leftAlone.append((entry.key, device, "not selected"))
            }
          }
          continue
        }
        if movedNow[storage.record] == nil {
          let device = location[storage.record] ?? t.device
          let unselected: String
          if case .globs = only {
            unselected = "not selected by --only"
          } else {
            unselected = "not selected"
          }
          let reason =
            selected(entry)
            ? (rules.target(for: device) == nil
              ? "already there or no rule matches" : "not selected") : unselected
          leftAlone.append((entry.key, device, reason))
        }
      }
      location.merge(movedNow) { $1 }
    }
    // The net result, in record order, then the device arguments.
    var edits: [Edit] = []
    var planned: [RemapPlan.Move] = []
    var seen: Set<String> = []
    for ref in checkpoint.storageReferences {
      guard seen.insert(ref.record).inserted, let target = location[ref.record],
        target != ref.location
      else { continue }
      edits.append(.moveStorage(record: ref.record, to: target))
      var keys: [String] = []
      var keySet: Set<String> = []
      for u in readers[ref.record] ?? [] where keySet.insert(u.key).inserted { keys.append(u.key) }
      planned.append(
        RemapPlan.Move(
          record: ref.record, from: ref.location, to: target,
          bytes: checkpoint.storages[ref.record]?.size ?? ref.byteCount, tensors: keys))
    }
    var deviceArguments: [(key: String, from: String, to: String)] = []
    for a in argumentOrder {
      guard let target = argument[a.node], target != a.from else { continue }
      edits.append(.setDeviceArgument(node: a.node, to: target))
      deviceArguments.append((a.key, a.from, target))
    }
    return RemapPlan(
      edits: edits, moves: planned, deviceArguments: deviceArguments, leftAlone: leftAlone,
      sharedWithUnselected: shared)
  }
}
