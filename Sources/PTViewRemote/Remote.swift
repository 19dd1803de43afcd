public import PTViewCore

#if canImport(Glibc)
  import Glibc
#endif

/// Opens remote locations: the one entry point the CLI uses.
public enum Remote {
  /// Opens `location` with the process's environment and AWS configuration.
  /// - Parameters:
  ///   - anonymous: `--no-sign-request`: never sign S3 requests.
  ///   - transport: the transport to use; by default one set up from `environment` (a CA
  ///     bundle, the libcurl to open).
  public static func open(
    _ location: RemoteLocation, environment: [String: String], anonymous: Bool = false,
    transport: HTTPTransport? = nil
  ) throws(SourceError) -> RemoteSource {
    let transport = transport ?? HTTPTransport(environment: environment)
    let fetcher: any RangeFetcher
    switch location {
    case .http(let text):
      fetcher = try HTTPFetcher(
        text, token: HTTPFetcher.token(for: location, environment: environment),
        transport: transport)
    case .s3(let bucket, let key):
      let config = AWSConfig.resolve(
        environment: environment,
        readFile: readTextFile, anonymous: anonymous)
      fetcher = try S3Fetcher(bucket: bucket, key: key, config: config, transport: transport)
    }
    return try RemoteSource(fetcher: fetcher)
  }

  /// The most bytes read from an AWS configuration file.
  static let maxConfigBytes = 4 << 20

  /// The text of the file at `path`; nil when it cannot be opened, is not a regular file, or
  /// is larger than `maxConfigBytes`.
  static func readTextFile(_ path: String) -> String? {
    let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var status = stat()
    guard fstat(fd, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG,
      status.st_size <= maxConfigBytes
    else { return nil }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 << 10)
    while bytes.count <= maxConfigBytes {
      let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if count < 0 && errno == EINTR { continue }
      guard count >= 0 else { return nil }
      if count == 0 { return String(decoding: bytes, as: UTF8.self) }
      bytes += chunk[..<count]
    }
    return nil
  }
}
