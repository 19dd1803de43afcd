#!/usr/bin/env python
"""Write examples/gpu_checkpoint.pt: a GPU-trained checkpoint arriving on a CPU-only box.

    /root/.cache/ptview/venv/bin/python examples/make_example.py

A small transformer-ish language model (token embedding, 6 pre-norm blocks ``layers.0`` ..
``layers.5`` with attention q/k/v/o projections and a 2-layer MLP, a final norm, an output
head tied to the embedding), trained for 2 real Adam steps on random tokens (fixed seed), saved as

    {'model': state_dict, 'optimizer': Adam state_dict, 'epoch': 5, 'config': {...plain values...}}

with EVERY storage tagged ``cuda:0`` (torch-format.md section 7: a storage tagger registered
ahead of torch's own ``cpu`` tagger, returning a fresh ``'cuda:0'`` string per storage, which
is what a real CUDA save writes).  Nothing in it needs ``weights_only=False``: once the
locations say ``cpu`` a plain ``torch.load(path)`` reads it.  The script checks that plain
``torch.load`` fails here with torch's CUDA message and that ``map_location='cpu'`` works.
"""

import os
import sys
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep __pycache__ out of the checkout
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "Scripts"))

import torch  # noqa: E402
from torch import nn  # noqa: E402

import fixture_support as fs  # noqa: E402

CONFIG = {"vocab_size": 256, "d_model": 32, "n_heads": 4, "n_layers": 6, "d_ff": 64, "max_len": 64,
          "lr": 3e-4, "betas": [0.9, 0.95], "weight_decay": 0.0, "batch_size": 8, "seq_len": 16,
          "seed": 1234, "device": "cuda", "amp": False, "run_name": "tiny-lm-demo"}


class Block(nn.Module):
    def __init__(self, d, h, f):
        super().__init__()
        self.h = h
        self.ln1 = nn.LayerNorm(d)
        self.attn = nn.ModuleDict(dict(q=nn.Linear(d, d), k=nn.Linear(d, d), v=nn.Linear(d, d), o=nn.Linear(d, d)))
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, f), nn.GELU(), nn.Linear(f, d))

    def forward(self, x):
        b, t, d = x.shape
        y = self.ln1(x)
        q, k, v = (self.attn[n](y).view(b, t, self.h, d // self.h).transpose(1, 2) for n in "qkv")
        a = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.attn["o"](a.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.ln2(x))


class TinyLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed = nn.Embedding(c["vocab_size"], c["d_model"])
        self.pos = nn.Embedding(c["max_len"], c["d_model"])
        self.layers = nn.ModuleList(Block(c["d_model"], c["n_heads"], c["d_ff"]) for _ in range(c["n_layers"]))
        self.norm = nn.LayerNorm(c["d_model"])
        self.lm_head = nn.Linear(c["d_model"], c["vocab_size"], bias=False)
        self.lm_head.weight = self.embed.weight  # tied: two state_dict keys, one storage

    def forward(self, idx):
        x = self.embed(idx) + self.pos(torch.arange(idx.shape[1]))
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.norm(x))


def main():
    torch.manual_seed(CONFIG["seed"])
    model = TinyLM(CONFIG)
    opt = torch.optim.Adam(model.parameters(), lr=CONFIG["lr"], betas=tuple(CONFIG["betas"]))
    g = torch.Generator().manual_seed(CONFIG["seed"])
    for _ in range(2):
        tok = torch.randint(0, CONFIG["vocab_size"], (CONFIG["batch_size"], CONFIG["seq_len"] + 1), generator=g)
        logits = model(tok[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, CONFIG["vocab_size"]), tok[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    ckpt = OrderedDict(model=model.state_dict(), optimizer=opt.state_dict(), epoch=5, config=dict(CONFIG))
    path = os.path.join(HERE, "gpu_checkpoint.pt")
    fs.save_as(ckpt, path, "cuda:0")

    size = os.path.getsize(path)
    try:
        torch.load(path)
        raise SystemExit("unexpected: plain torch.load succeeded on this machine")
    except RuntimeError as e:
        msg = str(e).splitlines()[0]
        assert "CUDA" in msg, msg
    back = torch.load(path, map_location="cpu")  # weights_only=True (the default) is enough
    for k, v in ckpt["model"].items():
        assert torch.equal(back["model"][k], v), k
    assert back["epoch"] == 5 and back["config"] == CONFIG
    n = sum(v.numel() for v in ckpt["model"].values())
    print(f"wrote {os.path.relpath(path)} ({size} bytes, {len(ckpt['model'])} model tensors, {n} values incl. the tied head)")
    print(f"plain torch.load: RuntimeError: {msg}")
    print("torch.load(map_location='cpu'): ok, values equal")


if __name__ == "__main__":
    main()
