/// A torch dtype: its name, its element size and how storages of it are named.
public struct DType: Hashable, Sendable, CustomStringConvertible {
  /// torch's name without the `torch.` prefix (`float32`, `bfloat16`, `qint8`).
  public let name: String
  /// Bytes per storage element.
  public let elementSize: Int
  /// Logical values per storage byte for packed quantized dtypes (quint4x2 = 2, quint2x4 = 4);
  /// 1 otherwise. (float4_e2m1fn_x2 counts bytes in its shape, so it is not packed here.)
  public let valuesPerByte: Int
  /// The `torch.<X>Storage` class name that carries this dtype in pickles, if one exists.
  public let storageClass: String?

  public var description: String { name }

  /// Bytes needed for `numel` logical elements of this dtype.
  public func byteCount(elements numel: Int64) -> Int64 {
    if valuesPerByte > 1 { return (numel + Int64(valuesPerByte) - 1) / Int64(valuesPerByte) }
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

  init(_ name: String, _ size: Int, packed: Int = 1, storage: String? = nil) {
    self.name = name
    self.elementSize = size
    self.valuesPerByte = packed
    self.storageClass = storage
  }

  /// Every dtype torch can name in a pickle (torch-format.md §2.3 and the weights_only list).
  public static let all: [DType] = [
    DType("float64", 8, storage: "DoubleStorage"),
    DType("float32", 4, storage: "FloatStorage"),
    DType("float16", 2, storage: "HalfStorage"),
    DType("bfloat16", 2, storage: "BFloat16Storage"),
    DType("int64", 8, storage: "LongStorage"),
    DType("int32", 4, storage: "IntStorage"),
    DType("int16", 2, storage: "ShortStorage"),
    DType("int8", 1, storage: "CharStorage"),
    DType("uint8", 1, storage: "ByteStorage"),
    DType("bool", 1, storage: "BoolStorage"),
    DType("complex64", 8, storage: "ComplexFloatStorage"),
    DType("complex128", 16, storage: "ComplexDoubleStorage"),
    DType("qint8", 1, storage: "QInt8Storage"),
    DType("quint8", 1, storage: "QUInt8Storage"),
    DType("qint32", 4, storage: "QInt32Storage"),
    DType("quint4x2", 1, packed: 2, storage: "QUInt4x2Storage"),
    DType("quint2x4", 1, packed: 4, storage: "QUInt2x4Storage"),
    DType("complex32", 4),
    DType("bcomplex32", 4),
    DType("float8_e5m2", 1),
    DType("float8_e4m3fn", 1),
    DType("float8_e5m2fnuz", 1),
    DType("float8_e4m3fnuz", 1),
    DType("float8_e8m0fnu", 1),
    DType("float4_e2m1fn_x2", 1),
    DType("uint16", 2),
    DType("uint32", 4),
    DType("uint64", 8),
    DType("bits8", 1),
    DType("bits16", 2),
    DType("bits1x8", 1),
    DType("bits2x4", 1),
    DType("bits4x2", 1),
  ] + (1...7).flatMap { [DType("uint\($0)", 1), DType("int\($0)", 1)] }

  /// UntypedStorage: bytes; the tensor's real dtype comes from `_rebuild_tensor_v3`.
  public static let untyped = DType("uint8", 1, storage: "UntypedStorage")

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
    for dtype in all { if let s = dtype.storageClass { table[s] = dtype } }
    return table
  }()

  /// The dtype `torch.<name>` names.
  public static func named(_ name: String) -> DType? { byName[name] }

  /// The element type of a storage class. torch matches any global whose name contains
  /// "Storage", whatever its module (`torch.cuda.FloatStorage` is float32 too).
  public static func forStorageClass(_ className: String) -> DType? {
    if className == "UntypedStorage" || className == "TypedStorage" { return untyped }
    return byStorage[className]
  }
}
