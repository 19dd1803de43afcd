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
    #expect(aws.url == "https://b.s3.eu-west-1.amazonaws.com/dir/a%20b.pt")
    let dotted = try S3Fetcher(
      bucket: "my.b", key: "k", config: AWSConfig(credentials: nil, region: "us-east-1"),
      transport: transport)
    #expect(dotted.url == "https://s3.us-east-1.amazonaws.com/my.b/k")
    let local = try S3Fetcher(
      bucket: "b", key: "k",
      config: AWSConfig(credentials: nil, region: "us-east-1", endpoint: "http://127.0.0.1:9000/"),
      transport: transport)
    #expect(local.url == "http://127.0.0.1:9000/b/k")
    #expect(local.host == "127.0.0.1:9000")
    #expect(local.path == "/b/k")
    // A default port is not part of the signed Host header (libcurl leaves it out too).
    let port80 = try S3Fetcher(
      bucket: "b", key: "k",
      config: AWSConfig(credentials: nil, region: "us-east-1", endpoint: "http://minio:80/base/"),
      transport: transport)
    #expect(port80.host == "minio")
    #expect(port80.path == "/base/b/k")
    #expect(throws: SourceError.self) {
      try S3Fetcher(
        bucket: "b", key: "k",
        config: AWSConfig(credentials: nil, region: "us-east-1", endpoint: "http://h:port"),
        transport: transport)
    }
  }
}

@Suite struct URLPartsTests {
  @Test func parts() throws {
    let url = try #require(URLParts("HTTPS://user:pw@Host.Example:8443/a/b%20c?x=1#f"))
    #expect(url.scheme == "https" && url.host == "host.example" && url.port == 8443)
    #expect(url.path == "/a/b%20c")
    #expect(url.hostHeader == "host.example:8443")
    let v6 = try #require(URLParts("http://[::1]:9000"))
    #expect(v6.host == "::1" && v6.path == "" && v6.hostHeader == "[::1]:9000")
    #expect(URLParts("https://h:443/")?.hostHeader == "h")
    #expect(URLParts("https:///path") == nil)
    #expect(URLParts("http://h:x/") == nil)
    #expect(URLParts("h/x") == nil)
  }

  @Test func origins() throws {
    let a = try #require(URLParts("https://h/x"))
    #expect(a.sameOrigin(as: try #require(URLParts("https://H:443/y"))))
    #expect(!a.sameOrigin(as: try #require(URLParts("http://h/x"))))
    #expect(!a.sameOrigin(as: try #require(URLParts("https://h:8443/x"))))
    #expect(!a.sameOrigin(as: try #require(URLParts("https://cdn.h/x"))))
  }

  @Test func caBundleFromEnvironment() {
    #expect(CABundle.from(environment: [:]) == nil)
    #expect(
      CABundle.from(environment: ["SSL_CERT_FILE": "/s.pem"])
        == CABundle(variable: "SSL_CERT_FILE", path: "/s.pem"))
    #expect(
      CABundle.from(environment: ["SSL_CERT_FILE": "/s.pem", "CURL_CA_BUNDLE": "/c.pem"])
        == CABundle(variable: "CURL_CA_BUNDLE", path: "/c.pem"))
    #expect(
      CABundle.from(environment: ["SSL_CERT_FILE": "/s.pem", "CURL_CA_BUNDLE": ""])?.variable
        == "SSL_CERT_FILE")
  }
}
