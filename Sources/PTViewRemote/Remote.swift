import Foundation
public import PTViewCore

/// Opens remote locations: the one entry point the CLI uses.
public enum Remote {
  /// Opens `location` with the process's environment and AWS configuration.
  /// - Parameter anonymous: `--no-sign-request`: never sign S3 requests.
  public static func open(
    _ location: RemoteLocation, environment: [String: String], anonymous: Bool = false,
    transport: HTTPTransport = HTTPTransport()
  ) throws(SourceError) -> RemoteSource {
    let fetcher: any RangeFetcher
    switch location {
    case .http(let text):
      fetcher = try HTTPFetcher(
        text, token: HTTPFetcher.token(for: location, environment: environment),
        transport: transport)
    case .s3(let bucket, let key):
      let config = AWSConfig.resolve(
        environment: environment,
        readFile: { try? String(contentsOfFile: $0, encoding: .utf8) }, anonymous: anonymous)
      fetcher = try S3Fetcher(bucket: bucket, key: key, config: config, transport: transport)
    }
    return try RemoteSource(fetcher: fetcher)
  }
}
