import Testing

@testable import PTViewCore

/// The string reader skips eight bytes at a time to the first quote, backslash or control
/// byte: each of them, at every place around a word boundary, must end the skip exactly there.
@Suite struct JSONParserTests {
  @Test func findsEachSpecialByteAtEveryPlaceInAWord() throws {
    for before in 0..<18 {
      let head = String(repeating: "a", count: before)
      let tail = String(repeating: "é", count: 5)
      // A quote ends the string.
      #expect(try JSONParser.parse(Array("\"\(head)\"".utf8)) == .string(head))
      // A backslash starts an escape.
      let escaped = try JSONParser.parse(Array("\"\(head)\\n\(tail)\"".utf8))
      #expect(escaped == .string(head + "\n" + tail))
      // A control byte is an error at its own offset... read byte by byte, after the quote.
      var bytes = Array("\"\(head)\(tail)\"".utf8)
      bytes.insert(0x1F, at: 1 + before)
      #expect(throws: JSONError(offset: 2 + before, message: "control character in string")) {
        try JSONParser.parse(bytes)
      }
    }
  }

  @Test func aValueEqualToTheLastIsTheSameTextAndOthersAreNot() throws {
    let text =
      #"{"a": "pytorch_model-00001.bin", "b": "pytorch_model-00001.bin", "c": "pytorch_model-00002.bin", "d": "pytorch_model-00002.bim", "e": ""}"#
    let parsed = try JSONParser.parse(Array(text.utf8))
    #expect(parsed["a"]?.stringValue == "pytorch_model-00001.bin")
    #expect(parsed["b"]?.stringValue == "pytorch_model-00001.bin")
    #expect(parsed["c"]?.stringValue == "pytorch_model-00002.bin")
    #expect(parsed["d"]?.stringValue == "pytorch_model-00002.bim")
    #expect(parsed["e"]?.stringValue == "")
  }
}
