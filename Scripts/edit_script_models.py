"""TorchScript model classes for Scripts/make_edit_fixtures.py, kept apart from edit_models.py:
a scripted archive's debug records hold the source file of its classes, so every change to a
file re-makes the fixtures scripted from it."""

import torch
from torch import nn


@torch.jit.script
class ScaleTable:
    """A TorchScript class (not a module) holding a tensor: a value, not part of state_dict()."""

    def __init__(self, values: torch.Tensor):
        self.values = values


class ScriptAttrNet(nn.Module):
    """For torch.jit.script: tensors that are attributes but not state. TorchScript's
    ``state_dict()`` takes each module's ``__parameters__`` (attribute order), then its
    ``__buffers__``, then submodules, so here it leaves out ``scale`` (a plain tensor
    attribute), ``table`` (a list of tensors) and ``helper`` (a script class object), lists
    ``first`` (a buffer registered before the parameter) after ``weight``, and skips the
    first block's bias of None."""

    def __init__(self):
        super().__init__()
        self.register_buffer("first", torch.arange(4, dtype=torch.float32))
        self.weight = nn.Parameter(torch.randn(4))
        self.scale = torch.full((4,), 2.0)
        self.table = [torch.ones(4), torch.zeros(4)]
        self.helper = ScaleTable(torch.full((4,), 0.5))
        self.blocks = nn.ModuleList([nn.Linear(4, 4, bias=False), nn.Linear(4, 4)])

    def forward(self, x):
        x = x * self.weight * self.scale * self.helper.values + self.first + self.table[0]
        for block in self.blocks:
            x = block(x)
        return x
