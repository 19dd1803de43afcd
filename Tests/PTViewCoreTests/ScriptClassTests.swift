import Testing

@testable import PTViewCore

/// Class declarations as torch prints them into a TorchScript archive's `code/` (the texts
/// below are the shapes torch 2.x writes: see Tests/Fixtures/edit/ts_attrs.pt), and input
/// that is not.
@Suite struct ScriptClassTests {
  @Test("code paths name the classes' module, mangled folders included")
  func modules() {
    #expect(ScriptClassParser.module(ofCodePath: "code/__torch__.py") == "__torch__")
    #expect(
      ScriptClassParser.module(
        ofCodePath: "code/__torch__/torch/nn/modules/linear/___torch_mangle_0.py")
        == "__torch__.torch.nn.modules.linear.___torch_mangle_0")
    #expect(ScriptClassParser.module(ofCodePath: "code/__torch__.py.debug_pkl") == nil)
    #expect(ScriptClassParser.module(ofCodePath: "constants.pkl") == nil)
    #expect(ScriptClassParser.module(ofCodePath: "code/.py") == nil)
  }

  @Test("modules, their parameters and buffers; script classes are not modules")
  func declarations() {
    let text = """
      class ScriptAttrNet(Module):
        __parameters__ = ["weight", ]
        __buffers__ = ["first", ]
        weight : Tensor
        first : Tensor
        scale : Tensor
        helper : __torch__.edit_script_models.ScaleTable
        def forward(self: __torch__.edit_script_models.ScriptAttrNet,
          x: Tensor) -> Tensor:
          __parameters__ = ["not", "this"]
          return x
      class ScaleTable:
        values : Tensor
        def __init__(self: __torch__.edit_script_models.ScaleTable,
          values: Tensor) -> NoneType:
          self.values = values
          return None
      class Wrapped(Module):
        __parameters__ = ["a",
          "b", ]
        __buffers__ = []
      """
    let classes = ScriptClassParser.parse(text, module: "__torch__.edit_script_models")
    #expect(
      classes["__torch__.edit_script_models.ScriptAttrNet"]
        == ScriptClass(isModule: true, parameters: ["weight"], buffers: ["first"]))
    #expect(classes["__torch__.edit_script_models.ScaleTable"] == ScriptClass(isModule: false))
    #expect(
      classes["__torch__.edit_script_models.Wrapped"]
        == ScriptClass(isModule: true, parameters: ["a", "b"], buffers: []))
    #expect(classes.count == 3)
  }

  @Test("text that is not TorchScript yields nothing and does not trap")
  func garbage() {
    for text in [
      "", "class", "class (Module):", "class A(Module:\n  __parameters__ = [\"x\"",
      "  __parameters__ = [\"orphan\"]", String(repeating: "class A(Module):\n", count: 1000),
      "class A(Module):\n  __parameters__ = [\"unterminated",
      "class A(Module):\n  __buffers__ = \n",
    ] {
      let classes = ScriptClassParser.parse(text, module: "m")
      for (_, c) in classes { #expect(c.parameters.count <= 1) }
    }
    #expect(ScriptClassParser.parse("  __parameters__ = [\"orphan\"]", module: "m").isEmpty)
  }
}
