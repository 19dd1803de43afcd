// The table mirrors CPython 3.11's `pickletools.opcodes`, row for row; `OpcodeTableTests` compares
// every row with Tests/Fixtures/pickles/pickletools-opcodes.tsv, dumped from pickletools itself.

/// A pickle opcode. The raw value is the byte that encodes it in a pickle stream, so
/// `Opcode(rawValue:)` is the decoder and a duplicated byte fails to compile.
public enum Opcode: UInt8, CaseIterable, Sendable {
  case int = 0x49  // 'I'
  case binint = 0x4A  // 'J'
  case binint1 = 0x4B  // 'K'
  case binint2 = 0x4D  // 'M'
  case long = 0x4C  // 'L'
  case long1 = 0x8A  // '\x8a'
  case long4 = 0x8B  // '\x8b'
  case string = 0x53  // 'S'
  case binstring = 0x54  // 'T'
  case shortBinstring = 0x55  // 'U'
  case binbytes = 0x42  // 'B'
  case shortBinbytes = 0x43  // 'C'
  case binbytes8 = 0x8E  // '\x8e'
  case bytearray8 = 0x96  // '\x96'
  case nextBuffer = 0x97  // '\x97'
  case readonlyBuffer = 0x98  // '\x98'
  case none = 0x4E  // 'N'
  case newtrue = 0x88  // '\x88'
  case newfalse = 0x89  // '\x89'
  case unicode = 0x56  // 'V'
  case shortBinunicode = 0x8C  // '\x8c'
  case binunicode = 0x58  // 'X'
  case binunicode8 = 0x8D  // '\x8d'
  case float = 0x46  // 'F'
  case binfloat = 0x47  // 'G'
  case emptyList = 0x5D  // ']'
  case append = 0x61  // 'a'
  case appends = 0x65  // 'e'
  case list = 0x6C  // 'l'
  case emptyTuple = 0x29  // ')'
  case tuple = 0x74  // 't'
  case tuple1 = 0x85  // '\x85'
  case tuple2 = 0x86  // '\x86'
  case tuple3 = 0x87  // '\x87'
  case emptyDict = 0x7D  // '}'
  case dict = 0x64  // 'd'
  case setitem = 0x73  // 's'
  case setitems = 0x75  // 'u'
  case emptySet = 0x8F  // '\x8f'
  case additems = 0x90  // '\x90'
  case frozenset = 0x91  // '\x91'
  case pop = 0x30  // '0'
  case dup = 0x32  // '2'
  case mark = 0x28  // '('
  case popMark = 0x31  // '1'
  case get = 0x67  // 'g'
  case binget = 0x68  // 'h'
  case longBinget = 0x6A  // 'j'
  case put = 0x70  // 'p'
  case binput = 0x71  // 'q'
  case longBinput = 0x72  // 'r'
  case memoize = 0x94  // '\x94'
  case ext1 = 0x82  // '\x82'
  case ext2 = 0x83  // '\x83'
  case ext4 = 0x84  // '\x84'
  case global = 0x63  // 'c'
  case stackGlobal = 0x93  // '\x93'
  case reduce = 0x52  // 'R'
  case build = 0x62  // 'b'
  case inst = 0x69  // 'i'
  case obj = 0x6F  // 'o'
  case newobj = 0x81  // '\x81'
  case newobjEx = 0x92  // '\x92'
  case proto = 0x80  // '\x80'
  case stop = 0x2E  // '.'
  case frame = 0x95  // '\x95'
  case persid = 0x50  // 'P'
  case binpersid = 0x51  // 'Q'
}

extension Opcode {
  /// `info.protocolVersion` for every byte (-1 for non-opcodes), computed once: building
  /// `OpcodeInfo` allocates, and the VM asks for every opcode it runs.
  public static let protocolByByte: [Int8] = {
    var table = [Int8](repeating: -1, count: 256)
    for op in Opcode.allCases { table[Int(op.rawValue)] = Int8(op.info.protocolVersion) }
    return table
  }()

  /// The first protocol that has this opcode, without building its `info`.
  @inline(__always) public var protocolVersion: Int { Int(Self.protocolByByte[Int(rawValue)]) }

  /// This opcode's row in the table (after `pickletools.opcodes`).
  public var info: OpcodeInfo {
    switch self {
    case .int:
      OpcodeInfo(
        name: "INT", argument: .decimalnlShort, stackBefore: [], stackAfter: [.intOrBool],
        protocolVersion: 0)
    case .binint:
      OpcodeInfo(
        name: "BININT", argument: .int4, stackBefore: [], stackAfter: [.int],
        protocolVersion: 1)
    case .binint1:
      OpcodeInfo(
        name: "BININT1", argument: .uint1, stackBefore: [], stackAfter: [.int],
        protocolVersion: 1)
    case .binint2:
      OpcodeInfo(
        name: "BININT2", argument: .uint2, stackBefore: [], stackAfter: [.int],
        protocolVersion: 1)
    case .long:
      OpcodeInfo(
        name: "LONG", argument: .decimalnlLong, stackBefore: [], stackAfter: [.int],
        protocolVersion: 0)
    case .long1:
      OpcodeInfo(
        name: "LONG1", argument: .long1, stackBefore: [], stackAfter: [.int],
        protocolVersion: 2)
    case .long4:
      OpcodeInfo(
        name: "LONG4", argument: .long4, stackBefore: [], stackAfter: [.int],
        protocolVersion: 2)
    case .string:
      OpcodeInfo(
        name: "STRING", argument: .stringnl, stackBefore: [], stackAfter: [.bytesOrStr],
        protocolVersion: 0)
    case .binstring:
      OpcodeInfo(
        name: "BINSTRING", argument: .string4, stackBefore: [], stackAfter: [.bytesOrStr],
        protocolVersion: 1)
    case .shortBinstring:
      OpcodeInfo(
        name: "SHORT_BINSTRING", argument: .string1, stackBefore: [], stackAfter: [.bytesOrStr],
        protocolVersion: 1)
    case .binbytes:
      OpcodeInfo(
        name: "BINBYTES", argument: .bytes4, stackBefore: [], stackAfter: [.bytes],
        protocolVersion: 3)
    case .shortBinbytes:
      OpcodeInfo(
        name: "SHORT_BINBYTES", argument: .bytes1, stackBefore: [], stackAfter: [.bytes],
        protocolVersion: 3)
    case .binbytes8:
      OpcodeInfo(
        name: "BINBYTES8", argument: .bytes8, stackBefore: [], stackAfter: [.bytes],
        protocolVersion: 4)
    case .bytearray8:
      OpcodeInfo(
        name: "BYTEARRAY8", argument: .bytearray8, stackBefore: [], stackAfter: [.bytearray],
        protocolVersion: 5)
    case .nextBuffer:
      OpcodeInfo(
        name: "NEXT_BUFFER", argument: nil, stackBefore: [], stackAfter: [.buffer],
        protocolVersion: 5)
    case .readonlyBuffer:
      OpcodeInfo(
        name: "READONLY_BUFFER", argument: nil, stackBefore: [.buffer], stackAfter: [.buffer],
        protocolVersion: 5)
    case .none:
      OpcodeInfo(
        name: "NONE", argument: nil, stackBefore: [], stackAfter: [.none],
        protocolVersion: 0)
    case .newtrue:
      OpcodeInfo(
        name: "NEWTRUE", argument: nil, stackBefore: [], stackAfter: [.bool],
        protocolVersion: 2)
    case .newfalse:
      OpcodeInfo(
        name: "NEWFALSE", argument: nil, stackBefore: [], stackAfter: [.bool],
        protocolVersion: 2)
    case .unicode:
      OpcodeInfo(
        name: "UNICODE", argument: .unicodestringnl, stackBefore: [], stackAfter: [.str],
        protocolVersion: 0)
    case .shortBinunicode:
      OpcodeInfo(
        name: "SHORT_BINUNICODE", argument: .unicodestring1, stackBefore: [], stackAfter: [.str],
        protocolVersion: 4)
    case .binunicode:
      OpcodeInfo(
        name: "BINUNICODE", argument: .unicodestring4, stackBefore: [], stackAfter: [.str],
        protocolVersion: 1)
    case .binunicode8:
      OpcodeInfo(
        name: "BINUNICODE8", argument: .unicodestring8, stackBefore: [], stackAfter: [.str],
        protocolVersion: 4)
    case .float:
      OpcodeInfo(
        name: "FLOAT", argument: .floatnl, stackBefore: [], stackAfter: [.float],
        protocolVersion: 0)
    case .binfloat:
      OpcodeInfo(
        name: "BINFLOAT", argument: .float8, stackBefore: [], stackAfter: [.float],
        protocolVersion: 1)
    case .emptyList:
      OpcodeInfo(
        name: "EMPTY_LIST", argument: nil, stackBefore: [], stackAfter: [.list],
        protocolVersion: 1)
    case .append:
      OpcodeInfo(
        name: "APPEND", argument: nil, stackBefore: [.list, .any], stackAfter: [.list],
        protocolVersion: 0)
    case .appends:
      OpcodeInfo(
        name: "APPENDS", argument: nil, stackBefore: [.list, .mark, .stackslice],
        stackAfter: [.list],
        protocolVersion: 1)
    case .list:
      OpcodeInfo(
        name: "LIST", argument: nil, stackBefore: [.mark, .stackslice], stackAfter: [.list],
        protocolVersion: 0)
    case .emptyTuple:
      OpcodeInfo(
        name: "EMPTY_TUPLE", argument: nil, stackBefore: [], stackAfter: [.tuple],
        protocolVersion: 1)
    case .tuple:
      OpcodeInfo(
        name: "TUPLE", argument: nil, stackBefore: [.mark, .stackslice], stackAfter: [.tuple],
        protocolVersion: 0)
    case .tuple1:
      OpcodeInfo(
        name: "TUPLE1", argument: nil, stackBefore: [.any], stackAfter: [.tuple],
        protocolVersion: 2)
    case .tuple2:
      OpcodeInfo(
        name: "TUPLE2", argument: nil, stackBefore: [.any, .any], stackAfter: [.tuple],
        protocolVersion: 2)
    case .tuple3:
      OpcodeInfo(
        name: "TUPLE3", argument: nil, stackBefore: [.any, .any, .any], stackAfter: [.tuple],
        protocolVersion: 2)
    case .emptyDict:
      OpcodeInfo(
        name: "EMPTY_DICT", argument: nil, stackBefore: [], stackAfter: [.dict],
        protocolVersion: 1)
    case .dict:
      OpcodeInfo(
        name: "DICT", argument: nil, stackBefore: [.mark, .stackslice], stackAfter: [.dict],
        protocolVersion: 0)
    case .setitem:
      OpcodeInfo(
        name: "SETITEM", argument: nil, stackBefore: [.dict, .any, .any], stackAfter: [.dict],
        protocolVersion: 0)
    case .setitems:
      OpcodeInfo(
        name: "SETITEMS", argument: nil, stackBefore: [.dict, .mark, .stackslice],
        stackAfter: [.dict],
        protocolVersion: 1)
    case .emptySet:
      OpcodeInfo(
        name: "EMPTY_SET", argument: nil, stackBefore: [], stackAfter: [.set],
        protocolVersion: 4)
    case .additems:
      OpcodeInfo(
        name: "ADDITEMS", argument: nil, stackBefore: [.set, .mark, .stackslice],
        stackAfter: [.set],
        protocolVersion: 4)
    case .frozenset:
      OpcodeInfo(
        name: "FROZENSET", argument: nil, stackBefore: [.mark, .stackslice],
        stackAfter: [.frozenset],
        protocolVersion: 4)
    case .pop:
      OpcodeInfo(
        name: "POP", argument: nil, stackBefore: [.any], stackAfter: [],
        protocolVersion: 0)
    case .dup:
      OpcodeInfo(
        name: "DUP", argument: nil, stackBefore: [.any], stackAfter: [.any, .any],
        protocolVersion: 0)
    case .mark:
      OpcodeInfo(
        name: "MARK", argument: nil, stackBefore: [], stackAfter: [.mark],
        protocolVersion: 0)
    case .popMark:
      OpcodeInfo(
        name: "POP_MARK", argument: nil, stackBefore: [.mark, .stackslice], stackAfter: [],
        protocolVersion: 1)
    case .get:
      OpcodeInfo(
        name: "GET", argument: .decimalnlShort, stackBefore: [], stackAfter: [.any],
        protocolVersion: 0)
    case .binget:
      OpcodeInfo(
        name: "BINGET", argument: .uint1, stackBefore: [], stackAfter: [.any],
        protocolVersion: 1)
    case .longBinget:
      OpcodeInfo(
        name: "LONG_BINGET", argument: .uint4, stackBefore: [], stackAfter: [.any],
        protocolVersion: 1)
    case .put:
      OpcodeInfo(
        name: "PUT", argument: .decimalnlShort, stackBefore: [], stackAfter: [],
        protocolVersion: 0)
    case .binput:
      OpcodeInfo(
        name: "BINPUT", argument: .uint1, stackBefore: [], stackAfter: [],
        protocolVersion: 1)
    case .longBinput:
      OpcodeInfo(
        name: "LONG_BINPUT", argument: .uint4, stackBefore: [], stackAfter: [],
        protocolVersion: 1)
    case .memoize:
      OpcodeInfo(
        name: "MEMOIZE", argument: nil, stackBefore: [.any], stackAfter: [.any],
        protocolVersion: 4)
    case .ext1:
      OpcodeInfo(
        name: "EXT1", argument: .uint1, stackBefore: [], stackAfter: [.any],
        protocolVersion: 2)
    case .ext2:
      OpcodeInfo(
        name: "EXT2", argument: .uint2, stackBefore: [], stackAfter: [.any],
        protocolVersion: 2)
    case .ext4:
      OpcodeInfo(
        name: "EXT4", argument: .int4, stackBefore: [], stackAfter: [.any],
        protocolVersion: 2)
    case .global:
      OpcodeInfo(
        name: "GLOBAL", argument: .stringnlNoescapePair, stackBefore: [], stackAfter: [.any],
        protocolVersion: 0)
    case .stackGlobal:
      OpcodeInfo(
        name: "STACK_GLOBAL", argument: nil, stackBefore: [.str, .str], stackAfter: [.any],
        protocolVersion: 4)
    case .reduce:
      OpcodeInfo(
        name: "REDUCE", argument: nil, stackBefore: [.any, .any], stackAfter: [.any],
        protocolVersion: 0)
    case .build:
      OpcodeInfo(
        name: "BUILD", argument: nil, stackBefore: [.any, .any], stackAfter: [.any],
        protocolVersion: 0)
    case .inst:
      OpcodeInfo(
        name: "INST", argument: .stringnlNoescapePair, stackBefore: [.mark, .stackslice],
        stackAfter: [.any],
        protocolVersion: 0)
    case .obj:
      OpcodeInfo(
        name: "OBJ", argument: nil, stackBefore: [.mark, .any, .stackslice], stackAfter: [.any],
        protocolVersion: 1)
    case .newobj:
      OpcodeInfo(
        name: "NEWOBJ", argument: nil, stackBefore: [.any, .any], stackAfter: [.any],
        protocolVersion: 2)
    case .newobjEx:
      OpcodeInfo(
        name: "NEWOBJ_EX", argument: nil, stackBefore: [.any, .any, .any], stackAfter: [.any],
        protocolVersion: 4)
    case .proto:
      OpcodeInfo(
        name: "PROTO", argument: .uint1, stackBefore: [], stackAfter: [],
        protocolVersion: 2)
    case .stop:
      OpcodeInfo(
        name: "STOP", argument: nil, stackBefore: [.any], stackAfter: [],
        protocolVersion: 0)
    case .frame:
      OpcodeInfo(
        name: "FRAME", argument: .uint8, stackBefore: [], stackAfter: [],
        protocolVersion: 4)
    case .persid:
      OpcodeInfo(
        name: "PERSID", argument: .stringnlNoescape, stackBefore: [], stackAfter: [.any],
        protocolVersion: 0)
    case .binpersid:
      OpcodeInfo(
        name: "BINPERSID", argument: nil, stackBefore: [.any], stackAfter: [.any],
        protocolVersion: 1)
    }
  }
}
