internal import CCurlLoader
import PTViewCore

/// SHA-256 and HMAC-SHA256 for Signature V4, from OpenSSL's libcrypto opened at the first
/// signed request (libcurl's OpenSSL flavour maps it anyway; docs/decisions.md).
enum Hashing {
  /// Opens libcrypto once per process.
  /// - Throws: `SourceError` naming the package when it is missing.
  static func load() throws(SourceError) {
    var error = [CChar](repeating: 0, count: 512)
    let status = error.withUnsafeMutableBufferPointer { ptv_crypto_load($0.baseAddress, $0.count) }
    guard status != 0 else { return }
    throw SourceError(
      "signing S3 requests needs OpenSSL's libcrypto (Debian: apt-get install libssl3)")
  }

  /// The SHA-256 digest of `bytes` (32 bytes). `load()` must have succeeded.
  static func sha256(_ bytes: [UInt8]) -> [UInt8] {
    var digest = [UInt8](repeating: 0, count: 32)
    bytes.withUnsafeBytes { input in
      digest.withUnsafeMutableBufferPointer {
        ptv_sha256(input.baseAddress, input.count, $0.baseAddress)
      }
    }
    return digest
  }

  /// HMAC-SHA256 of `data` under `key` (32 bytes). `load()` must have succeeded.
  static func hmacSHA256(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
    var mac = [UInt8](repeating: 0, count: 32)
    let status = key.withUnsafeBytes { key in
      data.withUnsafeBytes { data in
        mac.withUnsafeMutableBufferPointer {
          ptv_hmac_sha256(key.baseAddress, key.count, data.baseAddress, data.count, $0.baseAddress)
        }
      }
    }
    // Only a key over 2 GiB fails (OpenSSL takes its length as an int); AWS secrets are 40 bytes.
    precondition(status == 0, "HMAC-SHA256 failed")
    return mac
  }

  /// Lowercase hexadecimal.
  static func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for byte in bytes {
      out.append(digits[Int(byte >> 4)])
      out.append(digits[Int(byte & 15)])
    }
    return String(decoding: out, as: UTF8.self)
  }
}
