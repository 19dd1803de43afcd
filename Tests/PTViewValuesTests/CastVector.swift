import Foundation
import PTViewTestSupport

/// One row of `Tests/Fixtures/cast/manifest.json`, written by `Scripts/make_cast_vectors.py`:
/// a source vector and the bytes real torch made of it.
struct CastVector: Decodable, Sendable, CustomStringConvertible {
  let name: String
  let from: String
  let to: String
  let count: Int
  let byteorder: String
  let inputFile: String?
  let inputGenerator: String?
  let seed: UInt64?
  let expectedFile: String

  enum CodingKeys: String, CodingKey {
    case name, from, to, count, byteorder, seed
    case inputFile = "input_file"
    case inputGenerator = "input_generator"
    case expectedFile = "expected_file"
  }

  var description: String { name }
  var bigEndian: Bool { byteorder == "big" }

  /// The source elements' bytes, read or rebuilt as the manifest says.
  func input() throws -> [UInt8] {
    if let inputFile { return try Fixtures.bytes("cast/" + inputFile) }
    switch inputGenerator {
    case "all":
      return bytes(of: (0...UInt64(0xFFFF)).map { $0 }, width: 2)
    case "splitmix64-float32":
      return bytes(of: CastInputs.float32(seed: seed ?? 0, count: count), width: 4)
    case "splitmix64-float64":
      return bytes(of: CastInputs.float64(seed: seed ?? 0, count: count), width: 8)
    default:
      throw CastVectorError.unknownInput(name)
    }
  }

  /// The expected output bytes, as torch wrote them.
  func expected() throws -> [UInt8] {
    try Fixtures.bytes("cast/" + expectedFile)
  }

  /// `values` as `width`-byte elements in this vector's byte order.
  func bytes(of values: [UInt64], width: Int) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(values.count * width)
    for value in values {
      for k in 0..<width {
        let shift = bigEndian ? (width - 1 - k) * 8 : k * 8
        out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
      }
    }
    return out
  }

  /// Element `index` of `bytes` (elements `width` bytes wide) in hex, most significant first.
  func hex(_ bytes: [UInt8], index: Int, width: Int) -> String {
    let element = bytes[index * width..<(index + 1) * width]
    let ordered = bigEndian ? Array(element) : element.reversed()
    return "0x"
      + ordered.map { String($0, radix: 16, uppercase: true) }
      .map { $0.count == 1 ? "0" + $0 : $0 }.joined()
  }
}

enum CastVectorError: Error {
  case unknownInput(String)
}

/// The manifest, loaded once.
enum CastManifest {
  struct File: Decodable {
    let torch: String
    let vectors: [CastVector]
  }

  static func load() throws -> File {
    try JSONDecoder().decode(File.self, from: Data(Fixtures.bytes("cast/manifest.json")))
  }

  /// Every vector, or none when the manifest is missing (a separate test fails then).
  static let vectors: [CastVector] = (try? load().vectors) ?? []
}
