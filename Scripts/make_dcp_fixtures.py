"""Writes small torch.distributed.checkpoint (DCP) folders under Tests/Fixtures/dcp with real
torch: a plain state_dict, a nested optimizer-like dict with non-tensor values, tuples DCP
pickles whole with their tensors (tensor_values), and a model sharded over two gloo ranks
(DTensor, so tensors are saved in several chunks and files). Every folder is saved by a
relative path with a pinned save id, so `.metadata` records nothing of this machine and a
rerun writes the same bytes.

Hostile folders go to Tests/Fixtures/dcp_hostile (doctor and scan judge them): files missing
or cut short, chunks overlapping, a dtype the bytes do not match, a pickled value zeroed, and
two whose pickles would call os.system if loaded (a pickled value, and .metadata itself);
two more hold pickled tuples whose tensors are tagged cuda:0 / cuda:1 (remap). Nothing here is ever
unpickled: the os.system pickles are written by pickling an object whose __reduce__ names
it, which does not call it.

Run with the torch venv: python Scripts/make_dcp_fixtures.py
"""

import dataclasses
import os
import pickle
import shutil
import sys
import tempfile
import warnings

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
import torch.multiprocessing as mp

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "Tests", "Fixtures", "dcp"))
HOSTILE = os.path.normpath(os.path.join(HERE, "..", "Tests", "Fixtures", "dcp_hostile"))
sys.path.insert(0, HERE)
import fixture_support as fs  # noqa: E402
warnings.filterwarnings("ignore")


def fresh(name):
    """A new, empty fixture folder, as the relative path dcp.save gets. The generator runs
    with ROOT as its working directory (see __main__), so `.metadata` records
    StorageMeta.checkpoint_id as this relative path, never the generating machine's."""
    shutil.rmtree(os.path.join(ROOT, name), ignore_errors=True)
    return name


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


def tensor_values():
    # Tuples are leaves to DCP's flattening: each is torch.save'd whole as a pickled value,
    # tensors and all (stats and cat read them; dcp_to_torch_save loads them as they are).
    g = torch.Generator().manual_seed(4)
    base = torch.arange(6.0)
    sd = {
        "w": torch.randn(2, 3, generator=g),
        "opt": ({"step": 3, "buf": torch.randn(2, 2, generator=g)}, [torch.randn(3, generator=g), 1]),
        "pair": (torch.arange(3, dtype=torch.int16), 7),
        "views": (base, base[2:5]),
    }
    dcp.save(sd, checkpoint_id=fresh("tensor_values"))


def refused():
    # A set is not a value export re-creates: it is refused by key.
    dcp.save({"w": torch.ones(2), "tags": {1, 2}}, checkpoint_id=fresh("refused"))


def pin_save_id():
    """The save id is a random uuid4: pin it, so a rerun writes the same bytes."""
    import torch.distributed.checkpoint.filesystem as dcp_fs

    dcp_fs._generate_uuid = lambda: "00000000-0000-4000-8000-000000000000"


def sharded_worker(rank, world, path, port):
    pin_save_id()  # spawned ranks import this module afresh
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


class CallsSystem:
    """Pickles as `os.system(...)`: what a malicious pickled value looks like. Pickling it
    only names os.system; the command would run only if someone unpickled the result."""

    def __reduce__(self):
        return (os.system, ("echo the DCP hostile fixture was unpickled",))


def hostile_copy(name, source):
    path = os.path.join(HOSTILE, name)
    shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, source), path)
    return path


def rewrite_metadata(path, change):
    meta_path = os.path.join(path, ".metadata")
    with open(meta_path, "rb") as f:
        meta = pickle.load(f)  # our own fixture's metadata, just written by dcp.save
    change(meta)
    with open(meta_path, "wb") as f:
        pickle.dump(meta, f)


def storage_of(path, fqn):
    with open(os.path.join(path, ".metadata"), "rb") as f:
        meta = pickle.load(f)
    return [info for index, info in meta.storage_data.items() if index.fqn == fqn][0]


def hostile():
    os.makedirs(HOSTILE, exist_ok=True)
    # A rank's file is gone.
    os.remove(os.path.join(hostile_copy("missing_file", "sharded"), "__1_0.distcp"))
    # A rank's file is cut short: its chunks lie past the end.
    cut = os.path.join(hostile_copy("truncated", "sharded"), "__1_0.distcp")
    with open(cut, "r+b") as f:
        f.truncate(100)

    # Two chunks of w claim the same rows (and the rows 3..5 are nobody's).
    def overlap(meta):
        chunks = meta.state_dict_metadata["w"].chunks
        moved = chunks[1].offsets
        chunks[1].offsets = torch.Size([2, 0])
        meta.storage_data = {
            (dataclasses.replace(k, offset=torch.Size([2, 0])) if k.fqn == "w" and k.offset == moved else k): v
            for k, v in meta.storage_data.items()
        }

    rewrite_metadata(hostile_copy("overlap", "sharded"), overlap)

    # The metadata says int64, the chunks hold int32.
    def wrong_dtype(meta):
        props = meta.state_dict_metadata["ints"].properties
        meta.state_dict_metadata["ints"].properties = dataclasses.replace(props, dtype=torch.int64)

    rewrite_metadata(hostile_copy("wrong_dtype", "sharded"), wrong_dtype)
    # A pickled value's bytes are zeroed: its archive no longer reads.
    path = hostile_copy("zeroed_value", "nested")
    info = storage_of(path, "note")
    with open(os.path.join(path, info.relative_path), "r+b") as f:
        f.seek(info.offset)
        f.write(b"\0" * info.length)
    # A pickled value that would call os.system.
    dcp.save({"w": torch.ones(2), "hook": CallsSystem()}, checkpoint_id=fresh_hostile("evil_value"))
    # .metadata itself would call os.system.
    path = hostile_copy("evil_metadata", "plain")
    with open(os.path.join(path, ".metadata"), "wb") as f:
        pickle.dump(CallsSystem(), f, protocol=2)
    # A pickled tuple holding a tensor saved on cuda:0 (tagged so: no GPU here). Only that
    # tensor's storage is tagged; DCP's own tensor chunks stay cpu as DCP writes them.
    t = torch.arange(3.0)
    ptr = t.untyped_storage().data_ptr()
    fs._LOC["fn"] = lambda st: fs.fresh("cuda:0") if st.data_ptr() == ptr else None
    try:
        dcp.save({"w": torch.zeros(2), "pair": (t, 7)}, checkpoint_id=fresh_hostile("cuda_value"))
    finally:
        fs._LOC["fn"] = None
    # Two pickled values on cuda:0 and cuda:1 followed by tensors in the same file (DCP writes
    # pickled values first): remap rewrites them, and "many" (24 storages, 3 bytes shorter
    # each once on cpu) changes length, so every later range in the file moves.
    many = tuple(torch.full((2,), float(i)) for i in range(24))
    pair = (torch.arange(3.0), 7)
    gpu = {many[i].untyped_storage().data_ptr(): "cuda:1" for i in range(24)}
    gpu[pair[0].untyped_storage().data_ptr()] = "cuda:0"
    fs._LOC["fn"] = lambda st: fs.fresh(gpu[st.data_ptr()]) if st.data_ptr() in gpu else None
    try:
        sd = {"pair": pair, "many": many, "w": torch.arange(4.0), "b": torch.ones(2, 2)}
        dcp.save(sd, checkpoint_id=fresh_hostile("cuda_values"))
    finally:
        fs._LOC["fn"] = None


def fresh_hostile(name):
    """As `fresh`, under dcp_hostile (relative to ROOT, the working directory)."""
    shutil.rmtree(os.path.join(HOSTILE, name), ignore_errors=True)
    return os.path.join("..", "dcp_hostile", name)


if __name__ == "__main__":
    os.makedirs(ROOT, exist_ok=True)
    os.makedirs(HOSTILE, exist_ok=True)
    os.chdir(ROOT)  # fixtures are saved by relative path (see fresh)
    pin_save_id()
    plain()
    nested()
    values()
    tensor_values()
    refused()
    sharded()
    hostile()
    for name in sorted(os.listdir(ROOT)):
        print(name, sorted(os.listdir(os.path.join(ROOT, name))))
