"""Writes small torch.distributed.checkpoint (DCP) folders under Tests/Fixtures/dcp with real
torch: a plain state_dict, a nested optimizer-like dict with non-tensor values, and a model
sharded over two gloo ranks (DTensor, so tensors are saved in several chunks and files).

Run with the torch venv: python Scripts/make_dcp_fixtures.py
"""

import os
import shutil
import sys
import tempfile
import warnings

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
import torch.multiprocessing as mp

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "dcp")
warnings.filterwarnings("ignore")


def fresh(name):
    path = os.path.join(ROOT, name)
    shutil.rmtree(path, ignore_errors=True)
    return path


def plain():
    g = torch.Generator().manual_seed(1)
    sd = {
        "linear.weight": torch.randn(4, 3, generator=g),
        "linear.bias": torch.randn(4, generator=g),
        "embed": torch.randn(5, 2, generator=g).to(torch.bfloat16),
        "steps": torch.tensor(7, dtype=torch.int64),
        "mask": torch.tensor([True, False, True]),
    }
    dcp.save(sd, checkpoint_id=fresh("plain"))


def nested():
    g = torch.Generator().manual_seed(2)
    sd = {
        "model": {"fc": {"weight": torch.randn(3, 2, generator=g), "bias": torch.zeros(3)}},
        "optim": {
            "state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.randn(3, 2, generator=g)}},
            "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), "params": [0], "name": "all"}],
        },
        "epoch": 5,
        "note": "hello",
        "half": torch.arange(6, dtype=torch.float16).reshape(2, 3),
    }
    dcp.save(sd, checkpoint_id=fresh("nested"))


def values():
    # Lists of tensors (int path steps), an empty tensor, dtypes without a storage class, and
    # plain non-tensor values of every kind export copies.
    sd = {
        "layers": [torch.ones(2), torch.zeros(0, 3)],
        "flag": True,
        "nothing": None,
        "big": 2**70,
        "raw": b"xy\xff",
        "ratio": 0.25,
        "f8": torch.tensor([0.5, -1.0, 2.0]).to(torch.float8_e4m3fn),
        "c": torch.tensor([1 + 2j, -3j], dtype=torch.complex64),
        "u16": torch.tensor([1, 65535], dtype=torch.uint16),
    }
    dcp.save(sd, checkpoint_id=fresh("values"))


def refused():
    # A set is not a value export re-creates: it is refused by key.
    dcp.save({"w": torch.ones(2), "tags": {1, 2}}, checkpoint_id=fresh("refused"))


def sharded_worker(rank, world, path, port):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Replicate, Shard, distribute_tensor

    mesh = init_device_mesh("cpu", (world,))
    g = torch.Generator().manual_seed(3)
    full = {
        "w": torch.randn(6, 4, generator=g),
        "cols": torch.randn(3, 8, generator=g),
        "ints": torch.arange(10, dtype=torch.int32),
        "rep": torch.randn(2, 2, generator=g),
    }
    sd = {
        "w": distribute_tensor(full["w"], mesh, [Shard(0)]),
        "cols": distribute_tensor(full["cols"], mesh, [Shard(1)]),
        "ints": distribute_tensor(full["ints"], mesh, [Shard(0)]),
        "rep": distribute_tensor(full["rep"], mesh, [Replicate()]),
        "plain": torch.ones(3),
    }
    dcp.save(sd, checkpoint_id=path)
    dist.barrier()
    dist.destroy_process_group()


def sharded():
    path = fresh("sharded")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(sharded_worker, args=(2, path, port), nprocs=2, join=True)


if __name__ == "__main__":
    os.makedirs(ROOT, exist_ok=True)
    plain()
    nested()
    values()
    refused()
    sharded()
    for name in sorted(os.listdir(ROOT)):
        print(name, sorted(os.listdir(os.path.join(ROOT, name))))
