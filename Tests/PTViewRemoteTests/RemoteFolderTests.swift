import PTViewCore
import Testing

@testable import PTViewRemote

/// Remote folders: where a shard lives beside its index, what a hostile index cannot name,
/// the S3 listing that finds an index, and the CA settings each kind of location reads.
@Suite struct RemoteFolderTests {
  @Test func namesAndFolders() throws {
    let hf = try #require(
      try RemoteLocation.parse(
        "https://huggingface.co/org/m/resolve/main/model.safetensors.index.json?download=true"))
    #expect(hf.lastName == "model.safetensors.index.json")
    #expect(hf.folderText == "https://huggingface.co/org/m/resolve/main")
    #expect(!hf.isFolder)
    let s3 = RemoteLocation.s3(bucket: "b", key: "runs/a?b#c/pytorch_model.bin.index.json")
    #expect(s3.lastName == "pytorch_model.bin.index.json")
    #expect(s3.folderText == "s3://b/runs/a?b#c")
    #expect(RemoteLocation.s3(bucket: "b", key: "runs/").isFolder)
    #expect(RemoteLocation.http("http://h/a%20b/x%2Ey.index.json").lastName == "x.y.index.json")
    #expect(RemoteLocation.http("http://h/dir/").isFolder)
  }

  @Test func siblingsStayInTheFolder() throws {
    let hf = RemoteLocation.http("https://h/org/m/resolve/main/model.safetensors.index.json?x=1")
    #expect(
      try hf.sibling("model-00001-of-00002.safetensors")
        == .http("https://h/org/m/resolve/main/model-00001-of-00002.safetensors"))
    // Characters a URL reads specially are escaped, so the name stays one name.
    #expect(
      try hf.sibling("a?b#c d.bin") == .http("https://h/org/m/resolve/main/a%3Fb%23c%20d.bin"))
    #expect(
      try hf.sibling("http:evil.bin") == .http("https://h/org/m/resolve/main/http%3Aevil.bin"))
    let s3 = RemoteLocation.s3(bucket: "b", key: "m/pytorch_model.bin.index.json")
    #expect(try s3.sibling("x?.bin") == .s3(bucket: "b", key: "m/x?.bin"))
    #expect(
      try RemoteLocation.s3(bucket: "b", key: "i.index.json").sibling("s.bin")
        == .s3(bucket: "b", key: "s.bin"))
    for hostile in [
      "", ".", "..", "../x.bin", "/etc/passwd", "https://evil.example/x.bin", "a\\..\\b.bin",
      "x\r\nHost: evil", "a\u{7F}",
    ] {
      #expect(throws: SourceError.self) { try hf.sibling(hostile) }
      #expect(throws: SourceError.self) { try s3.sibling(hostile) }
    }
  }

  @Test func listingParse() {
    let xml = """
      <?xml version="1.0" encoding="UTF-8"?>
      <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
      <Name>b</Name><Prefix>m/</Prefix><KeyCount>3</KeyCount><IsTruncated>false</IsTruncated>
      <Contents><Key>m/config.json</Key><Size>10</Size></Contents>
      <Contents><Key>m/a&amp;b &lt;1&gt; &#233;&#x4E2D;&bogus;.bin</Key><Size>10</Size></Contents>
      <CommonPrefixes><Prefix>m/sub/</Prefix></CommonPrefixes>
      <Contents><Key>m/model.safetensors.index.json</Key></Contents>
      </ListBucketResult>
      """
    let listing = S3Listing.parse(xml)
    #expect(
      listing.keys == [
        "m/config.json", "m/a&b <1> é中&bogus;.bin", "m/model.safetensors.index.json",
      ])
    #expect(!listing.truncated)
    #expect(S3Listing.parse("<IsTruncated>true</IsTruncated>").truncated)
    #expect(S3Listing.parse("<Contents><Key>x").keys.isEmpty)
  }

  @Test func caSettingsByKindOfLocation() {
    let all = [
      "AWS_CA_BUNDLE": "/aws.pem", "CURL_CA_BUNDLE": "/curl.pem", "SSL_CERT_FILE": "/ssl.pem",
      "SSL_CERT_DIR": "/certs",
    ]
    // HTTP(S): curl's order; AWS's variable is not read.
    #expect(CABundle.from(environment: all)?.variable == "CURL_CA_BUNDLE")
    #expect(CABundle.from(environment: ["AWS_CA_BUNDLE": "/aws.pem"]) == nil)
    // S3: AWS_CA_BUNDLE, then the profile's ca_bundle, then curl's order.
    #expect(
      CABundle.from(environment: all, s3: true, awsProfileBundle: "/p.pem")?.path == "/aws.pem")
    #expect(
      CABundle.from(
        environment: ["SSL_CERT_FILE": "/ssl.pem"], s3: true, awsProfileBundle: "/p.pem")
        == CABundle(variable: "ca_bundle", path: "/p.pem"))
    #expect(
      CABundle.from(environment: ["SSL_CERT_FILE": "/ssl.pem", "AWS_CA_BUNDLE": ""], s3: true)?.path
        == "/ssl.pem")
    #expect(
      CABundle.directory(environment: all) == CABundle(variable: "SSL_CERT_DIR", path: "/certs"))
    #expect(CABundle.directory(environment: ["SSL_CERT_DIR": ""]) == nil)
    let settings = HTTPTransport.Settings.from(environment: all, s3: true)
    #expect(
      settings.caBundle?.variable == "AWS_CA_BUNDLE" && settings.caDirectory?.path == "/certs")
  }

  @Test func sharedTransportsPerSettings() {
    let a = HTTPTransport.shared(.init(caBundle: CABundle(variable: "SSL_CERT_FILE", path: "/a")))
    let again = HTTPTransport.shared(
      .init(caBundle: CABundle(variable: "SSL_CERT_FILE", path: "/a")))
    let other = HTTPTransport.shared(
      .init(caDirectory: CABundle(variable: "SSL_CERT_DIR", path: "/a")))
    #expect(a === again)
    #expect(a !== other)
  }

  @Test func profileCABundle() {
    let config = AWSConfig.resolve(
      environment: ["HOME": "/h", "AWS_PROFILE": "ci"],
      readFile: { $0 == "/h/.aws/config" ? "[profile ci]\nca_bundle = /corp.pem\n" : nil })
    #expect(config.caBundle == "/corp.pem")
    #expect(AWSConfig.resolve(environment: ["HOME": "/h"], readFile: { _ in nil }).caBundle == nil)
  }
}
