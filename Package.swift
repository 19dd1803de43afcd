// swift-tools-version: 6.2
import PackageDescription

/// Settings every first-party target gets.
let strict: [SwiftSetting] = [
  .treatAllWarnings(as: .error),
  .enableUpcomingFeature("ExistentialAny"),
  .enableUpcomingFeature("InternalImportsByDefault"),
  .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
  name: "ptview",
  products: [.executable(name: "ptview", targets: ["ptview"])],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
  ],
  targets: [
    // C libraries: a module map and a shim header, nothing else.
    .systemLibrary(name: "CNcursesw", providers: [.apt(["libncursesw5-dev"])]),
    // libzip opened with dlopen at the first compressed record, never linked: <zip.h>'s types
    // (libzip-dev at build time) and ptv_zip_ functions that call through dlsym's pointers.
    .target(name: "CLibzip"),

    // Pure Swift, standard library only: opcodes, the VM, the value graph, the protocol-2 writer.
    .target(name: "PTViewPickle", swiftSettings: strict),
    // Reading torch files: containers, torch semantics over the graph, reports. No I/O, no C.
    .target(name: "PTViewCore", dependencies: ["PTViewPickle"], swiftSettings: strict),
    // Element values: decoding and bit-exact dtype conversion. Standard library only.
    .target(name: "PTViewValues", swiftSettings: strict),
    // Editing and writing them: the edit vocabulary, the planner, the rewriter and verifier.
    .target(
      name: "PTViewEdit", dependencies: ["PTViewCore", "PTViewValues"], swiftSettings: strict),
    // Judging them: the load doctor and the safety scan. The doctor asks the edit planner
    // which `ptview edit` fixes would succeed (docs/decisions.md).
    .target(
      name: "PTViewJudge", dependencies: ["PTViewCore", "PTViewEdit"], swiftSettings: strict),
    // The explorer's state machine and screen rendering. No I/O, no C.
    // PTViewValues for the values pane: statistics, histograms and torch's element text.
    .target(
      name: "PTViewTUI", dependencies: ["PTViewCore", "PTViewEdit", "PTViewJudge", "PTViewValues"],
      swiftSettings: strict),

    // Adapters: the only targets that touch the operating system or a C library.
    .target(name: "PTViewZip", dependencies: ["PTViewCore", "CLibzip"], swiftSettings: strict),
    // Checkpoints over HTTP(S) and S3: a `ByteSource` of range requests (libcurl), the AWS
    // configuration and Signature V4 (libcrypto). The core never learns that bytes came from
    // afar. No Foundation: it would cost every local run (docs/decisions.md).
    .target(
      name: "PTViewRemote", dependencies: ["PTViewCore", "CCurlLoader"], swiftSettings: strict),
    // libcurl and libcrypto opened with dlopen at the first remote request, never linked.
    .target(name: "CCurlLoader"),
    .target(name: "CSystemShims"),  // copy_file_range and mallopt, which Glibc's Swift module hides
    .target(name: "CChecksum"),  // CRC-32 by carry-less multiplication, chosen at run time
    .target(
      name: "PTViewFiles",
      dependencies: ["PTViewCore", "PTViewEdit", "PTViewValues", "CSystemShims", "CChecksum"],
      swiftSettings: strict),
    .target(name: "PTViewCurses", dependencies: ["PTViewTUI", "CNcursesw"], swiftSettings: strict),

    // The whole edit pipeline over real files: read, plan, rewrite, write atomically, verify.
    .target(
      name: "PTViewPipeline",
      dependencies: [
        "PTViewCore", "PTViewEdit", "PTViewJudge", "PTViewFiles", "PTViewZip", "CSystemShims",
      ],
      swiftSettings: strict),

    // Thin shell: argument parsing, wiring, exit codes, printing.
    .executableTarget(
      name: "ptview",
      dependencies: [
        "PTViewCore", "PTViewEdit", "PTViewJudge", "PTViewPipeline", "PTViewZip", "PTViewFiles",
        "PTViewTUI", "PTViewCurses", "PTViewValues", "PTViewRemote",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: strict,
      plugins: ["BuildCommit"]
    ),
    // Stamps the git commit the sources were built from into `ptview --version`.
    .plugin(name: "BuildCommit", capability: .buildTool()),

    .target(
      name: "PTViewTestSupport",
      dependencies: ["PTViewPickle", "PTViewCore", "PTViewEdit", "PTViewFiles", "PTViewZip"],
      path: "Tests/PTViewTestSupport"
    ),
    .testTarget(name: "PTViewPickleTests", dependencies: ["PTViewPickle", "PTViewTestSupport"]),
    .testTarget(name: "PTViewCoreTests", dependencies: ["PTViewCore", "PTViewTestSupport"]),
    .testTarget(name: "PTViewValuesTests", dependencies: ["PTViewValues", "PTViewTestSupport"]),
    .testTarget(name: "PTViewEditTests", dependencies: ["PTViewEdit", "PTViewTestSupport"]),
    .testTarget(
      name: "PTViewJudgeTests",
      dependencies: ["PTViewJudge", "PTViewFiles", "PTViewZip", "PTViewTestSupport"]),
    .testTarget(
      name: "PTViewPipelineTests",
      dependencies: [
        "PTViewPipeline", "PTViewEdit", "PTViewFiles", "PTViewZip", "CSystemShims",
        "PTViewTestSupport",
      ]),
    .testTarget(name: "PTViewRemoteTests", dependencies: ["PTViewRemote", "PTViewTestSupport"]),
    .testTarget(name: "PTViewZipTests", dependencies: ["PTViewZip", "PTViewTestSupport"]),
    .testTarget(name: "PTViewFilesTests", dependencies: ["PTViewFiles", "PTViewTestSupport"]),
    .testTarget(
      name: "PTViewTUITests",
      dependencies: [
        "PTViewTUI", "PTViewFiles", "PTViewValues", "PTViewPipeline", "PTViewTestSupport",
      ],
      exclude: ["Goldens"]),
    .testTarget(name: "PTViewCursesTests", dependencies: ["PTViewCurses", "PTViewTestSupport"]),
    .testTarget(name: "ptviewTests", dependencies: ["PTViewTestSupport"]),
  ]
)
