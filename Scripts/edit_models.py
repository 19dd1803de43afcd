"""Small model classes for Scripts/make_edit_fixtures.py and Tests/Interop/test_edit.py.

Whole-module pickles (``torch.save(model)``) name these classes as ``edit_models.<Class>``, so a
trusted ``torch.load(path, weights_only=False)`` needs this directory (``Scripts/``) on
``sys.path``. The plain (unwrapped) classes are also what the state-dict fixtures are loaded
into with ``load_state_dict(strict=True)``.

Nothing here needs anything but torch: the Lightning wrapper lives in the generator.
"""

import torch
from torch import nn


class EditNet(nn.Module):
    """The net every wrapped state dict comes from: input (N, 3, 4, 4) -> (N, 5).

    state_dict keys: features.0.weight/bias (conv), features.1.weight/bias/running_mean/
    running_var/num_batches_tracked (batchnorm), head.weight/bias.
    """

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
        self.head = nn.Linear(16, 5)

    def forward(self, x):
        return self.head(torch.flatten(self.features(x), 1))


class Block(nn.Module):
    """conv (bias=False: `bias` is a registered None parameter) + batchnorm + relu."""

    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


class EditCNN(nn.Module):
    """A CNN that exercises state_dict() rules. Input (N, 3, 4, 4) -> dict of two heads.

    * Sequential (``stem``), ModuleList (``blocks``), ModuleDict (``heads``) nesting;
    * Conv2d(bias=False) everywhere: ``_parameters['bias'] is None`` (not in state_dict);
    * BatchNorm running stats and the 0-dim int64 ``num_batches_tracked``;
    * a persistent buffer ``pos`` and a NON-persistent buffer ``scratch`` (not in state_dict);
    * a buffer registered as None (``maybe``) and a parameter registered as None (``unused``);
    * the module's own parameter ``scale`` is registered AFTER the children, yet state_dict()
      lists it (and the own buffer ``pos``) BEFORE every child key;
    * ``heads.cls`` and ``heads.cls_aux``: a dotted-prefix rename of ``heads.cls`` must leave
      ``heads.cls_aux.*`` alone.
    """

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU())
        self.blocks = nn.ModuleList([Block(4), Block(4)])
        self.heads = nn.ModuleDict({"cls": nn.Linear(4, 3), "cls_aux": nn.Linear(4, 2, bias=False)})
        self.scale = nn.Parameter(torch.ones(1))
        self.register_parameter("unused", None)
        self.register_buffer("pos", torch.arange(4, dtype=torch.float32))
        self.register_buffer("scratch", torch.full((3,), 7.0), persistent=False)
        self.register_buffer("maybe", None)

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        x = x.mean(dim=(2, 3)) * self.scale + self.pos
        return {name: head(x) for name, head in self.heads.items()}


class TiedLM(nn.Module):
    """Embedding tied to the output head (ONE Parameter under two state_dict keys), and a
    submodule registered under two names (``enc`` and ``enc_alias``: both prefixes appear)."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.enc = nn.Linear(4, 4)
        self.enc_alias = self.enc
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, tokens):
        return self.head(torch.tanh(self.enc(self.embed(tokens))))


class ScriptNet(nn.Module):
    """For torch.jit.script: params, batchnorm buffers, a persistent and a non-persistent buffer."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(16, 5)
        self.register_buffer("steps", torch.zeros((), dtype=torch.int64))
        self.register_buffer("scratch", torch.arange(3, dtype=torch.float32), persistent=False)

    def forward(self, x):
        return self.fc(torch.flatten(self.bn(self.conv(x)), 1))


class DeviceNet(nn.Module):
    """For torch.jit.script: forward names ``torch.device("cuda:0")`` literally, so the archive's
    ``code/`` holds it. ``move`` is False, so forward runs (and the archive loads) on the CPU."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.register_buffer("offset", torch.tensor([0.5, -0.5, 0.25]))
        self.move = False

    def forward(self, x):
        if self.move and x.device.type == "cpu":
            x = x.to(torch.device("cuda:0"))
        return self.fc(x) + self.offset
