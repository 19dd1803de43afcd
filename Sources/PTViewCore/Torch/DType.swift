/// A torch dtype: its name, its element size and how storages of it are named.
///
/// A dtype is one byte (an index into a static table), so the millions of tensor records a big
/// checkpoint produces copy it for free.
public struct DType: Hashable, Sendable, CustomStringConvertible {
  private let code: UInt8

  private struct Row {
    let name: String
    let elementSize: Int
    let valuesPerByte: Int
    let storageClass: String?
  }

  private static let rows: [Row] = {
    var rows: [Row] = [
      Row(name: "float64", elementSize: 8, valuesPerByte: 1, storageClass: "DoubleStorage"),
      Row(name: "float32", elementSize: 4, valuesPerByte: 1, storageClass: "FloatStorage"),
      Row(name: "float16", elementSize: 2, valuesPerByte: 1, storageClass: "HalfStorage"),
      Row(name: "bfloat16", elementSize: 2, valuesPerByte: 1, storageClass: "BFloat16Storage"),
      Row(name: "int64", elementSize: 8, valuesPerByte: 1, storageClass: "LongStorage"),
      Row(name: "int32", elementSize: 4, valuesPerByte: 1, storageClass: "IntStorage"),
      Row(name: "int16", elementSize: 2, valuesPerByte: 1, storageClass: "ShortStorage"),
      Row(name: "int8", elementSize: 1, valuesPerByte: 1, storageClass: "CharStorage"),
      Row(name: "uint8", elementSize: 1, valuesPerByte: 1, storageClass: "ByteStorage"),
      Row(name: "bool", elementSize: 1, valuesPerByte: 1, storageClass: "BoolStorage"),
      Row(name: "complex64", elementSize: 8, valuesPerByte: 1, storageClass: "ComplexFloatStorage"),
      Row(
        name: "complex128", elementSize: 16, valuesPerByte: 1, storageClass: "ComplexDoubleStorage"),
      Row(name: "qint8", elementSize: 1, valuesPerByte: 1, storageClass: "QInt8Storage"),
      Row(name: "quint8", elementSize: 1, valuesPerByte: 1, storageClass: "QUInt8Storage"),
      Row(name: "qint32", elementSize: 4, valuesPerByte: 1, storageClass: "QInt32Storage"),
      Row(name: "quint4x2", elementSize: 1, valuesPerByte: 2, storageClass: "QUInt4x2Storage"),
      Row(name: "quint2x4", elementSize: 1, valuesPerByte: 4, storageClass: "QUInt2x4Storage"),
      Row(name: "complex32", elementSize: 4, valuesPerByte: 1, storageClass: nil),
      Row(name: "bcomplex32", elementSize: 4, valuesPerByte: 1, storageClass: nil),
      Row(name: "float8_e5m2", elementSize: 1, valuesPerByte: 1, storageClass: nil),
      Row(name: "float8_e4m3fn", elementSize: 1, valuesPerByte: 1, storageClass: nil),
      Row(name: "float8_e5m2fnuz", elementSize: 1, valuesPerByte: 1, storageClass: nil),
      Row(name: "float8_e4m3fnuz", elementSize: 1, valuesPerByte: 1, storageClass: nil),
      Row(name: "float8_e8m0fnu", elementSize: 1, valuesPerByte: 1, storageClass: nil),
      Row(name: "float4_e2m1fn_x2", elementSize: 1, valuesPerByte: 1, storageClass: nil),
      Row(name: "uint16", elementSize: 2, valuesPerByte: 1, storageClass: nil),
      Row(name: "uint32", elementSize: 4, valuesPerByte: 1, storageClass: nil),
      Row(name: "uint64", elementSize: 8, valuesPerByte: 1, storageClass: nil),
      Row(name: "bits8", elementSize: 1, valuesPerByte: 1, storageClass: nil),
      Row(name: "bits16", elementSize: 2, valuesPerByte: 1, storageClass: nil),
      Row(name: "bits1x8", elementSize: 1, valuesPerByte: 1, storageClass: nil),
      Row(name: "bits2x4", elementSize: 1, valuesPerByte: 1, storageClass: nil),
      Row(name: "bits4x2", elementSize: 1, valuesPerByte: 1, storageClass: nil),
    ]
    for n in 1...7 {
      rows.append(Row(name: "uint\(n)", elementSize: 1, valuesPerByte: 1, storageClass: nil))
      rows.append(Row(name: "int\(n)", elementSize: 1, valuesPerByte: 1, storageClass: nil))
    }
    // Last: UntypedStorage, bytes whose real dtype `_rebuild_tensor_v3` names.
    rows.append(
      Row(name: "uint8", elementSize: 1, valuesPerByte: 1, storageClass: "UntypedStorage"))
    return rows
  }()

  private var row: Row { Self.rows[Int(code)] }

  /// torch's name without the `torch.` prefix (`float32`, `bfloat16`, `qint8`).
  public var name: String { row.name }
  /// Bytes per storage element.
  public var elementSize: Int { row.elementSize }
  /// Logical values per storage byte for packed quantized dtypes (quint4x2 = 2, quint2x4 = 4);
  /// 1 otherwise. (float4_e2m1fn_x2 counts bytes in its shape, so it is not packed here.)
  public var valuesPerByte: Int { row.valuesPerByte }
  /// The `torch.<X>Storage` class name that carries this dtype in pickles, if one exists.
  public var storageClass: String? { row.storageClass }

  public var description: String { name }

  /// Bytes needed for `numel` logical elements of this dtype.
  public func byteCount(elements numel: Int64) -> Int64 {
    if valuesPerByte > 1 {
      return numel / Int64(valuesPerByte) + (numel % Int64(valuesPerByte) == 0 ? 0 : 1)
    }
    let (product, overflow) = numel.multipliedReportingOverflow(by: Int64(elementSize))
    return overflow ? Int64.max : product
  }

  /// The short label the explorer shows (`f32`, `bf16`, `i64`).
  public var shortName: String {
    switch name {
    case "float64": "f64"
    case "float32": "f32"
    case "float16": "f16"
    case "bfloat16": "bf16"
    case "int64": "i64"
    case "int32": "i32"
    case "int16": "i16"
    case "int8": "i8"
    case "uint8": "u8"
    case "uint16": "u16"
    case "uint32": "u32"
    case "uint64": "u64"
    case "complex64": "c64"
    case "complex128": "c128"
    case "complex32": "c32"
    default: name
    }
  }

  private init(code: Int) { self.code = UInt8(code) }

  /// Every dtype torch can name in a pickle (torch-format.md §2.3 and the weights_only list).
  public static let all: [DType] = (0..<(rows.count - 1)).map { DType(code: $0) }

  /// UntypedStorage: bytes; the tensor's real dtype comes from `_rebuild_tensor_v3`.
  public static let untyped = DType(code: rows.count - 1)

  private static let byName: [String: DType] = {
    var table: [String: DType] = [:]
    for dtype in all { table[dtype.name] = dtype }
    // torch's aliases, in case a pickle names one.
    let aliases = [
      "float": "float32", "double": "float64", "half": "float16", "long": "int64", "int": "int32",
      "short": "int16", "cfloat": "complex64", "cdouble": "complex128", "chalf": "complex32",
    ]
    for (alias, target) in aliases { table[alias] = table[target] }
    return table
  }()

  private static let byStorage: [String: DType] = {
    var table: [String: DType] = [:]
    for dtype in all + [untyped] { if let s = dtype.storageClass { table[s] = dtype } }
    return table
  }()

  /// The dtype `torch.<name>` names.
  public static func named(_ name: String) -> DType? { byName[name] }

  /// The element type of a storage class. torch matches any global whose name contains
  /// "Storage", whatever its module (`torch.cuda.FloatStorage` is float32 too).
  public static func forStorageClass(_ className: String) -> DType? {
    if className == "TypedStorage" { return untyped }
    return byStorage[className]
  }
}
