import PTViewCore
import PTViewPickle

/// A pickle's bytes as one particular unpickler reads them, with a map back to the original
/// offsets. The VM decodes a contiguous buffer the way `pickle.loads(bytes)` does; these
/// rewrites give it the byte sequence other real readers consume, so the scan sees what each
/// of them would execute.
struct EffectiveStream: Sendable {
  /// One run of output bytes and where it came from.
  struct Segment: Sendable {
    var outStart: Int
    var sourceStart: Int
    var length: Int
    /// False when the output run was rewritten (its bytes all map to `sourceStart`).
    var exact: Bool
  }

  var bytes: [UInt8]
  var segments: [Segment]
  /// Where the next pickle starts in the source, when the stream ended at STOP.
  var nextStart: Int?
  /// True when this reader consumed a different byte sequence than `pickle.loads` would.
  var diverged: Bool

  /// The source index of output index `i`.
  func sourceIndex(_ i: Int) -> Int {
    var lo = 0
    var hi = segments.count - 1
    guard hi >= 0 else { return i }
    while lo < hi {
      let mid = (lo + hi + 1) / 2
      if segments[mid].outStart <= i { lo = mid } else { hi = mid - 1 }
    }
    let s = segments[lo]
    return s.exact ? s.sourceStart + max(0, min(i - s.outStart, s.length)) : s.sourceStart
  }

  mutating func emit(_ source: [UInt8], _ range: Range<Int>) {
    guard !range.isEmpty else { return }
    if let last = segments.last, last.exact, last.outStart + last.length == bytes.count,
      last.sourceStart + last.length == range.lowerBound
    {
      segments[segments.count - 1].length += range.count
    } else {
      segments.append(
        Segment(
          outStart: bytes.count, sourceStart: range.lowerBound, length: range.count, exact: true))
    }
    bytes.append(contentsOf: source[range])
  }

  mutating func emitRewritten(_ data: [UInt8], from sourceStart: Int) {
    segments.append(
      Segment(outStart: bytes.count, sourceStart: sourceStart, length: data.count, exact: false))
    bytes.append(contentsOf: data)
  }

  // MARK: - CPython's C unpickler reading from a file object

  /// The bytes `pickle.load(file)` consumes, for a file object without `peek` (torch's zip
  /// loader hands the unpickler an `io.BytesIO`).
  ///
  /// FRAME reads the whole frame into the unpickler's buffer and rewinds into it. A later read
  /// that needs more than the buffer still holds does not take the rest of the frame: it reads
  /// fresh bytes from the file, after the frame, and the leftover frame bytes are dropped
  /// (`_Unpickler_ReadImpl` / `_Unpickler_ReadFromFile`). A frame that lies about its length
  /// therefore makes the file reader execute bytes that `pickletools` and `pickle.loads` treat
  /// as data.
  static func fileReader(_ source: [UInt8], from start: Int) -> EffectiveStream {
    var out = EffectiveStream(bytes: [], segments: [], nextStart: nil, diverged: false)
    var filePos = start
    var cursor = start
    var bufferEnd = start
    let limit = source.count

    func read(_ n: Int, _ out: inout EffectiveStream) -> Range<Int>? {
      guard n >= 0 else { return nil }
      if n <= bufferEnd - cursor {
        let r = cursor..<(cursor + n)
        cursor += n
        return r
      }
      if cursor < bufferEnd { out.diverged = true }
      guard n <= limit - filePos else { return nil }
      let r = filePos..<(filePos + n)
      filePos += n
      cursor = filePos
      bufferEnd = filePos
      return r
    }
    // `_Unpickler_ReadInto`, which CPython (3.8+) uses for the payload of BINBYTES,
    // SHORT_BINBYTES, BINBYTES8 and BYTEARRAY8: what the buffer still holds comes first, the
    // rest from the file, so these payloads read across a frame's end without dropping it.
    func readInto(_ n: Int, _ out: inout EffectiveStream) -> [Range<Int>]? {
      guard n >= 0 else { return nil }
      let inBuffer = min(n, bufferEnd - cursor)
      if inBuffer == n { return read(n, &out).map { [$0] } }
      let first = cursor..<bufferEnd
      let rest = n - inBuffer
      guard rest <= limit - filePos else { return nil }
      let second = filePos..<(filePos + rest)
      filePos += rest
      cursor = filePos
      bufferEnd = filePos
      return [first, second].filter { !$0.isEmpty }
    }
    func readline(_ out: inout EffectiveStream) -> Range<Int>? {
      if cursor < bufferEnd, let nl = source[cursor..<bufferEnd].firstIndex(of: 0x0A) {
        let r = cursor..<(nl + 1)
        cursor = nl + 1
        return r
      }
      if cursor < bufferEnd { out.diverged = true }
      guard filePos < limit, let nl = source[filePos...].firstIndex(of: 0x0A) else { return nil }
      let r = filePos..<(nl + 1)
      filePos = nl + 1
      cursor = filePos
      bufferEnd = filePos
      return r
    }
    func le(_ r: Range<Int>) -> UInt64 {
      var v: UInt64 = 0
      for (i, b) in source[r].enumerated() where i < 8 { v |= UInt64(b) << (8 * UInt64(i)) }
      return v
    }

    var steps = 0
    while steps < 50_000_000 {
      steps += 1
      guard let opRange = read(1, &out) else { return out }
      let byte = source[opRange.lowerBound]
      guard let opcode = Opcode(rawValue: byte) else {
        out.emit(source, opRange)
        return out
      }
      if opcode == .frame {
        guard let lengthRange = read(8, &out) else { return out }
        let length = le(lengthRange)
        guard length <= UInt64(limit), let frame = read(Int(length), &out) else { return out }
        // Rewind into the frame: it becomes the buffer.
        if frame.upperBound == filePos && bufferEnd == filePos && cursor == filePos {
          cursor = frame.lowerBound
          bufferEnd = frame.upperBound
        } else {
          cursor = frame.lowerBound
        }
        continue
      }
      var pieces: [Range<Int>] = [opRange]
      var complete = true
      func counted(
        _ width: Int, signed: Bool, into: Bool = false, _ out: inout EffectiveStream
      ) {
        guard let r = read(width, &out) else { complete = false; return }
        pieces.append(r)
        var n = le(r)
        if signed && width == 4 && n & 0x8000_0000 != 0 { complete = false; return }
        if width == 8 && n > UInt64(Int64.max) { complete = false; return }
        n = min(n, UInt64(limit) + 1)
        if into {
          guard let d = readInto(Int(n), &out) else { complete = false; return }
          pieces += d
        } else {
          guard let d = read(Int(n), &out) else { complete = false; return }
          pieces.append(d)
        }
      }
      if let kind = opcode.info.argument {
        switch kind {
        case .uint1: if let r = read(1, &out) { pieces.append(r) } else { complete = false }
        case .uint2: if let r = read(2, &out) { pieces.append(r) } else { complete = false }
        case .uint4, .int4: if let r = read(4, &out) { pieces.append(r) } else { complete = false }
        case .uint8, .float8:
          if let r = read(8, &out) { pieces.append(r) } else { complete = false }
        case .long1, .string1, .unicodestring1: counted(1, signed: false, &out)
        case .bytes1: counted(1, signed: false, into: true, &out)
        case .long4, .string4: counted(4, signed: true, &out)
        case .unicodestring4: counted(4, signed: false, &out)
        case .bytes4: counted(4, signed: false, into: true, &out)
        case .unicodestring8: counted(8, signed: false, &out)
        case .bytes8, .bytearray8: counted(8, signed: false, into: true, &out)
        case .floatnl, .decimalnlShort, .decimalnlLong, .stringnl, .stringnlNoescape,
          .unicodestringnl:
          if let r = readline(&out) { pieces.append(r) } else { complete = false }
        case .stringnlNoescapePair:
          if let r = readline(&out) { pieces.append(r) } else { complete = false }
          if complete { if let r = readline(&out) { pieces.append(r) } else { complete = false } }
        }
      }
      for p in pieces { out.emit(source, p) }
      if !complete { return out }
      if opcode == .stop {
        out.nextStart = cursor < bufferEnd ? filePos : cursor
        return out
      }
    }
    return out
  }

  // MARK: - Python 2 strings as str

  /// Rewrites STRING, BINSTRING and SHORT_BINSTRING whose payload is valid UTF-8 as BINUNICODE.
  ///
  /// CPython decodes these opcodes with the unpickler's `encoding` (ASCII by default, UTF-8 in
  /// torch.load), so they push `str`, and STACK_GLOBAL accepts them. The VM keeps them as
  /// Python 2 strings (right for the explorer, which shows them as written); this rewrite
  /// gives the scan CPython's view.
  static func strings(_ source: [UInt8], from start: Int, limits: Limits) -> EffectiveStream {
    var out = EffectiveStream(bytes: [], segments: [], nextStart: nil, diverged: false)
    var reader = InstructionReader(bytes: source, base: 0, position: start, limits: limits)
    while true {
      let begin = reader.position
      let instruction: Instruction
      do { instruction = try reader.next() } catch {
        out.emit(source, begin..<source.count)
        return out
      }
      let end = instruction.end
      switch (instruction.opcode, instruction.argument) {
      case (.string, .text(let payload)?) where UTF8Writer.isValid(payload):
        out.diverged = true
        out.emitRewritten(binunicode(payload), from: begin)
      case (.binstring, .bytes(let payload)?), (.shortBinstring, .bytes(let payload)?):
        if UTF8Writer.isValid(payload) {
          out.diverged = true
          out.emitRewritten(binunicode(Array(payload)), from: begin)
        } else {
          out.emit(source, begin..<end)
        }
      default:
        out.emit(source, begin..<end)
      }
      if instruction.opcode == .stop {
        out.nextStart = end
        return out
      }
    }
  }

  static func binunicode(_ payload: [UInt8]) -> [UInt8] {
    let n = UInt32(truncatingIfNeeded: payload.count)
    return [
      Opcode.binunicode.rawValue, UInt8(n & 0xFF), UInt8((n >> 8) & 0xFF), UInt8((n >> 16) & 0xFF),
      UInt8(n >> 24),
    ]
      + payload
  }
}
