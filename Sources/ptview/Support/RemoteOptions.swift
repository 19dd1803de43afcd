import ArgumentParser

/// `--no-sign-request`, for every verb that reads a path (any of which may be an s3:// URL):
/// one option group, so each verb's help shows it and it parses wherever the verb's options
/// do. The AWS CLI's spelling, because S3 users already know it.
struct RemoteOptions: ParsableArguments {
  @Flag(
    name: .customLong("no-sign-request"),
    help: "Send S3 requests unsigned (public buckets).")
  var noSignRequest = false

  /// Sets `Loading.anonymous` while the verb's arguments are decoded, before it runs: the
  /// argument parser validates option groups as it decodes them.
  mutating func validate() throws {
    if noSignRequest { Loading.anonymous = true }
  }
}
