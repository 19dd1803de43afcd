/// Access keys for signing.
public struct AWSCredentials: Sendable, Equatable {
  /// `AWS_ACCESS_KEY_ID` / `aws_access_key_id`.
  public var accessKeyID: String
  /// `AWS_SECRET_ACCESS_KEY` / `aws_secret_access_key`.
  public var secretAccessKey: String
  /// `AWS_SESSION_TOKEN` / `aws_session_token`, for temporary credentials.
  public var sessionToken: String?

  /// Creates credentials.
  public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
    self.accessKeyID = accessKeyID
    self.secretAccessKey = secretAccessKey
    self.sessionToken = sessionToken
  }
}

/// The AWS settings ptview uses, resolved the way the AWS CLI and SDKs resolve them:
/// environment variables first, then the profile (`AWS_PROFILE`, else `default`) in
/// `~/.aws/credentials` and `~/.aws/config` (or `AWS_SHARED_CREDENTIALS_FILE`/`AWS_CONFIG_FILE`).
public struct AWSConfig: Sendable, Equatable {
  /// Nil means anonymous requests (no credentials found, or `--no-sign-request`).
  public var credentials: AWSCredentials?
  /// The region; `us-east-1` when nothing names one.
  public var region: String
  /// A custom endpoint (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, `endpoint_url`): an
  /// S3-compatible store, addressed path-style.
  public var endpoint: String?
  /// The profile's `ca_bundle` (a PEM file to trust for S3 requests); `AWS_CA_BUNDLE`, which
  /// wins over it, is read with the other CA variables (`CABundle.from`).
  public var caBundle: String? = nil

  /// Resolves the configuration.
  /// - Parameters:
  ///   - environment: the process environment.
  ///   - readFile: returns a file's text, or nil when it does not exist.
  ///   - anonymous: `--no-sign-request`.
  public static func resolve(
    environment: [String: String], readFile: (String) -> String?, anonymous: Bool = false
  ) -> AWSConfig {
    let home = environment["HOME"] ?? ""
    let profile = nonEmpty(environment["AWS_PROFILE"]) ?? "default"
    let credentialsPath =
      nonEmpty(environment["AWS_SHARED_CREDENTIALS_FILE"]) ?? home + "/.aws/credentials"
    let configPath = nonEmpty(environment["AWS_CONFIG_FILE"]) ?? home + "/.aws/config"
    let credentialsFile = readFile(credentialsPath).map(parseINI) ?? [:]
    let configFile = readFile(configPath).map(parseINI) ?? [:]
    let fromCredentials = credentialsFile[profile] ?? [:]
    let fromConfig = configFile[profile == "default" ? "default" : "profile " + profile] ?? [:]
    func setting(_ key: String) -> String? {
      nonEmpty(fromCredentials[key]) ?? nonEmpty(fromConfig[key])
    }

    var credentials: AWSCredentials? = nil
    if let id = nonEmpty(environment["AWS_ACCESS_KEY_ID"]),
      let secret = nonEmpty(environment["AWS_SECRET_ACCESS_KEY"])
    {
      credentials = AWSCredentials(
        accessKeyID: id, secretAccessKey: secret,
        sessionToken: nonEmpty(environment["AWS_SESSION_TOKEN"]))
    } else if let id = setting("aws_access_key_id"), let secret = setting("aws_secret_access_key") {
      credentials = AWSCredentials(
        accessKeyID: id, secretAccessKey: secret, sessionToken: setting("aws_session_token"))
    }
    let region =
      nonEmpty(environment["AWS_REGION"]) ?? nonEmpty(environment["AWS_DEFAULT_REGION"])
      ?? nonEmpty(fromConfig["region"]) ?? "us-east-1"
    let endpoint =
      nonEmpty(environment["AWS_ENDPOINT_URL_S3"]) ?? nonEmpty(environment["AWS_ENDPOINT_URL"])
      ?? nonEmpty(fromConfig["endpoint_url"])
    return AWSConfig(
      credentials: anonymous ? nil : credentials, region: region, endpoint: endpoint,
      caBundle: nonEmpty(fromConfig["ca_bundle"]))
  }

  private static func nonEmpty(_ text: String?) -> String? {
    guard let text else { return nil }
    let trimmed = text.trimmingBlanks
    return trimmed.isEmpty ? nil : trimmed
  }

  /// Sections of an INI file (`[name]`, `key = value`, `#`/`;` comments) as dictionaries.
  /// Indented lines (the nested `s3 =` blocks of the config file) are skipped.
  public static func parseINI(_ text: String) -> [String: [String: String]] {
    var sections: [String: [String: String]] = [:]
    var current: String? = nil
    for raw in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
      if raw.first == " " || raw.first == "\t" { continue }
      let line = String(raw).trimmingBlanks
      if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
      if line.hasPrefix("[") && line.hasSuffix("]") {
        let name = String(line.dropFirst().dropLast()).trimmingBlanks
        current = name.split(separator: " ", omittingEmptySubsequences: true).joined(
          separator: " ")
        if sections[current!] == nil { sections[current!] = [:] }
        continue
      }
      guard let section = current, let equals = line.firstIndex(of: "=") else { continue }
      let key = String(line[..<equals]).trimmingBlanks.lowercased()
      let value = String(line[line.index(after: equals)...]).trimmingBlanks
      sections[section]?[key] = value
    }
    return sections
  }
}

extension String {
  /// The text without leading and trailing spaces, tabs and carriage returns.
  var trimmingBlanks: String {
    let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
    guard let first = firstIndex(where: { !blank($0) }) else { return "" }
    let last = lastIndex(where: { !blank($0) })!
    return String(self[first...last])
  }
}
