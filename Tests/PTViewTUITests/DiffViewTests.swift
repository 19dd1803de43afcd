import PTViewCore
import PTViewFiles
import PTViewTestSupport
import Testing

@testable import PTViewTUI

/// `ptview diff`'s explorer view: golden screens and its keys, on the pair of fixtures made by
/// Scripts/make_diff_fixtures.py (values compared by the same reader as the CLI).
@Suite("diff view")
struct DiffViewTests {
  static func report(_ a: String = "diff/base.pt", _ b: String = "diff/changed.pt") throws
    -> DiffReport
  {
    let left = try Fixtures.checkpoint(a)
    let right = try Fixtures.checkpoint(b)
    var report = DiffReport(a: left.entries, b: right.entries)
    let readA = TensorValues(
      checkpoint: left, source: try FileSource(path: Fixtures.path(a)))
    let readB = TensorValues(
      checkpoint: right, source: try FileSource(path: Fixtures.path(b)))
    try ValueDiff(a: readA, b: readB).fill(&report)
    return report
  }

  static func model(size: Size = .standard) throws -> DiffModel {
    DiffModel(report: try report(), nameA: "base.pt", nameB: "changed.pt", size: size)
  }

  @Test("changes first, unchanged keys folded, details of the selected key")
  func opening() throws {
    Golden.check(try Self.model().render(), "diff-80x24", styles: true)
  }

  @Test("u shows the unchanged keys dimmed; n jumps over them to the next difference")
  func unchangedShown() throws {
    var model = try Self.model()
    _ = model.update(.key(.character("u")))
    _ = model.update(.key(.character("n")))
    #expect(model.selectedRow?.key == "nan_vs_number")
    Golden.check(model.render(), "diff-unchanged", styles: true)
  }

  @Test("the fold line opens with Enter; End and Home; q closes")
  func navigation() throws {
    var model = try Self.model()
    _ = model.update(.key(.end))
    #expect(model.selectedRow == nil)  // on the fold line
    _ = model.update(.key(.enter))
    #expect(model.showUnchanged)
    _ = model.update(.key(.home))
    #expect(model.selectedRow?.key == "weight")
    _ = model.update(.key(.character("N")))
    #expect(model.selectedRow?.key == "added")  // wraps around to the last difference
    let stays = model.update(.key(.character("q")))
    #expect(!stays)
  }

  @Test("? lists the keys; any key closes the list")
  func help() throws {
    var model = try Self.model()
    _ = model.update(.key(.character("?")))
    Golden.check(model.render(), "diff-help")
    let stays = model.update(.key(.character("x")))
    #expect(stays && !model.showingHelp)
  }

  @Test("identical files: everything listed, the header says identical")
  func identical() throws {
    let report = try Self.report("diff/base.pt", "diff/base_legacy.pt")
    let model = DiffModel(
      report: report, nameA: "base.pt", nameB: "base_legacy.pt", size: Size(columns: 60, rows: 12))
    Golden.check(model.render(), "diff-identical")
  }

  @Test("the runtime draws until q")
  func runtime() throws {
    var runtime = DiffRuntime(
      model: try Self.model(),
      backend: FakeBackend(script: FakeBackend.keys("jjq"), keepFrames: true))
    runtime.run()
    #expect(runtime.backend.frames.count == 3)
    #expect(runtime.model.selectedRow?.key == "inf_vs_number")
  }
}

extension DiffViewTests {
  @Test("long keys and paths keep their ends at 50 columns")
  func narrow() throws {
    let model = DiffModel(
      report: try Self.report(), nameA: "/a/long/folder/of/checkpoints/base.pt",
      nameB: "/another/long/folder/changed.pt", size: Size(columns: 50, rows: 10))
    Golden.check(model.render(), "diff-narrow")
  }
}

extension DiffViewTests {
  @Test("/ searches keys, unfolding unchanged ones; / Enter repeats; a miss says so")
  func search() throws {
    var model = try Self.model()
    for key in [KeyEvent.character("/"), .character("S"), .character("a"), .character("m")] {
      _ = model.update(.key(key))
    }
    #expect(model.render().lines.last == " /Sam")
    _ = model.update(.key(.enter))
    #expect(model.selectedRow?.key == "same_f64")
    #expect(model.showUnchanged)
    _ = model.update(.key(.character("/")))
    _ = model.update(.key(.enter))
    #expect(model.selectedRow?.key == "nan_same")
    for key in [KeyEvent.character("/"), .character("z"), .character("z"), .enter] {
      _ = model.update(.key(key))
    }
    #expect(model.selectedRow?.key == "nan_same")
    #expect(model.render().lines.last == " no key contains zz")
  }
}
