import PTViewCore
import PTViewTestSupport
import Testing

@testable import PTViewTUI

@Suite("Tree building")
struct TreeTests {
  @Test("dotted state_dict keys become the module hierarchy, in file order")
  func moduleHierarchy() throws {
    let tree = Tree(checkpoint: try Make.checkpoint("torch/train_ckpt_cuda0.pt"))
    let top = tree[0].children.map { tree[$0].name }
    #expect(top == ["model", "optimizer", "epoch", "config"])
    let model = tree[0].children[0]
    #expect(tree[model].children.map { tree[$0].name } == ["conv", "bn", "fc", "norm"])
    let bn = tree[model].children[1]
    #expect(
      tree[bn].children.map { tree[$0].name } == [
        "weight", "bias", "running_mean", "running_var", "num_batches_tracked",
      ])
    #expect(tree[tree[bn].children[0]].key == "model.bn.weight")
    #expect(tree[model].tensors == 11)
  }

  @Test("every tensor entry has exactly one node, and totals add up")
  func everyEntryPlaced() throws {
    let checkpoint = try Make.example()
    let tree = Tree(checkpoint: checkpoint)
    #expect(tree.entryNode.allSatisfy { $0 > 0 })
    #expect(Set(tree.entryNode).count == checkpoint.entries.count)
    for (i, entry) in checkpoint.entries.enumerated() {
      #expect(tree[tree.entryNode[i]].key == entry.key)
    }
    #expect(Int(tree[0].tensors) == checkpoint.entries.count)
    #expect(tree[0].bytes == checkpoint.entries.reduce(0) { $0 + $1.tensor.nbytes })
    // Preorder is a permutation and subtree sizes are consistent.
    #expect(tree.preorder.count == tree.count)
    #expect(Int(tree.subtreeSize[0]) == tree.count)
  }

  @Test("a ModuleList is one indexed row: layers.0 … layers.5 (6×)")
  func indexedGroups() throws {
    let tree = Tree(checkpoint: try Make.example())
    let layers = try #require(tree.preorder.first { tree[$0].key == "model.layers" })
    #expect(tree[layers].indexed)
    #expect(tree[layers].label == "layers.0 … layers.5")
    #expect(tree[layers].suffix == "(6×)")
    #expect(tree[tree[layers].children[3]].label == "layers.3")
    let state = try #require(tree.preorder.first { tree[$0].key == "optimizer.state" })
    #expect(tree[state].indexed)
    #expect(tree[state].label.hasPrefix("state.0 … state."))
  }

  @Test("numbered top-level keys fold into one run")
  func runsAtTheRoot() throws {
    let tree = Tree(checkpoint: try Make.checkpoint("torch/sd_many.pt"))
    #expect(tree[0].children.count == 1)
    let run = tree[0].children[0]
    #expect(tree[run].kind == .run)
    #expect(tree[run].label == "t0000 … t1999")
    #expect(tree[run].suffix == "(2000×)")
    #expect(tree[run].tensors == 2000)
    #expect(tree[tree[run].children[7]].key == "t0007")
  }

  @Test("numbered names fold only in long runs; short ones stay as they are")
  func numberedNames() {
    #expect(TreeBuilder.numbered("layer12")?.prefix == "layer")
    #expect(TreeBuilder.numbered("layer12")?.number == 12)
    #expect(TreeBuilder.numbered("12")?.prefix == "")
    #expect(TreeBuilder.numbered("weight") == nil)
    #expect(TreeBuilder.numbered("x1234567890") == nil)
  }

  @Test("non-tensor values are leaves with Python-like text")
  func values() throws {
    let tree = Tree(checkpoint: try Make.checkpoint("torch/train_ckpt_cuda0.pt"))
    let epoch = try #require(tree.preorder.first { tree[$0].key == "epoch" })
    #expect(tree[epoch].kind == .value)
    #expect(tree.text(of: epoch) == "17")
    let config = try #require(tree.preorder.first { tree[$0].key == "config" })
    #expect(tree[config].kind == .group)
    #expect(tree[config].tensors == 0)
    #expect(
      tree.text(of: config).hasPrefix(
        "{lr: 0.001, betas: [0.9, 0.999], batch_size: 4, arch: 'TinyNet'"))
    let params = try #require(
      tree.preorder.first { tree[$0].key == "optimizer.param_groups.0.params" })
    #expect(tree.text(of: params) == "[0, 1, 2, 3, 4, 5, 6, 7]")
  }

  @Test("objects that are not dicts read as calls: numpy scalars, namespaces")
  func objects() throws {
    let tree = Tree(checkpoint: try Make.checkpoint("torch/numpy_namespace_cuda0.pt"))
    let values = tree.preorder.filter { tree[$0].kind == .value }.map {
      tree[$0].key + " = " + tree.text(of: $0)
    }
    #expect(values.contains { $0.hasPrefix("best_acc = numpy") })
    #expect(values.contains { $0.contains("argparse.Namespace(") })
  }

  @Test("a pickled nn.Module holds its state_dict keys and says what class it is")
  func modules() throws {
    let tree = Tree(checkpoint: try Make.checkpoint("torch/model_full_in_dict_cuda0.pt"))
    let model = try #require(tree.preorder.first { tree[$0].key == "model" })
    #expect(tree[model].suffix.hasPrefix("nn.Module "))
    #expect(
      tree[model].children.map { tree[$0].name }.prefix(3) == ["step_count", "scratch", "conv"])
  }

  @Test("tied weights share a storage, listed under both keys")
  func storageUsers() throws {
    let tree = Tree(checkpoint: try Make.checkpoint("torch/model_tied.pt"))
    #expect(tree.storageUsers["data/0"]?.count == 2)
  }

  @Test("safetensors metadata shows as values")
  func safetensorsMetadata() throws {
    let checkpoint = try Make.checkpoint("torch/model.safetensors")
    let tree = Tree(checkpoint: checkpoint)
    #expect(Int(tree[0].tensors) == checkpoint.entries.count)
    if !checkpoint.metadata.isEmpty {
      #expect(tree.preorder.contains { tree[$0].key.hasPrefix("__metadata__.") })
    }
  }

  @Test("value text stays short for huge lists")
  func valueBudget() throws {
    let tree = Tree(checkpoint: try Make.checkpoint("torch/sd_many.pt"))
    for id in tree.preorder where tree[id].kind == .value {
      #expect(tree.text(of: id).count <= 200)
    }
  }
}
