import Foundation
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
  let date = Date(timeIntervalSince1970: 1_369_353_600)  // 20130524T000000Z

  @Test func getObjectWithRange() {
    let headers = signer.sign(
      method: "GET", path: "/test.txt",
      headers: ["Host": "examplebucket.s3.amazonaws.com", "Range": "bytes=0-9"], date: date)
    #expect(
      headers["Authorization"]
        == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )
    #expect(headers["x-amz-date"] == "20130524T000000Z")
    #expect(headers["x-amz-content-sha256"] == SignatureV4.emptyPayloadHash)
    #expect(headers["x-amz-security-token"] == nil)
  }

  @Test func getBucketLifecycle() {
    let headers = signer.sign(
      method: "GET", path: "/", query: "lifecycle",
      headers: ["host": "examplebucket.s3.amazonaws.com"], date: date)
    #expect(
      headers["Authorization"]?.hasSuffix(
        "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543") == true)
  }

  @Test func listObjects() {
    let headers = signer.sign(
      method: "GET", path: "/", query: "max-keys=2&prefix=J",
      headers: ["host": "examplebucket.s3.amazonaws.com"], date: date)
    #expect(
      headers["Authorization"]?.hasSuffix(
        "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7") == true)
  }

  @Test func sessionTokenIsSignedAndSent() {
    var withToken = signer
    withToken.credentials.sessionToken = "token/with+chars"
    let headers = withToken.sign(
      method: "GET", path: "/k", headers: ["host": "h"], date: date)
    #expect(headers["x-amz-security-token"] == "token/with+chars")
    #expect(headers["Authorization"]?.contains("x-amz-security-token") == true)
  }

  @Test func timestamps() {
    #expect(SignatureV4.timestamp(Date(timeIntervalSince1970: 0)) == "19700101T000000Z")
    #expect(SignatureV4.timestamp(Date(timeIntervalSince1970: 951_782_400)) == "20000229T000000Z")
    #expect(
      SignatureV4.timestamp(Date(timeIntervalSince1970: 1_798_761_599)) == "20261231T235959Z")
  }

  @Test func uriEncoding() {
    #expect(SignatureV4.uriEncode("a b/c~d.e_f-g", keepSlash: true) == "a%20b/c~d.e_f-g")
    #expect(SignatureV4.uriEncode("a/b+c=d", keepSlash: false) == "a%2Fb%2Bc%3Dd")
    #expect(SignatureV4.uriEncode("é", keepSlash: true) == "%C3%A9")
  }
}
