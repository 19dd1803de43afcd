import ArgumentParser
import PTViewCore
import PTViewPickle

/// `ptview dis`: a pickletools-identical disassembly.
struct Disassemble: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dis",
    abstract: "Disassemble a pickle exactly as `python3 -m pickletools` prints it.",
    discussion: """
      Shows data.pkl by default; all five pickles for a legacy file (offsets are file
      offsets there, as pickletools gives when reading one open file).
      """)

  @ArgumentParser.Argument(help: "The checkpoint file.") var file: String
  @Option(help: "A record name relative to the archive root (e.g. constants.pkl).") var record:
    String?
  @Option(help: "Blanks per MARK level.") var indent = 4

  func run() throws {
    let (checkpoint, source) = try Loading.checkpoint(file, strict: false)
    var sections = checkpoint.pickles
    if let record {
      sections = sections.filter { $0.name == record }
      if sections.isEmpty, let root = checkpoint.archiveRoot,
        let entry = checkpoint.directory?.entry(named: root + "/" + record)
      {
        // Any other pickle-bearing record, e.g. a .debug_pkl file.
        let bytes = try load(entry, source: source)
        try print(bytes, base: 0, from: 0, name: record)
        return
      }
      guard !sections.isEmpty else {
        throw ValidationError("no record named \(record)")
      }
    } else if checkpoint.format != .legacy {
      sections = Array(sections.prefix(1))
    }
    guard !sections.isEmpty else {
      throw ValidationError("\(checkpoint.format.rawValue) files hold no pickle")
    }
    for section in sections {
      if checkpoint.format == .legacy || checkpoint.format == .pickle {
        let bytes = try Loading.source(file).readExactly(
          at: 0, count: Int(section.fileOffset + section.length))
        try print(bytes, base: 0, from: Int(section.fileOffset), name: section.name)
      } else if let root = checkpoint.archiveRoot,
        let entry = checkpoint.directory?.entry(named: root + "/" + section.name)
      {
        try print(try load(entry, source: source), base: 0, from: 0, name: section.name)
      }
    }
  }

  private func load(_ entry: ZipEntry, source: any ByteSource) throws -> [UInt8] {
    do {
      return try CheckpointReader(decompressor: Loading.LazyLibzip(path: file)).record(
        entry, in: source)
    } catch {
      Diagnostics.fail(file, error)
    }
  }

  private func print(_ bytes: [UInt8], base: Int, from: Int, name: String) throws {
    let listing = Disassembler.listing(bytes, base: base, from: from, indent: indent)
    Diagnostics.out(listing.lines.map { $0 + "\n" }.joined())
    if let error = listing.error {
      Diagnostics.fail(
        file, CheckpointError(.malformed, record: name, offset: Int64(error.offset), error.summary))
    }
  }
}
