import Foundation
import PTViewTestSupport
import PTViewValues

/// One case of `Tests/Fixtures/print/cases.json`, written by `Scripts/make_print_vectors.py`: a
/// tensor's description, the elements its print shows, and `str(t)` from real torch.
struct PrintVector: Decodable, Sendable, CustomStringConvertible {
  let name: String
  let dtype: String
  let shape: [Int]
  let requiresGrad: Bool
  let parameter: Bool
  let device: String
  let quantization: QuantizationRecord?
  let values: [String]?
  let indices: [Int]?
  let expected: String

  enum CodingKeys: String, CodingKey {
    case name, dtype, shape, parameter, device, quantization, values, indices, expected
    case requiresGrad = "requires_grad"
  }

  var description: String { name }

  struct QuantizationRecord: Decodable, Sendable {
    let scheme: String
    let scale: String?
    let zeroPoint: Int64?
    let scales: ChannelRecord?
    let zeroPoints: ChannelRecord?
    let axis: Int?

    enum CodingKeys: String, CodingKey {
      case scheme, scale, scales, axis
      case zeroPoint = "zero_point"
      case zeroPoints = "zero_points"
    }
  }

  struct ChannelRecord: Decodable, Sendable {
    let dtype: String
    let values: [String]
  }

  /// The description `ptview cat` would build for this tensor.
  func printed() throws -> PrintedTensor {
    PrintedTensor(
      dtype: try Self.dtype(dtype), shape: shape, requiresGrad: requiresGrad,
      isParameter: parameter, device: device, quantization: try quantizationValue())
  }

  private func quantizationValue() throws -> Quantization? {
    guard let quantization else { return nil }
    guard let scheme = QuantizationScheme(rawValue: quantization.scheme) else {
      throw PrintVectorError.bad("\(name): scheme \(quantization.scheme)")
    }
    if let scale = quantization.scale, let zeroPoint = quantization.zeroPoint {
      return .perTensor(scheme: scheme, scale: try Self.double(scale), zeroPoint: zeroPoint)
    }
    guard let scales = quantization.scales, let zeroPoints = quantization.zeroPoints,
      let axis = quantization.axis
    else { throw PrintVectorError.bad("\(name): incomplete quantization") }
    return .perChannel(
      scheme: scheme, scales: try Self.channel(scales), zeroPoints: try Self.channel(zeroPoints),
      axis: axis)
  }

  /// The shown elements by logical index.
  func elements() throws -> [Int: ElementValue] {
    let decoded = try (values ?? []).map(Self.element)
    let keys = indices ?? Array(decoded.indices)
    guard keys.count == decoded.count else {
      throw PrintVectorError.bad("\(name): \(keys.count) indices for \(decoded.count) values")
    }
    return Dictionary(uniqueKeysWithValues: zip(keys, decoded))
  }

  static func dtype(_ name: String) throws -> PrintDType {
    guard let dtype = PrintDType(torchName: name) else {
      throw PrintVectorError.bad("no printable dtype \(name)")
    }
    return dtype
  }

  static func channel(_ record: ChannelRecord) throws -> ChannelValues {
    ChannelValues(dtype: try dtype(record.dtype), values: try record.values.map(element))
  }

  /// `f<hex>`, `i<n>`, `u<n>`, `b0`/`b1`, `c<hex><hex>` (see the generator).
  static func element(_ text: String) throws -> ElementValue {
    let body = String(text.dropFirst())
    switch text.first {
    case "f":
      return .float(try double(body))
    case "i":
      guard let value = Int64(body) else { throw PrintVectorError.bad(text) }
      return .int(value)
    case "u":
      guard let value = UInt64(body) else { throw PrintVectorError.bad(text) }
      return .uint(value)
    case "b":
      return .bool(body == "1")
    case "c":
      guard body.count == 32 else { throw PrintVectorError.bad(text) }
      return .complex(
        real: try double(String(body.prefix(16))), imaginary: try double(String(body.suffix(16))))
    default:
      throw PrintVectorError.bad(text)
    }
  }

  /// A float64 from its 16 hex digits.
  static func double(_ hex: String) throws -> Double {
    guard hex.count == 16, let bits = UInt64(hex, radix: 16) else {
      throw PrintVectorError.bad(hex)
    }
    return Double(bitPattern: bits)
  }
}

enum PrintVectorError: Error {
  case bad(String)
}

/// The fixtures, loaded once.
enum PrintVectors {
  struct CaseFile: Decodable {
    let torch: String
    let cases: [PrintVector]
  }

  struct FloatFile: Decodable {
    let torch: String
    let floats: [[String?]]
  }

  static func loadCases() throws -> CaseFile {
    try JSONDecoder().decode(CaseFile.self, from: Data(Fixtures.bytes("print/cases.json")))
  }

  static func loadFloats() throws -> FloatFile {
    try JSONDecoder().decode(FloatFile.self, from: Data(Fixtures.bytes("print/floats.json")))
  }

  /// Every case, or none when the file is missing (a separate test fails then).
  static let cases: [PrintVector] = (try? loadCases().cases) ?? []
}
