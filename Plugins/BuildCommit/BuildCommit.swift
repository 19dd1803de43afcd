import Foundation
import PackagePlugin

/// Writes `BuildCommit.swift` into the `ptview` target before every build: the git commit the
/// sources were built from, for `ptview --version` (docs/decisions.md, "The commit in
/// --version"). A prebuild command runs on every build, so the stamp is never stale; it
/// rewrites the file only when the text changes, so an unchanged commit recompiles nothing.
///
/// Where the commit comes from, in order:
/// - `git -C PACKAGE rev-parse`, when PACKAGE is the top of a git work tree (not a folder
///   unpacked inside some other repository), with `-dirty` when tracked files differ;
/// - `Plugins/BuildCommit/archive-commit`, which `git archive` fills in (export-subst in
///   .gitattributes), for a tarball made from a commit;
/// - otherwise nothing, and `--version` says the commit is unknown. A build never fails here.
@main
struct BuildCommit: BuildToolPlugin {
  func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
    let output = context.pluginWorkDirectoryURL.appending(path: "generated")
    let package = context.package.directoryURL
    return [
      .prebuildCommand(
        displayName: "Stamping the git commit into \(target.name)",
        executable: URL(filePath: "/bin/sh"),
        arguments: [
          "-c", Self.script, "stamp", package.path(percentEncoded: false),
          output.appending(path: "BuildCommit.swift").path(percentEncoded: false),
        ],
        outputFilesDirectory: output)
    ]
  }

  /// `sh -c SCRIPT stamp PACKAGE_DIR OUTPUT_FILE`.
  static let script = #"""
    dir=$1 out=$2
    commit=
    top=$(git -C "$dir" rev-parse --show-toplevel 2>/dev/null)
    if [ -n "$top" ] && [ "$top" -ef "$dir" ]; then
      commit=$(git -C "$dir" rev-parse --short=12 HEAD 2>/dev/null)
      if [ -n "$commit" ] &&
        [ -n "$(GIT_OPTIONAL_LOCKS=0 git -C "$dir" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
        commit="$commit-dirty"
      fi
    elif [ -f "$dir/Plugins/BuildCommit/archive-commit" ]; then
      commit=$(sed -n '1{/^[0-9a-f]\{40\}$/p;}' "$dir/Plugins/BuildCommit/archive-commit" | cut -c1-12)
    fi
    mkdir -p "$(dirname "$out")"
    printf '%s\n' '// Written by the BuildCommit plugin at build time; not in git.' \
      'enum BuildCommit {' \
      '  /// The commit the sources were built from (12 digits, -dirty when tracked files' \
      '  /// differed), or empty when the build had no git information.' \
      "  static let hash = \"$commit\"" '}' > "$out.new"
    if cmp -s "$out.new" "$out"; then rm -f "$out.new"; else mv "$out.new" "$out"; fi
    """#
}
