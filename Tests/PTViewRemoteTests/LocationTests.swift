import PTViewCore
import Testing

@testable import PTViewRemote

@Suite struct LocationTests {
  @Test func parsing() throws {
    #expect(try RemoteLocation.parse("model.pt") == nil)
    #expect(try RemoteLocation.parse("./http:/x") == nil)
    #expect(try RemoteLocation.parse("s3://b/dir/m.pt") == .s3(bucket: "b", key: "dir/m.pt"))
    #expect(try RemoteLocation.parse("S3://b/k?x#y") == .s3(bucket: "b", key: "k?x#y"))
    #expect(throws: SourceError.self) { try RemoteLocation.parse("s3://bucket") }
    #expect(throws: SourceError.self) { try RemoteLocation.parse("s3://bucket/") }
    #expect(throws: SourceError.self) { try RemoteLocation.parse("https:///path") }
    #expect(try RemoteLocation.parse("https://h/x") == .http("https://h/x"))
  }

  @Test func hosts() throws {
    #expect(
      try RemoteLocation.parse("https://user:pw@Hub.HuggingFace.co:443/x")?.host
        == "hub.huggingface.co")
    #expect(try RemoteLocation.parse("http://[::1]:8080/x")?.host == "::1")
  }

  @Test func localNames() {
    #expect(LocalName.of("dir/model.pt") == "dir/model.pt")
    #expect(LocalName.of("https://h/a/b/model.pt?download=1#x") == "model.pt")
    #expect(LocalName.of("s3://bucket/dir/model.pt") == "model.pt")
    #expect(LocalName.of("https://h/") == "download")
    #expect(LocalName.of("s3://bucket/") == "download")
  }

  @Test func tokens() throws {
    let hf = try RemoteLocation.parse("https://huggingface.co/org/m/resolve/main/m.bin")!
    let other = try RemoteLocation.parse("https://example.org/m.bin")!
    #expect(HTTPFetcher.token(for: hf, environment: ["HF_TOKEN": "t"]) == "t")
    #expect(HTTPFetcher.token(for: other, environment: ["HF_TOKEN": "t"]) == nil)
    #expect(HTTPFetcher.token(for: other, environment: ["PTVIEW_HTTP_TOKEN": "p"]) == "p")
    #expect(
      HTTPFetcher.token(for: hf, environment: ["HF_TOKEN": "t", "PTVIEW_HTTP_TOKEN": "p"]) == "p")
  }
}

@Suite struct AWSConfigTests {
  let credentials = """
    [default]
    aws_access_key_id = DEFAULTKEY
    aws_secret_access_key = defaultsecret

    # a comment
    [work]
    aws_access_key_id=WORKKEY
    aws_secret_access_key=worksecret
    aws_session_token = worktoken\r
    """
  let config = """
    [default]
    region = eu-west-1
    [profile work]
    region = ap-south-1
    endpoint_url = http://127.0.0.1:9000
    s3 =
      addressing_style = path
    """

  func files(_ path: String) -> String? {
    switch path {
    case "/home/u/.aws/credentials": return credentials
    case "/home/u/.aws/config": return config
    default: return nil
    }
  }

  @Test func environmentWins() {
    let c = AWSConfig.resolve(
      environment: [
        "HOME": "/home/u", "AWS_ACCESS_KEY_ID": "ENV", "AWS_SECRET_ACCESS_KEY": "envsecret",
        "AWS_SESSION_TOKEN": "envtoken", "AWS_DEFAULT_REGION": "us-west-2",
        "AWS_ENDPOINT_URL": "http://a", "AWS_ENDPOINT_URL_S3": "http://b",
      ], readFile: files)
    #expect(
      c.credentials
        == AWSCredentials(
          accessKeyID: "ENV", secretAccessKey: "envsecret", sessionToken: "envtoken"))
    #expect(c.region == "us-west-2")
    #expect(c.endpoint == "http://b")
  }

  @Test func defaultProfile() {
    let c = AWSConfig.resolve(environment: ["HOME": "/home/u"], readFile: files)
    #expect(
      c.credentials == AWSCredentials(accessKeyID: "DEFAULTKEY", secretAccessKey: "defaultsecret"))
    #expect(c.region == "eu-west-1")
    #expect(c.endpoint == nil)
  }

  @Test func namedProfile() {
    let c = AWSConfig.resolve(
      environment: ["HOME": "/home/u", "AWS_PROFILE": "work", "AWS_REGION": "us-east-2"],
      readFile: files)
    #expect(
      c.credentials
        == AWSCredentials(
          accessKeyID: "WORKKEY", secretAccessKey: "worksecret", sessionToken: "worktoken"))
    #expect(c.region == "us-east-2")
    #expect(c.endpoint == "http://127.0.0.1:9000")
  }

  @Test func anonymous() {
    let none = AWSConfig.resolve(environment: ["HOME": "/nowhere"], readFile: files)
    #expect(none.credentials == nil && none.region == "us-east-1")
    let asked = AWSConfig.resolve(
      environment: ["HOME": "/home/u"], readFile: files, anonymous: true)
    #expect(asked.credentials == nil)
  }

  @Test func s3Addressing() throws {
    let transport = HTTPTransport()
    let aws = try S3Fetcher(
      bucket: "b", key: "dir/a b.pt", config: AWSConfig(credentials: nil, region: "eu-west-1"),
      transport: transport)
    #expect(aws.url.absoluteString == "https://b.s3.eu-west-1.amazonaws.com/dir/a%20b.pt")
    let dotted = try S3Fetcher(
      bucket: "my.b", key: "k", config: AWSConfig(credentials: nil, region: "us-east-1"),
      transport: transport)
    #expect(dotted.url.absoluteString == "https://s3.us-east-1.amazonaws.com/my.b/k")
    let local = try S3Fetcher(
      bucket: "b", key: "k",
      config: AWSConfig(credentials: nil, region: "us-east-1", endpoint: "http://127.0.0.1:9000/"),
      transport: transport)
    #expect(local.url.absoluteString == "http://127.0.0.1:9000/b/k")
    #expect(local.host == "127.0.0.1:9000")
    #expect(local.path == "/b/k")
  }
}
