"""Tiny model and tensor classes used by Scripts/make_fixtures.py.

They live in their own importable module so that a whole-model pickle
(``torch.save(model)``) names them with a stable class path
(``fixture_models.TinyNet``), not ``__main__.TinyNet``.  Loading such a
fixture with ``weights_only=False`` needs this directory on ``sys.path``.
"""

import torch
from torch import nn


class TinyNet(nn.Module):
    """conv + batchnorm + linear + layernorm; input (N, 3, 4, 4) -> (N, 8)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)  # weight (4,3,3,3), bias (4,)
        self.bn = nn.BatchNorm2d(4)  # weight, bias, running_mean/var, num_batches_tracked (0-dim int64)
        self.fc = nn.Linear(16, 8)  # weight (8,16), bias (8,)
        self.norm = nn.LayerNorm(8)  # weight (8,), bias (8,)

    def forward(self, x):
        x = self.bn(self.conv(x))
        x = torch.flatten(x, 1)
        return self.norm(self.fc(x))


class TinyNetWithBuffers(TinyNet):
    """TinyNet plus a persistent and a non-persistent buffer."""

    def __init__(self):
        super().__init__()
        self.register_buffer("step_count", torch.zeros((), dtype=torch.int64))
        self.register_buffer("scratch", torch.arange(6, dtype=torch.float32), persistent=False)


class TaggedTensor(torch.Tensor):
    """A trivial tensor subclass: pickles through torch._tensor._rebuild_from_type_v2."""


class DeviceTaggedTensor(torch.Tensor):
    """Pickles the way torch pickles xla/maia/mtia tensors (no storage of their own):

    ``torch._utils._rebuild_device_tensor_from_cpu_tensor(cpu_tensor, dtype, device, requires_grad)``.
    The class itself never appears in the pickle.  ``fake_device`` is the device
    string written as the third argument.
    """

    fake_device = "cuda:0"

    def __reduce_ex__(self, proto):
        cpu = torch.Tensor._make_subclass(torch.Tensor, self.detach())
        return (
            torch._utils._rebuild_device_tensor_from_cpu_tensor,
            (cpu, self.dtype, self.fake_device, self.requires_grad),
        )


class TinyNetConst(TinyNet):
    """TinyNet whose forward adds a tensor literal: tracing turns it into a TorchScript constant."""

    def forward(self, x):
        return super().forward(x) + torch.tensor([0.5, -0.5, 0.25, -0.25, 0.125, -0.125, 1.0, -1.0])


class TiedNet(nn.Module):
    """Embedding whose weight is tied to the output projection (one Parameter, two state_dict keys)."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.embed.weight


class WrapperTensor(torch.Tensor):
    """A data-less wrapper subclass: pickles through torch._utils._rebuild_wrapper_subclass,
    with the device as a ``torch.device`` argument (no storage, no pid)."""

    @staticmethod
    def __new__(cls, size, device, dtype=torch.float32):
        return torch.Tensor._make_wrapper_subclass(cls, size, dtype=dtype, device=device)

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        raise NotImplementedError(f"WrapperTensor does not implement {func}")
