/// A `pickletools.dis` equivalent, driven only by the opcode table: the same lines, the same
/// MARK indentation, the same memo checks, so its output can be compared with Python's.
public enum Disassembler {
  /// The listing of one pickle.
  public struct Listing: Sendable {
    /// Output lines, without newlines (the last is pickletools' "highest protocol" line when
    /// the pickle was complete).
    public var lines: [String]
    /// Index in the buffer just past STOP (or where disassembly stopped).
    public var end: Int
    /// Why disassembly stopped early, if it did.
    public var error: PickleError?
  }

  /// MARK levels that are indented; deeper levels print at this depth with a `[depth N]` tag.
  /// pickletools indents without limit, so a 20 KB pickle of nested MARKs would print
  /// gigabytes; no real pickle comes near this depth, so listings of real files are identical.
  public static let maxIndentLevels = 64

  /// Disassembles one pickle starting at `position`, collecting the lines.
  /// - Parameters:
  ///   - bytes: the buffer; `base` is the file offset of `bytes[0]`.
  ///   - indent: blanks per MARK level (pickletools' `indentlevel`).
  public static func listing(
    _ bytes: [UInt8], base: Int = 0, from position: Int = 0, indent: Int = 4,
    limits: Limits = .default
  ) -> Listing {
    var lines: [String] = []
    let (end, error) = disassemble(
      bytes, base: base, from: position, indent: indent, limits: limits
    ) { lines.append($0) }
    return Listing(lines: lines, end: end, error: error)
  }

  /// Disassembles one pickle starting at `position`, handing each line (without a newline)
  /// to `emit` as it is made, so a listing of any length needs no more memory than a line.
  /// - Returns: the index just past STOP (or where disassembly stopped) and why it stopped
  ///   early, if it did.
  public static func disassemble(
    _ bytes: [UInt8], base: Int = 0, from position: Int = 0, indent: Int = 4,
    limits: Limits = .default, emit: (String) -> Void
  ) -> (end: Int, error: PickleError?) {
    disassembleWhile(bytes, base: base, from: position, indent: indent, limits: limits) {
      emit($0)
      return true
    }
  }

  /// Disassembles as above until `emit` returns false (the explorer's opcode pane wants the
  /// lines around one offset, with the MARK indentation only a listing from the start knows).
  public static func disassembleWhile(
    _ bytes: [UInt8], base: Int = 0, from position: Int = 0, indent: Int = 4,
    limits: Limits = .default, emit: (String) -> Bool
  ) -> (end: Int, error: PickleError?) {
    var reader = InstructionReader(bytes: bytes, base: base, position: position, limits: limits)
    var stack: [Bool] = []  // pickletools' crude stack: true where a markobject sits
    var markStack: [Int] = []  // offsets of open MARKs
    var memo: Set<Int64> = []
    var maxProto = -1
    let chunk = String(repeating: " ", count: indent)
    func failure(_ instruction: Instruction, _ message: String) -> PickleError {
      PickleError(
        offset: instruction.offset, opcode: instruction.opcode, reason: .wrongOperand(message))
    }
    while true {
      let instruction: Instruction
      do {
        instruction = try reader.next()
      } catch {
        return (reader.position, error)
      }
      let info = instruction.opcode.info
      var line = String(instruction.offset).leftAligned(rightWidth: 5) + ": "
      line += codeRepr(instruction.opcode.rawValue).padding(to: 4) + " "
      if markStack.count <= maxIndentLevels {
        line += String(repeating: chunk, count: markStack.count)
      } else {
        line += String(repeating: chunk, count: maxIndentLevels) + "[depth \(markStack.count)] "
      }
      line += info.name
      maxProto = max(maxProto, info.protocolVersion)
      var numToPop = info.stackBefore.count
      var markMessage: String? = nil
      var errorMessage: String? = nil
      if info.stackBefore.contains(.mark) || (instruction.opcode == .pop && stack.last == true) {
        if let markPos = markStack.popLast() {
          markMessage = "(MARK at \(markPos))"
          while let last = stack.last, !last { stack.removeLast() }
          if !stack.isEmpty { stack.removeLast() }
          numToPop = info.stackBefore.firstIndex(of: .mark) ?? 0
        } else {
          markMessage = "no MARK exists on stack"
          errorMessage = markMessage
        }
      }
      switch instruction.opcode {
      case .put, .binput, .longBinput, .memoize:
        let key: Int64
        if instruction.opcode == .memoize {
          key = Int64(memo.count)
          markMessage = "(as \(key))"
        } else {
          key = intArgument(instruction.argument)
        }
        if memo.contains(key) {
          errorMessage = "memo key \(key) already defined"
        } else if stack.isEmpty {
          errorMessage = "stack is empty -- can't store into memo"
        } else if stack.last == true {
          errorMessage = "can't store markobject in the memo"
        } else {
          memo.insert(key)
        }
      case .get, .binget, .longBinget:
        let key = intArgument(instruction.argument)
        if !memo.contains(key) { errorMessage = "memo key \(key) has never been stored into" }
      default:
        break
      }
      let argumentText: String?
      do {
        argumentText = try instruction.argument.map { arg throws(PickleError.Reason) in
          try repr(arg, kind: info.argument)
        }
      } catch {
        return (
          instruction.offset - base,
          PickleError(offset: instruction.offset, opcode: instruction.opcode, reason: error)
        )
      }
      if argumentText != nil || markMessage != nil {
        line += String(repeating: " ", count: max(0, 10 - info.name.count))
        if let argumentText { line += " " + argumentText }
        if let markMessage { line += " " + markMessage }
      }
      if !emit(line) { return (reader.position, nil) }
      if let errorMessage {
        return (reader.position, failure(instruction, errorMessage))
      }
      guard stack.count >= numToPop else {
        let message = "tries to pop \(numToPop) items from stack with only \(stack.count) items"
        return (reader.position, failure(instruction, message))
      }
      stack.removeLast(numToPop)
      if info.stackAfter.contains(.mark) { markStack.append(instruction.offset) }
      stack.append(contentsOf: info.stackAfter.map { $0 == .mark })
      if instruction.opcode == .stop {
        _ = emit("highest protocol among opcodes = \(maxProto)")
        if !stack.isEmpty {
          return (reader.position, failure(instruction, "stack not empty after STOP"))
        }
        return (reader.position, nil)
      }
    }
  }

  private static func intArgument(_ argument: Argument?) -> Int64 {
    switch argument {
    case .int(let v)?: v
    case .bool(let b)?: b ? 1 : 0
    default: -1
    }
  }

  /// `repr(opcode.code)[1:-1]`: the opcode byte as Python shows a one-character string.
  static func codeRepr(_ byte: UInt8) -> String {
    switch byte {
    case 0x27: "\\'"
    case 0x5C: "\\\\"
    case 0x09: "\\t"
    case 0x0A: "\\n"
    case 0x0D: "\\r"
    case 0x20..<0x7F: String(UnicodeScalar(byte))
    default: "\\x" + PythonRepr.hex(UInt32(byte), 2)
    }
  }

  /// How pickletools prints a decoded argument of `kind`.
  static func repr(_ argument: Argument, kind: ArgumentKind?) throws(PickleError.Reason) -> String {
    switch argument {
    case .int(let v): return String(v)
    case .bool(let b): return b ? "True" : "False"
    case .long(let bytes): return PythonRepr.int(bytes: bytes)
    case .float(let v): return PythonRepr.float(v)
    case .bytes(let data):
      switch kind {
      case .string1?, .string4?:
        // pickletools decodes these as latin-1, so printable latin-1 letters show as such.
        return PythonRepr.string(codePoints: data.map(UInt32.init))
      case .bytearray8?:
        return "bytearray(\(PythonRepr.bytes(data)))"
      case .bytes1?, .bytes4?, .bytes8?:
        return PythonRepr.bytes(data)
      default:
        guard let text = PythonRepr.string(utf8: data) else { throw .invalidUTF8 }
        return text
      }
    case .text(let data):
      switch kind {
      case .stringnl?:
        guard data.allSatisfy({ $0 < 0x80 }) else { throw .invalidArgument("non-ASCII STRING") }
        return PythonRepr.string(codePoints: data.map(UInt32.init), asciiOnly: true)
      case .stringnlNoescape?:
        let decoded = try InstructionReader.escapeDecodeASCII(data[...])
        return PythonRepr.string(codePoints: decoded.map(UInt32.init))
      default:
        guard let text = PythonRepr.string(utf8: data) else { throw .invalidUTF8 }
        return text
      }
    case .pair(let module, let name):
      let m = try InstructionReader.escapeDecodeASCII(module[...])
      let n = try InstructionReader.escapeDecodeASCII(name[...])
      return PythonRepr.string(codePoints: (m + [0x20] + n).map(UInt32.init))
    }
  }
}

extension InstructionReader {
  /// pickletools' reading of a "noescape" line: backslash escapes undone, then ASCII only.
  static func escapeDecodeASCII(_ line: ArraySlice<UInt8>) throws(PickleError.Reason) -> [UInt8] {
    let decoded = try unquote([0x27] + line + [0x27])
    guard decoded.allSatisfy({ $0 < 0x80 }) else { throw .invalidArgument("non-ASCII name") }
    return decoded
  }
}

extension String {
  /// Right-aligns in a field of `rightWidth` characters (Python's `%5d`).
  func leftAligned(rightWidth: Int) -> String {
    count >= rightWidth ? self : String(repeating: " ", count: rightWidth - count) + self
  }

  /// Left-aligns in a field of `width` characters (Python's `%-4s`).
  func padding(to width: Int) -> String {
    count >= width ? self : self + String(repeating: " ", count: width - count)
  }
}
