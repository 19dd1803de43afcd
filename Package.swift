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
    // C libraries: a module map and a shim header each, nothing else.
    .systemLibrary(name: "CLibzip", pkgConfig: "libzip", providers: [.apt(["libzip-dev"])]),
    .systemLibrary(name: "CNcursesw", providers: [.apt(["libncursesw5-dev"])]),

    // Pure Swift, standard library only: opcodes, the VM, the value graph, the protocol-2 writer.
    .target(name: "PTViewPickle", swiftSettings: strict),
    // Torch semantics over the graph; containers read through protocols. No I/O, no C.
    .target(name: "PTViewCore", dependencies: ["PTViewPickle"], swiftSettings: strict),
    // The explorer's state machine and screen rendering. No I/O, no C.
    .target(name: "PTViewTUI", dependencies: ["PTViewCore"], swiftSettings: strict),

    // Adapters: the only targets that touch the operating system or a C library.
    .target(name: "PTViewZip", dependencies: ["PTViewCore", "CLibzip"], swiftSettings: strict),
    .target(name: "CSystemShims"),  // copy_file_range and mallopt, which Glibc's Swift module hides
    .target(
      name: "PTViewFiles", dependencies: ["PTViewCore", "CSystemShims"], swiftSettings: strict),
    .target(name: "PTViewCurses", dependencies: ["PTViewTUI", "CNcursesw"], swiftSettings: strict),

    // Thin shell: argument parsing, wiring, exit codes, printing.
    .executableTarget(
      name: "ptview",
      dependencies: [
        "PTViewCore", "PTViewZip", "PTViewFiles", "PTViewTUI", "PTViewCurses",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: strict
    ),

    .target(
      name: "PTViewTestSupport",
      dependencies: ["PTViewPickle", "PTViewCore", "PTViewFiles", "PTViewZip"],
      path: "Tests/PTViewTestSupport"
    ),
    .testTarget(name: "PTViewPickleTests", dependencies: ["PTViewPickle", "PTViewTestSupport"]),
    .testTarget(name: "PTViewCoreTests", dependencies: ["PTViewCore", "PTViewTestSupport"]),
    .testTarget(name: "PTViewZipTests", dependencies: ["PTViewZip", "PTViewTestSupport"]),
    .testTarget(name: "PTViewFilesTests", dependencies: ["PTViewFiles", "PTViewTestSupport"]),
    .testTarget(
      name: "PTViewTUITests", dependencies: ["PTViewTUI", "PTViewTestSupport"], exclude: ["Goldens"]
    ),
    .testTarget(name: "PTViewCursesTests", dependencies: ["PTViewCurses", "PTViewTestSupport"]),
    .testTarget(name: "ptviewTests", dependencies: ["PTViewTestSupport"]),
  ]
)
