/// A checkpoint's storage records by name, in the order they were first referenced.
///
/// Reads like a dictionary from record name to `Checkpoint.StorageExtent`. torch names its
/// records `data/<n>`; those are found by number in an array, so an archive of tens of
/// thousands of storages is indexed without hashing a string per record (which cost more
/// than the rest of checking the records). Other names (legacy keys, TorchScript constants)
/// go through a dictionary.
public struct StorageExtents: Sendable, Sequence, ExpressibleByDictionaryLiteral {
  /// The extents, in insertion order.
  public private(set) var values: [Checkpoint.StorageExtent] = []
  private var numbered: [Int32] = []
  private var named: [String: Int32] = [:]

  /// An empty set of extents.
  public init() {}

  /// Extents from `(record, extent)` pairs.
  public init(dictionaryLiteral elements: (String, Checkpoint.StorageExtent)...) {
    for (record, extent) in elements { self[record] = extent }
  }

  /// Number of records.
  public var count: Int { values.count }

  /// Whether there are none.
  public var isEmpty: Bool { values.isEmpty }

  /// Reserves room for `count` records.
  public mutating func reserveCapacity(_ count: Int) {
    values.reserveCapacity(count)
  }

  /// The extent of `record`, if the checkpoint has it. Setting nil is not supported (records
  /// are only ever added).
  public subscript(record: String) -> Checkpoint.StorageExtent? {
    get { slot(record, number: Self.dataNumber(record)).map { values[Int($0)] } }
    set {
      guard let newValue else { return }
      let number = Self.dataNumber(record)
      if let existing = slot(record, number: number) {
        values[Int(existing)] = newValue
        return
      }
      let index = Int32(values.count)
      values.append(newValue)
      if let n = number, n <= 4 * values.count + 1024 {
        if n >= numbered.count {
          numbered += [Int32](
            repeating: -1, count: Swift.max(n + 1 - numbered.count, numbered.count))
        }
        numbered[n] = index
      } else {
        named[record] = index
      }
    }
  }

  /// `(record, extent)` pairs in insertion order.
  public func makeIterator() -> some IteratorProtocol<
    (key: String, value: Checkpoint.StorageExtent)
  > {
    values.lazy.map { (key: $0.record, value: $0) }.makeIterator()
  }

  private func slot(_ record: String, number: Int?) -> Int32? {
    if let n = number, n < numbered.count, numbered[n] >= 0 { return numbered[n] }
    return named.isEmpty ? nil : named[record]
  }

  /// `n` for a record named `data/<n>` (canonical decimal, at most 9 digits), else nil.
  static func dataNumber(_ record: String) -> Int? {
    number(in: record, after: dataPrefix)
  }

  private static let dataPrefix = Array("data/".utf8)

  /// `n` when `name` is `prefix` then a canonical decimal number, else nil. Compared on the
  /// string's own UTF-8 bytes: the generic `starts(with:)` and `dropFirst` on a String's
  /// UTF-8 view cost several hundred instructions per name, a tenth of listing a file of
  /// 80,000 records, where this costs a few dozen.
  static func number(in name: String, after prefix: [UInt8]) -> Int? {
    let fast = name.utf8.withContiguousStorageIfAvailable { bytes -> Int? in
      guard bytes.count > prefix.count, bytes.starts(with: prefix) else { return nil }
      return number(UnsafeBufferPointer(rebasing: bytes[prefix.count...]))
    }
    if let fast { return fast }
    let utf8 = name.utf8
    guard utf8.count > prefix.count, utf8.starts(with: prefix) else { return nil }
    return number(utf8.dropFirst(prefix.count))
  }

  /// Whether `name`'s UTF-8 bytes begin with `prefix` (bytes, not Unicode equivalence, as
  /// zip and torch compare names), on the string's own buffer when it has one.
  static func hasPrefix(_ name: String, bytes prefix: [UInt8]) -> Bool {
    name.utf8.withContiguousStorageIfAvailable { $0.starts(with: prefix) }
      ?? name.utf8.starts(with: prefix)
  }

  /// A canonical decimal number of at most 9 digits ("0", "17"; not "017", "+1" or "1e3"), or
  /// nil: how torch numbers its records.
  static func number<C: Collection<UInt8>>(_ digits: C) -> Int? {
    guard let first = digits.first, digits.count <= 9,
      first != UInt8(ascii: "0") || digits.count == 1
    else { return nil }
    var n = 0
    for d in digits {
      guard d >= UInt8(ascii: "0"), d <= UInt8(ascii: "9") else { return nil }
      n = n * 10 + Int(d - UInt8(ascii: "0"))
    }
    return n
  }
}
