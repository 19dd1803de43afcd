/// Strings from bytes read out of files (zip record names, JSON strings), fast for the ASCII
/// that nearly all of them are.
enum UTF8Text {
  /// The bytes as a String, or nil when they are not valid UTF-8: exactly
  /// `String(validating:as:)`, but ASCII takes the plain decode. The validating initializer's
  /// generic path cost about 1,200 instructions per short name, which for an archive of
  /// 80,000 records (or an index of 20,000 keys) was a large share of reading it.
  static func string(_ buffer: UnsafeBufferPointer<UInt8>) -> String? {
    var high: UInt8 = 0
    for byte in buffer { high |= byte }
    if high < 0x80 { return String(decoding: buffer, as: UTF8.self) }
    return String(validating: buffer, as: UTF8.self)
  }

  /// `string` of an array slice.
  static func string(_ bytes: ArraySlice<UInt8>) -> String? {
    bytes.withUnsafeBufferPointer { string($0) }
  }
}
