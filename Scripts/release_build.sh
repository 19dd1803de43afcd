# Sourced by setup.sh and package.sh: `release_build` builds the release ptview with the Swift
# runtime linked in (it runs without the toolchain's libraries, on a machine that has no Swift)
# and swift-argument-parser's generate-manual tool, which writes the man page from the same
# command definitions (the tool the parser's `generate-manual` plugin runs: the plugin would
# rebuild the whole package in its own configuration first, and replace the binary with one
# that needs the toolchain). No $ORIGIN run path: an installed binary loads libraries from the
# system's folders only. Sets RELEASE_BIN to the folder holding both. A second call is an
# up-to-date check of a few seconds, so setup and package share one build.
release_build() {
  command -v swift >/dev/null || {
    echo "the Swift 6.3 toolchain is required (swift.org/install)" >&2
    return 1
  }
  local flags=(-c release --static-swift-stdlib --disable-local-rpath)
  swift build "${flags[@]}" --product ptview
  swift build "${flags[@]}" --product generate-manual
  RELEASE_BIN=$(swift build "${flags[@]}" --show-bin-path)
}
