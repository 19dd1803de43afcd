import ArgumentParser
import PTViewCore
import PTViewFiles
import PTViewPickle
import PTViewZip

/// `ptview dis`: a pickletools-identical disassembly.
struct Disassemble: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dis",
    abstract: "Disassemble a pickle exactly as `python3 -m pickletools` prints it.",
    usage: "ptview dis <file> [--record <record>] [--indent <indent>] [<options>]",
    discussion: """
      Shows data.pkl by default; all five pickles for a legacy file (offsets are file \
      offsets there, as pickletools gives when reading one open file). A damaged pickle is \
      listed up to the damage, then the command exits 2 naming the byte. MARKs nested deeper \
      than 64 levels print at that indentation with a [depth N] tag, where pickletools would \
      indent without limit.

      Examples:
        ptview dis model.pt | less
        ptview dis scripted.pt --record constants.pkl
      """)

  @ArgumentParser.Argument(help: "The checkpoint file.", completion: .file()) var file: String
  @Option(help: "A record name relative to the archive root (e.g. constants.pkl).") var record:
    String?
  @Option(help: "Blanks per MARK level.") var indent = 4

  @OptionGroup var remote: RemoteOptions

  func run() throws {
    if record == nil, try disassembleRaw() { return }
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
      return try CheckpointReader(decompressor: Loading.decompressor(file, source)).record(
        entry, in: source)
    } catch {
      Diagnostics.fail(file, error)
    }
  }

  /// Bare pickles, and legacy files torch's reader would stop on, are disassembled straight
  /// from the file as pickletools does: no decoding first, so a damaged pickle still lists up
  /// to its damage (which is when one wants to look at it). Returns false for other formats
  /// and for legacy files that read cleanly (their sections give exact offsets).
  private func disassembleRaw() throws -> Bool {
    let source = try Loading.source(file)
    let prefix = (try? source.read(at: 0, count: 4096)) ?? []
    let format = DetectedFormat.detect(prefix: prefix, size: source.size)
    var count = 1
    var failure: CheckpointError? = nil
    switch format {
    case .pickle, .unknown:
      // Anything unrecognised is handed to the disassembler, which names the first bad byte.
      break
    case .legacy:
      do {
        _ = try CheckpointReader().read(source)
        return false
      } catch {
        failure = error
        count = 5
      }
    default:
      return false
    }
    guard source.size <= Self.maxRawBytes else {
      throw ValidationError(
        "the file is \(source.size) bytes; dis reads at most \(Self.maxRawBytes) bytes of pickles")
    }
    let bytes: [UInt8]
    do { bytes = try source.readExactly(at: 0, count: Int(source.size)) } catch {
      Diagnostics.fail(file, CheckpointError(.io, error.message))
    }
    var position = 0
    for i in 0..<count where position < bytes.count {
      position = try print(
        bytes, base: 0, from: position, name: count == 1 ? "pickle" : "pickle \(i + 1) of 5")
    }
    if let failure { Diagnostics.fail(file, failure) }
    return true
  }

  /// Larger bare pickles are not read into memory whole.
  static let maxRawBytes: Int64 = 1 << 30

  /// Streams the listing of one pickle to standard output; exits 2 after the lines when the
  /// pickle is damaged. Returns where the pickle ended.
  @discardableResult
  private func print(_ bytes: [UInt8], base: Int, from: Int, name: String) throws -> Int {
    var pending = ""
    pending.reserveCapacity(1 << 16)
    let (end, error) = Disassembler.disassemble(bytes, base: base, from: from, indent: indent) {
      pending += $0
      pending += "\n"
      if pending.utf8.count >= 1 << 16 {
        Diagnostics.out(pending)
        pending.removeAll(keepingCapacity: true)
      }
    }
    Diagnostics.out(pending)
    if let error {
      Diagnostics.fail(
        file, CheckpointError(.malformed, record: name, offset: Int64(error.offset), error.summary))
    }
    return end
  }
}
