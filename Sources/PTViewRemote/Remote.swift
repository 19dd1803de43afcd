public import PTViewCore
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Opens remote locations: the one entry point the CLI uses.
public enum Remote {
  /// Opens `location` with the process's environment and AWS configuration.
  /// - Parameters:
  ///   - anonymous: `--no-sign-request`: never sign S3 requests.
  ///   - transport: the transport to use; by default the process's shared one for the
  ///     settings the environment gives (`HTTPTransport.shared`: CA trust, the libcurl to
  ///     open), so that every file a command opens reuses the same pooled connections.
  ///   - opening: where the first request reads (`RemoteSource.Opening`).
  public static func open(
    _ location: RemoteLocation, environment: [String: String], anonymous: Bool = false,
    transport: HTTPTransport? = nil, opening: RemoteSource.Opening = .tail
  ) throws(SourceError) -> RemoteSource {
    let fetcher: any RangeFetcher
    switch location {
    case .http(let text):
      let transport = transport ?? .shared(.from(environment: environment))
      fetcher = try HTTPFetcher(
        text, token: HTTPFetcher.token(for: location, environment: environment),
        transport: transport)
    case .s3(let bucket, let key):
      let config = awsConfig(environment: environment, anonymous: anonymous)
      fetcher = try S3Fetcher(
        bucket: bucket, key: key, config: config,
        transport: transport ?? s3Transport(config, environment: environment))
    }
    return try RemoteSource(fetcher: fetcher, opening: opening)
  }

  /// The objects directly under the folder `location` names (`s3://BUCKET/PREFIX/`), as
  /// locations, in the store's order, and whether the store has more than one page of them.
  /// - Throws: `SourceError` for an HTTP location (HTTP has no listing) or a refused listing.
  public static func list(
    _ location: RemoteLocation, environment: [String: String], anonymous: Bool = false
  ) throws(SourceError) -> (files: [RemoteLocation], truncated: Bool) {
    guard case .s3(let bucket, let key) = location else {
      throw SourceError("an HTTP server cannot be asked for a folder's files")
    }
    let config = awsConfig(environment: environment, anonymous: anonymous)
    let listing = try S3Listing.list(
      bucket: bucket, prefix: key, config: config,
      transport: s3Transport(config, environment: environment))
    let files = listing.keys.filter { $0.hasPrefix(key) && $0.count > key.count }.map {
      RemoteLocation.s3(bucket: bucket, key: $0)
    }
    return (files, listing.truncated)
  }

  /// The shared transport for S3 requests: AWS's CA settings first (`CABundle.from`).
  static func s3Transport(_ config: AWSConfig, environment: [String: String]) -> HTTPTransport {
    .shared(.from(environment: environment, s3: true, awsProfileBundle: config.caBundle))
  }

  /// The AWS configuration, resolved once per environment and flag: a folder's shards would
  /// otherwise read the AWS files once each.
  static func awsConfig(environment: [String: String], anonymous: Bool) -> AWSConfig {
    let key = ConfigKey(environment: environment, anonymous: anonymous)
    if let known = resolvedConfigs.withLock({ $0[key] }) { return known }
    let config = AWSConfig.resolve(
      environment: environment, readFile: readTextFile, anonymous: anonymous)
    resolvedConfigs.withLock { $0[key] = config }
    return config
  }

  private struct ConfigKey: Hashable {
    var environment: [String: String]
    var anonymous: Bool
  }

  private static let resolvedConfigs = Mutex<[ConfigKey: AWSConfig]>([:])

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
