import PTViewCore
import PTViewTUI
import PTViewTestSupport
import Testing

@testable import PTViewCurses

/// Curses on `/dev/null`: draw frames, read them back from curses' own screen. One session at
/// a time (curses has process-wide state), hence serialized.
@Suite("curses backend, headless", .serialized)
struct CursesBackendTests {
  @Test("text, wide-ish glyphs and styles go through curses unchanged")
  func roundTrip() throws {
    let backend = try CursesBackend(headless: Size(columns: 80, rows: 24))
    defer { backend.close() }
    #expect(backend.size == Size(columns: 80, rows: 24))
    var screen = Screen(size: backend.size)
    screen.put(
      "tensor ▸ 𝑥 ✓ cuda:0 > cpu", x: 2, y: 3, style: Style(foreground: .green, attributes: [.bold])
    )
    screen.put("layers.0 … layers.23  (24×)", x: 0, y: 23, style: Style(attributes: [.reverse]))
    backend.draw(screen)
    let lines = backend.lines()
    #expect(lines[3] == "  tensor ▸ 𝑥 ✓ cuda:0 > cpu")
    #expect(lines[23] == "layers.0 … layers.23  (24×)")
  }

  @Test("a whole explorer frame reads back as rendered, and a second frame replaces it")
  func explorerFrames() throws {
    let backend = try CursesBackend(headless: Size(columns: 80, rows: 24))
    defer { backend.close() }
    let checkpoint = try Fixtures.checkpoint("../../examples/gpu_checkpoint.pt")
    var model = Model(
      checkpoint: checkpoint, path: "examples/gpu_checkpoint.pt", size: backend.size)
    let first = model.render()
    backend.draw(first)
    #expect(backend.lines() == first.lines)
    _ = model.update(.key(.character("M")))
    _ = model.update(.key(.enter))
    let second = model.render()
    backend.draw(second)
    #expect(backend.lines() == second.lines)
    #expect(backend.lines()[2].contains("cuda:0 > cpu"))
  }

  @Test("a larger terminal is used whole")
  func largeTerminal() throws {
    let backend = try CursesBackend(headless: Size(columns: 160, rows: 50))
    defer { backend.close() }
    #expect(backend.size == Size(columns: 160, rows: 50))
    let checkpoint = try Fixtures.checkpoint("torch/train_ckpt_cuda0.pt")
    let screen = Model(checkpoint: checkpoint, path: "x.pt", size: backend.size).render()
    backend.draw(screen)
    #expect(backend.lines() == screen.lines)
    #expect(backend.lines()[1].contains("OF PARENT"))
  }

  @Test("an unknown terminal type is an error value, not an exit")
  func unknownTerminal() {
    #expect(throws: CursesError.self) {
      try CursesBackend(headless: Size(columns: 80, rows: 24), terminal: "no-such-terminal")
    }
  }
}

@Suite("key decoding")
struct KeyDecoderTests {
  @Test("control characters, Enter, Esc, Backspace and printable characters")
  func characters() {
    #expect(KeyDecoder.key(character: 13) == .enter)
    #expect(KeyDecoder.key(character: 10) == .enter)
    #expect(KeyDecoder.key(character: 27) == .escape)
    #expect(KeyDecoder.key(character: 127) == .backspace)
    #expect(KeyDecoder.key(character: 3) == .control("c"))
    #expect(KeyDecoder.key(character: 21) == .control("u"))
    #expect(KeyDecoder.key(character: 106) == .character("j"))
    #expect(KeyDecoder.key(character: 0x5C64) == .character("層"))
    #expect(KeyDecoder.key(character: 0) == nil)
  }

  @Test("curses key codes")
  func codes() {
    #expect(KeyDecoder.key(code: Curses.Code.up) == .up)
    #expect(KeyDecoder.key(code: Curses.Code.pageDown) == .pageDown)
    #expect(KeyDecoder.key(code: Curses.Code.f1) == .function(1))
    #expect(KeyDecoder.key(code: Curses.Code.f1 + 4) == .function(5))
    #expect(KeyDecoder.key(code: Curses.Code.backspace) == .backspace)
  }

  @Test("mouse buttons")
  func mouse() {
    #expect(KeyDecoder.mouse(buttons: Curses.Button.wheelUp, x: 0, y: 0) == .wheelUp)
    #expect(
      KeyDecoder.mouse(buttons: Curses.Button.doubleClick, x: 3, y: 4) == .doubleClick(x: 3, y: 4))
    #expect(KeyDecoder.mouse(buttons: Curses.Button.click, x: 3, y: 4) == .click(x: 3, y: 4))
  }
}

@Suite("colour pairs")
struct ColorPairTests {
  @Test("pairs are made once per colour combination; plain text uses pair 0")
  func pairs() {
    var pairs = ColorPairs(limit: 256)
    var defined: [[Int]] = []
    let green = Style(foreground: .green)
    #expect(pairs.pair(for: .plain) { defined.append([$0, $1, $2]) } == 0)
    #expect(pairs.pair(for: green) { defined.append([$0, $1, $2]) } == 1)
    #expect(pairs.pair(for: green.adding(.bold)) { defined.append([$0, $1, $2]) } == 1)
    #expect(
      pairs.pair(for: Style(foreground: .black, background: .yellow)) {
        defined.append([$0, $1, $2])
      } == 2)
    #expect(defined == [[1, 2, -1], [2, 0, 3]])
    var none = ColorPairs(limit: 0)
    #expect(none.pair(for: green) { _, _, _ in } == 0)
  }
}
