import PTViewCore
import Testing

@testable import PTViewRemote

/// The examples of AWS's "Signature Version 4: header-based authentication" page for S3
/// (bucket `examplebucket`, 2013-05-24, us-east-1): the signatures are AWS's published values.
@Suite struct SignatureV4Tests {
  let signer = SignatureV4(
    credentials: AWSCredentials(
      accessKeyID: "AKIAIOSFODNN7EXAMPLE",
      secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    region: "us-east-1")
  let time: Int64 = 1_369_353_600  // 20130524T000000Z

  @Test func getObjectWithRange() throws {
    let headers = try signer.sign(
      method: "GET", path: "/test.txt",
      headers: ["Host": "examplebucket.s3.amazonaws.com", "Range": "bytes=0-9"], time: time)
    #expect(
      headers["Authorization"]
        == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )
    #expect(headers["x-amz-date"] == "20130524T000000Z")
    #expect(headers["x-amz-content-sha256"] == SignatureV4.emptyPayloadHash)
    #expect(headers["x-amz-security-token"] == nil)
  }

  @Test func getBucketLifecycle() throws {
    let headers = try signer.sign(
      method: "GET", path: "/", query: "lifecycle",
      headers: ["host": "examplebucket.s3.amazonaws.com"], time: time)
    #expect(
      headers["Authorization"]?.hasSuffix(
        "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543") == true)
  }

  @Test func listObjects() throws {
    let headers = try signer.sign(
      method: "GET", path: "/", query: "max-keys=2&prefix=J",
      headers: ["host": "examplebucket.s3.amazonaws.com"], time: time)
    #expect(
      headers["Authorization"]?.hasSuffix(
        "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7") == true)
  }

  @Test func sessionTokenIsSignedAndSent() throws {
    var withToken = signer
    withToken.credentials.sessionToken = "token/with+chars"
    let headers = try withToken.sign(
      method: "GET", path: "/k", headers: ["host": "h"], time: time)
    #expect(headers["x-amz-security-token"] == "token/with+chars")
    #expect(headers["Authorization"]?.contains("x-amz-security-token") == true)
  }

  @Test func timestamps() {
    #expect(SignatureV4.timestamp(0) == "19700101T000000Z")
    #expect(SignatureV4.timestamp(951_782_400) == "20000229T000000Z")
    #expect(
      SignatureV4.timestamp(1_798_761_599) == "20261231T235959Z")
  }

  @Test func uriEncoding() {
    #expect(SignatureV4.uriEncode("a b/c~d.e_f-g", keepSlash: true) == "a%20b/c~d.e_f-g")
    #expect(SignatureV4.uriEncode("a/b+c=d", keepSlash: false) == "a%2Fb%2Bc%3Dd")
    #expect(SignatureV4.uriEncode("é", keepSlash: true) == "%C3%A9")
  }

  @Test func percentDecoding() {
    #expect(SignatureV4.percentDecoded("a%20b%2Fc%c3%A9") == "a b/cé")
    // Malformed escapes and non-UTF-8 results leave the text as it was.
    #expect(SignatureV4.percentDecoded("a%2") == "a%2")
    #expect(SignatureV4.percentDecoded("a%+f") == "a%+f")
    #expect(SignatureV4.percentDecoded("%ff") == "%ff")
    #expect(SignatureV4.canonicalQuery("b=%20x&a") == "a=&b=%20x")
  }

  @Test func signingKeyChain() throws {
    try Hashing.load()
    // Python: k = b"AWS4" + secret; for part in (day, region, "s3", "aws4_request"):
    // k = hmac.new(k, part, "sha256").digest()
    #expect(
      Hashing.hex(signer.signingKey(day: "20130524"))
        == "dbb893acc010964918f1fd433add87c70e8b0db6be30c1fbeafefa5ec6ba8378")
  }
}

/// SHA-256 and HMAC-SHA256 through libcrypto against Python's hashlib and hmac (the expected
/// digests were printed by Python 3, not by ptview).
@Suite struct HashingTests {
  @Test func sha256() throws {
    try Hashing.load()
    #expect(
      Hashing.hex(Hashing.sha256([]))
        == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(
      Hashing.hex(Hashing.sha256(Array("abc".utf8)))
        == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    // hashlib.sha256(bytes((i * 31 + 7) & 255 for i in range(1 << 20)))
    let mebibyte = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    #expect(
      Hashing.hex(Hashing.sha256(mebibyte))
        == "06b7bbfb7824aa03382051691630eb26de85102d1b08a81e907ec0744cd8a286")
  }

  @Test func hmac() throws {
    try Hashing.load()
    #expect(
      Hashing.hex(
        Hashing.hmacSHA256(
          key: Array("key".utf8), Array("The quick brown fox jumps over the lazy dog".utf8)))
        == "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8")
    #expect(
      Hashing.hex(Hashing.hmacSHA256(key: [], []))
        == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
    // A key longer than the 64-byte block is hashed first: hmac.new(bytes(range(200)), b"x" * 1000)
    #expect(
      Hashing.hex(
        Hashing.hmacSHA256(key: (0..<200).map { UInt8($0) }, [UInt8](repeating: 0x78, count: 1000)))
        == "5576af22b0afc3e830e6d8633ed5afa662391091ce52f2fd5b1496b2f19e292b")
  }
}
