/// What `ptview --version` prints: the release and the commit the binary was built from.
enum Version {
  /// The release; `Scripts/package.sh` names the Debian package after it.
  static let number = "0.1.0"

  /// `ptview 0.1.0 (commit 0123456789ab)`; `-dirty` after the commit when tracked files
  /// differed from it, `commit unknown` for a build without git information (a tarball not
  /// made by `git archive`). The commit comes from the BuildCommit plugin (docs/decisions.md).
  static var line: String {
    "ptview \(number) (commit \(BuildCommit.hash.isEmpty ? "unknown" : BuildCommit.hash))"
  }
}
