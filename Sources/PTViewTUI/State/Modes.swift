/// What the tensors of a remap are: all of them, or one subtree.
public enum Scope: Hashable, Sendable {
  /// Every tensor (`M`), or every tensor the filter keeps.
  case all
  /// The subtree under a node (`m`).
  case subtree(Int32)
}

/// What a picker's Enter stages.
public enum PickerKind: Hashable, Sendable {
  /// A device move (`m`, `M`).
  case device
  /// A prefix to strip from every key (`P`).
  case prefix
  /// A dtype to cast floating tensors to (`c`).
  case cast
}

/// The picker that `m`, `M`, `P` and `c` open: for devices `cpu` first and selected.
public struct DevicePicker: Hashable, Sendable {
  /// Which tensors.
  public var scope: Scope
  /// What Enter stages.
  public var kind: PickerKind = .device
  /// The title (`Map all 401 tensors to`).
  public var title: String
  /// The devices, then `other…`.
  public var options: [String]
  /// The highlighted option.
  public var selected: Int = 0

  /// The label of the last option, which asks for a device by name.
  public static let other = "other…"
}

/// Why a prompt is open.
public enum PromptPurpose: Hashable, Sendable {
  case search
  case filter
  case writePath
  case device(Scope)
  /// Rename keys: OLD=NEW, prefilled with the focused key.
  case rename
}

/// An open prompt.
public struct Prompt: Hashable, Sendable {
  /// What Enter does.
  public var purpose: PromptPurpose
  /// The text being typed.
  public var editor: LineEditor

  /// The words before the field.
  public var label: String {
    switch purpose {
    case .search: "/"
    case .filter: "filter: "
    case .writePath: "Write to: "
    case .device: "Device: "
    case .rename: "Rename OLD=NEW: "
    }
  }
}

/// A yes/no question on the status line.
public enum Confirmation: Hashable, Sendable {
  /// The output exists: replace it?
  case overwrite(path: String)
  /// Edits are staged: quit anyway?
  case quit
}

/// A write in progress.
public struct WriteProgress: Hashable, Sendable {
  /// The output path.
  public var path: String
  /// Bytes written.
  public var done: Int64
  /// Bytes to write (0 until the writer knows).
  public var total: Int64
}

/// What has the keyboard.
public enum Mode: Hashable, Sendable {
  /// The tree.
  case browse
  /// The key list, scrolled by `top` lines.
  case help(top: Int)
  /// The device picker.
  case picker(DevicePicker)
  /// A prompt on the status line.
  case prompt(Prompt)
  /// A question on the status line.
  case confirm(Confirmation)
  /// Waiting for the shell to look at an output path.
  case checking(path: String)
  /// Writing.
  case writing(WriteProgress)
  /// The values pane's grid has the keyboard (`→` on a tensor while the pane is open).
  case values
}

/// A message on the status line.
public struct Status: Hashable, Sendable {
  /// How it is shown.
  public enum Kind: Hashable, Sendable {
    case info
    case success
    case warning
    case error
  }

  /// The text.
  public var text: String
  /// Its kind.
  public var kind: Kind

  /// Creates a status message.
  public init(_ text: String, _ kind: Kind = .info) {
    self.text = text
    self.kind = kind
  }
}
