#!/usr/bin/env python
"""Write Tests/Fixtures/load_errors/*.json: real `load_state_dict` errors and the key rewrites
that fix them (run with the torch venv):

    /root/.cache/ptview/venv/bin/python Scripts/make_load_errors.py

Each case builds a small real model and a real state_dict the way mismatched checkpoints happen
in the wild (nn.DataParallel, torch.compile, both in both orders, a Lightning-style wrapper, a
renamed submodule, old BatchNorm checkpoints, ...), loads it with `load_state_dict(strict=True)`
into a fresh model, and records:

  texts       the error as torch words it, in the variants users paste: `message` (str(e)),
              `traceback` (as Python prints it), `terminal80` (the traceback with tabs expanded
              and hard-wrapped at 80 columns anywhere, even inside a key) and `email72` (the
              message word-wrapped at 72 columns, CRLF line ends)
  missing, unexpected   torch's own lists (a post-hook on the model), which parsing must give
  size_mismatches       keys both have with different shapes, from the tensors themselves
  file_keys   the state_dict's keys, in order;  model_keys  the model's keys, in order
  expected    what `derive` below says: flags, unmatched lists, tolerated keys
  verify      the expected rules applied to a copy of the state_dict, then
              `load_state_dict(strict=True)` on a fresh model ("ok" or torch's new error), with
              the state_dict's `_metadata` (the module versions torch saved beside the keys)
              kept as it was, renamed by the same rules, or dropped; and, when keys are
              tolerated, with those added as torch.tensor(0)
  loads       the judge: the keys renamed, `_metadata` kept, tolerated keys added.  The
              generator insists that dropping `_metadata` gives the same verdict, that the
              rules load whenever they explain everything (short of a size mismatch, which no
              renaming fixes), and that each case explains or not as it says.

What torch does with num_batches_tracked, measured here: BatchNorm fills a missing one in
silently unless the `_metadata` entry at the module's path says version 2 or later, so
  * a DataParallel or otherwise prefixed checkpoint never has its BatchNorm counters listed as
    missing (the metadata sits at the prefixed paths), though the prefixed copies are listed
    as unexpected;
  * a counter torch does list as missing was NOT filled in, and stays missing after any key
    rename (cases nbt_deleted_*): the rewrite must add it or drop the metadata;
  * renaming the `_metadata` paths together with the keys can make torch list counters the
    original error did not (nbt_deleted_renamed_submodule: encoder.1.num_batches_tracked).

`derive` is the reference for ptview's Swift KeyRuleDeriver (Sources/PTViewEdit/Keys): both
implement the same greedy search, and the Swift tests compare against these files.  The
expected values are what torch accepts: the generator refuses to write a case whose rules
explain everything but do not load (unless the case says why, e.g. a size mismatch).
"""

from __future__ import annotations

import json
import linecache
import os
import shutil
import sys
import textwrap
import traceback
import warnings
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = os.path.join(REPO, "Tests", "Fixtures", "load_errors")
sys.dont_write_bytecode = True

import torch  # noqa: E402
from torch import nn  # noqa: E402

warnings.filterwarnings("ignore")

# ---------------------------------------------------------------------------------------------
# the reference derivation (mirrored by Sources/PTViewEdit/Keys/KeyRuleDeriver.swift)

NBT = "num_batches_tracked"
MAX_RULES = 8  # rounds of the greedy search
MAX_CANDIDATES = 16  # candidates evaluated per round, by votes
MAX_PREFIXES_PER_SUFFIX = 4  # missing keys remembered per suffix in the index


def is_nbt(key: str) -> bool:
    return key == NBT or key.endswith("." + NBT)


def dot_splits(key: str):
    """(prefix, suffix) pairs cut at segment boundaries, longest suffix first: the prefix is ''
    or ends with '.', the suffix is never empty."""
    yield "", key
    i = key.find(".")
    while i != -1:
        if i + 1 < len(key):
            yield key[: i + 1], key[i + 1:]
        i = key.find(".", i + 1)


def apply_rules(rules, key: str) -> str:
    """Rules in order, each on the result of the previous one."""
    for old, new in rules:
        if key.startswith(old):
            key = new + key[len(old):]
    return key


def flag(rule) -> str:
    old, new = rule
    return f"--strip-prefix {old}" if new == "" else f"--rename {old}={new}"


def derive(missing: list[str], unexpected: list[str], file_keys: list[str]) -> dict:
    files = list(dict.fromkeys(file_keys))
    file_set = set(files)
    unexpected_set = set(unexpected)
    # Model keys we know of: the missing ones and the file keys torch matched.
    model = set(missing) | {f for f in files if f not in unexpected_set}

    def fillable(name: str) -> bool:
        """A num_batches_tracked torch did not list because BatchNorm filled it in: the model
        has it when the same module has running statistics."""
        if not is_nbt(name) or name in model:
            return False
        base = name[: len(name) - len(NBT)]
        return base + "running_mean" in model or base + "running_var" in model

    def good(name: str) -> bool:
        return name in model or fillable(name)

    images = {f: f for f in files}  # file key -> its name after the rules so far
    current = set(files)  # the images, for collisions
    hit = {f for f in files if f in model}
    rules = []

    for _ in range(MAX_RULES):
        bad = [f for f in files if not good(images[f])]
        unhit = [m for m in missing if m not in hit]
        if not bad or not unhit:
            break
        index: dict[str, list[str]] = {}
        for m in unhit:
            for prefix, suffix in dot_splits(m):
                slot = index.setdefault(suffix, [])
                if len(slot) < MAX_PREFIXES_PER_SUFFIX:
                    slot.append(prefix)
        votes: dict[tuple[str, str], list[int]] = {}  # rule -> [votes, deep votes]

        def vote(rule, deep):
            slot = votes.setdefault(rule, [0, 0])
            slot[0] += 1
            slot[1] += deep

        for f in bad:
            name = images[f]
            if is_nbt(name):
                continue  # follows its module's other keys
            for old, suffix in dot_splits(name):
                if suffix not in index:
                    continue
                # Deep: the keys share more than the parameter's own name.
                dot = suffix.find(".")
                for new in index[suffix]:
                    vote((old, new), dot != -1)
                    if dot != -1:  # the same rule limited to the first segment below it
                        seg = suffix[: dot + 1]
                        vote((old + seg, new + seg), True)
                break
        ranked = sorted(votes.items(), key=lambda kv: (-kv[1][0], kv[0]))[:MAX_CANDIDATES]
        accepted = []
        for (old, new), (_, deep) in ranked:
            rename = old != "" and new != ""
            if rename and deep == 0:
                # Only parameter names in common (a Linear's weight and bias against another
                # Linear's): a different layer as likely as a renamed one. Never guessed.
                continue
            changes = []
            for f in files:
                name = images[f]
                if name.startswith(old):
                    changes.append((f, name, new + name[len(old):]))
            removed = {o for _, o, _ in changes}
            added = {n for _, _, n in changes}
            if len(added) < len(changes) or any(n in current and n not in removed for n in added):
                continue  # two keys would end up with one name
            if any(good(o) and not good(n) for _, o, n in changes):
                continue  # breaks a key that matched
            if any(o in model for o in removed - added):
                continue  # a model key would lose its file key
            new_hits = {n for n in added - removed if n in model}
            gain = sum(1 for _, o, n in changes if good(n) and not good(o)) + len(new_hits)
            if gain == 0:
                continue
            if rename:
                # A rename maps one subtree onto another as a whole: every key it moves lands
                # on the model, and every missing key under the new prefix is covered.
                if not all(good(n) for _, _, n in changes):
                    continue
                if any(m.startswith(new) and not is_nbt(m) and m not in new_hits for m in unhit):
                    continue
            accepted.append(((1 if rename else 0, -gain, len(changes), len(old) + len(new), old, new),
                             changes))
        if not accepted:
            break
        accepted.sort(key=lambda a: a[0])
        key, changes = accepted[0]
        rules.append((key[4], key[5]))
        for f, o, n in changes:
            images[f] = n
            current.discard(o)
        for _, _, n in changes:
            current.add(n)
            if n in model:
                hit.add(n)

    return {
        "rules": rules,
        "flags": [flag(r) for r in rules],
        "unmatched_missing": [m for m in missing if m not in hit and not is_nbt(m)],
        "unmatched_unexpected": [u for u in unexpected if u not in file_set or not good(images[u])],
        "tolerated": [m for m in missing if m not in hit and is_nbt(m)],
    }


# ---------------------------------------------------------------------------------------------
# models


class CNN(nn.Module):
    def __init__(self, fc_out=10, aux=False, bn3=False, extra=False):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 8, 3)
        self.bn2 = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, fc_out)
        if aux:
            self.aux = nn.Linear(8, 2)
        if bn3:
            self.bn3 = nn.BatchNorm1d(fc_out)
        if extra:
            self.extra = nn.Linear(8, 2)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                                    nn.Linear(16, 3))
        self.norm = nn.LayerNorm(3)


class Lit(nn.Module):
    """What a LightningModule with `self.model = ...` saves under checkpoint['state_dict']."""

    def __init__(self, model):
        super().__init__()
        self.model = model


def trunk():
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3))


class BackboneNet(nn.Module):
    def __init__(self, head_out=5):
        super().__init__()
        self.backbone = trunk()
        self.bn = nn.BatchNorm1d(8)
        self.head = nn.Linear(8, head_out)


class EncoderNet(nn.Module):
    def __init__(self, head_out=5):
        super().__init__()
        self.encoder = trunk()
        self.bn = nn.BatchNorm1d(8)
        self.head = nn.Linear(8, head_out)


class Body(nn.Module):
    def __init__(self, with_head):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(2)])
        self.norm = nn.LayerNorm(4)
        if with_head:
            self.head = nn.Linear(4, 2)


class HeadInside(nn.Module):
    """Before a refactor: the head lives inside `model`."""

    def __init__(self):
        super().__init__()
        self.model = Body(with_head=True)


class HeadOutside(nn.Module):
    """After it: `model` keeps the body and the head moved up a level."""

    def __init__(self):
        super().__init__()
        self.model = Body(with_head=False)
        self.head = nn.Linear(4, 2)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.bn = nn.BatchNorm1d(2)


class Big(nn.Module):
    def __init__(self, blocks=80):
        super().__init__()
        self.blocks = nn.ModuleList([Block() for _ in range(blocks)])
        self.out = nn.Linear(2, 1)


def seeded(factory):
    torch.manual_seed(0)
    return factory()


# ---------------------------------------------------------------------------------------------
# state_dict surgery the way scripts in the wild do it


def in_place(sd, drop=(), prefix=""):
    """Edits the OrderedDict torch returned, keeping its _metadata (which still names the
    module paths the state_dict was made with): deletes keys, then prefixes the rest."""
    for k in list(sd):
        if any(k.endswith(d) for d in drop):
            del sd[k]
    if prefix:
        for k in list(sd):
            sd[prefix + k] = sd.pop(k)
    return sd


def old_batchnorm(sd):
    """A torch 0.4.0 checkpoint: no num_batches_tracked, BatchNorm metadata at version 1."""
    out = OrderedDict((k, v) for k, v in sd.items() if not is_nbt(k))
    out._metadata = OrderedDict()
    for path, meta in sd._metadata.items():
        meta = dict(meta)
        if any(k.startswith(path + ".") and k.endswith("running_mean") for k in sd):
            meta["version"] = 1
        out._metadata[path] = meta
    return out


def rewritten(sd, rules, metadata="renamed", fill=()):
    """The expected rewrite: keys renamed by the rules in order.  metadata: 'renamed' (the
    _metadata paths renamed by the same rules, untouched paths kept, a renamed path winning a
    clash), 'kept' (as it was) or 'dropped'.  fill: keys to add as torch.tensor(0), what
    BatchNorm fills in for a checkpoint older than num_batches_tracked."""
    out = OrderedDict((apply_rules(rules, k), v) for k, v in sd.items())
    for k in fill:
        out[k] = torch.tensor(0, dtype=torch.long)
    meta = getattr(sd, "_metadata", None)
    if meta is not None and metadata != "dropped":
        if metadata == "kept":
            out._metadata = meta
        else:
            moved, kept = OrderedDict(), OrderedDict()
            for path, value in meta.items():
                dotted = path + "." if path else ""
                new = apply_rules(rules, dotted)
                if new == dotted:
                    kept[path] = value
                else:
                    moved[new[:-1] if new.endswith(".") else new] = value
            out._metadata = OrderedDict(kept)
            out._metadata.update(moved)
    return out


def load_outcome(make_model, sd) -> str:
    try:
        make_model().load_state_dict(sd, strict=True)
        return "ok"
    except RuntimeError as e:
        return str(e)


# ---------------------------------------------------------------------------------------------
# the texts users paste

SITE = os.path.dirname(os.path.dirname(torch.__file__))
USER_SITE = "/home/user/.venv/lib/python3.11/site-packages"
SCRIPT = ["import torch", "", "model = build_model()", "sd = torch.load(\"checkpoint.pt\")",
          "model.load_state_dict(sd)"]


def capture(model, sd):
    """(str(e), the traceback as Python prints it, missing, unexpected) for
    model.load_state_dict(sd), raised from a user script called train.py (torch's own frames
    keep their real line numbers, under a fixed site-packages path).  The key lists are torch's
    own, from a post-hook on the root module (it runs last, with the complete lists)."""
    lists = {}
    handle = model.register_load_state_dict_post_hook(
        lambda module, keys: lists.update(missing=list(keys.missing_keys),
                                          unexpected=list(keys.unexpected_keys)))
    source = "\n".join(SCRIPT) + "\n"
    linecache.cache["train.py"] = (len(source), None, source.splitlines(True), "train.py")
    code = compile("\n" * (len(SCRIPT) - 1) + "model.load_state_dict(sd)\n", "train.py", "exec")
    try:
        exec(code, {"model": model, "sd": sd})
    except RuntimeError as e:
        frames = traceback.extract_tb(e.__traceback__)[1:]  # from train.py on
        tb = "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames))
        tb += f"RuntimeError: {e}\n"
        handle.remove()
        return str(e), tb.replace(SITE, USER_SITE), lists["missing"], lists["unexpected"]
    raise SystemExit("expected load_state_dict to fail")


def hard_wrap(text, width):
    """A terminal's wrap: tabs expanded, every line cut every `width` columns, anywhere."""
    out = []
    for line in text.expandtabs(8).split("\n"):
        out.extend([line[i:i + width] for i in range(0, len(line), width)] or [""])
    return "\n".join(out)


def email_wrap(text, width):
    """A mail client's wrap: words moved to the next line at spaces, CRLF line ends."""
    out = []
    for line in text.split("\n"):
        out.extend(textwrap.wrap(line, width, break_on_hyphens=False) or [""])
    return "\r\n".join(out)


# ---------------------------------------------------------------------------------------------
# cases

CASES = []


def case(name, description, make_model, sd, *, expect_loads=True, expect_explains=True):
    CASES.append(dict(name=name, description=description, make_model=make_model, sd=sd,
                      expect_loads=expect_loads, expect_explains=expect_explains))


def build_cases():
    cnn = seeded(CNN)
    case("dataparallel", "nn.DataParallel(model).state_dict() loaded into the bare model",
         CNN, nn.DataParallel(cnn).state_dict())
    case("compile", "torch.compile(model).state_dict() (_orig_mod.) loaded into the bare model",
         CNN, torch.compile(cnn).state_dict())
    case("compile_of_dataparallel", "torch.compile(nn.DataParallel(model)): _orig_mod.module.",
         CNN, torch.compile(nn.DataParallel(cnn)).state_dict())
    case("dataparallel_of_compile", "nn.DataParallel(torch.compile(model)): module._orig_mod.",
         CNN, nn.DataParallel(torch.compile(cnn)).state_dict())
    case("dataparallel_twice", "nn.DataParallel(nn.DataParallel(model)): module.module.",
         CNN, nn.DataParallel(nn.DataParallel(cnn)).state_dict())
    case("compiled_model_plain_file", "a bare state_dict loaded into torch.compile(model)",
         lambda: torch.compile(seeded(CNN)), cnn.state_dict())
    case("lightning", "a Lightning-style wrapper (self.model = MLP()): model. prefix",
         MLP, Lit(seeded(MLP)).state_dict())
    case("lightning_of_model_with_model",
         "a Lightning wrapper around a model that has its own model. submodule: model.model.",
         HeadOutside, Lit(seeded(HeadOutside)).state_dict())
    case("into_dataparallel", "a bare state_dict loaded into nn.DataParallel(model): add module.",
         lambda: nn.DataParallel(seeded(CNN)), cnn.state_dict())
    case("mlp_into_dataparallel", "a bare MLP state_dict into nn.DataParallel(MLP())",
         lambda: nn.DataParallel(seeded(MLP)), seeded(MLP).state_dict())
    case("linear_dataparallel", "nn.DataParallel(nn.Linear) (parameters at the root)",
         lambda: nn.Linear(3, 2), nn.DataParallel(nn.Linear(3, 2)).state_dict())
    case("renamed_submodule", "backbone renamed to encoder; bn and head match already",
         EncoderNet, seeded(BackboneNet).state_dict())
    case("renamed_submodule_dataparallel", "DataParallel checkpoint with backbone, model has encoder",
         EncoderNet, nn.DataParallel(seeded(BackboneNet)).state_dict())
    case("head_moved_out", "model.head moved to head: stripping model. would break model.layers",
         HeadOutside, seeded(HeadInside).state_dict())
    case("old_batchnorm_dataparallel",
         "a torch 0.4.0 DataParallel checkpoint: no num_batches_tracked, BatchNorm version 1",
         CNN, old_batchnorm(nn.DataParallel(cnn).state_dict()))
    case("nbt_deleted_then_prefixed",
         "num_batches_tracked deleted and module. added in place (metadata still version 2 at "
         "the bare paths): torch lists them as missing",
         CNN, in_place(seeded(CNN).state_dict(), drop=(NBT,), prefix="module."))
    case("nbt_deleted_renamed_submodule",
         "num_batches_tracked deleted in place (metadata kept) and backbone renamed to encoder",
         EncoderNet, in_place(seeded(BackboneNet).state_dict(), drop=(NBT,)))
    case("extra_and_missing_layer",
         "DataParallel checkpoint with an aux Linear the model lacks; the model has a bn3 the "
         "file lacks: module. is stripped, the rest is left unexplained",
         lambda: CNN(bn3=True), nn.DataParallel(seeded(lambda: CNN(aux=True))).state_dict(),
         expect_loads=False, expect_explains=False)
    both = seeded(CNN).state_dict()
    both.update(nn.DataParallel(seeded(CNN)).state_dict())
    del both["fc.weight"], both["fc.bias"]
    case("collision",
         "the file has conv/bn both bare and under module. (fc only under module.): stripping "
         "module. would give two keys one name, so only module.fc. moves",
         CNN, both, expect_loads=False, expect_explains=False)
    case("leaf_layer_swap",
         "the file has a Linear aux the model lacks, the model a Linear extra the file lacks "
         "(same shapes): a rename would load, but nothing says it is the same layer",
         lambda: CNN(extra=True), seeded(lambda: CNN(aux=True)).state_dict(),
         expect_loads=False, expect_explains=False)
    case("size_mismatch_only", "same keys, a head with 12 outputs loaded into one with 10",
         CNN, seeded(lambda: CNN(fc_out=12)).state_dict(), expect_loads=False)
    case("size_mismatch_and_rename",
         "backbone renamed to encoder and the head resized: the rename is right, the sizes stay",
         EncoderNet, seeded(lambda: BackboneNet(head_out=7)).state_dict(), expect_loads=False)
    case("big_compile_of_dataparallel", "560+ keys: torch.compile(nn.DataParallel(Big()))",
         Big, torch.compile(nn.DataParallel(seeded(Big))).state_dict())


# ---------------------------------------------------------------------------------------------


def run_case(c):
    model = c["make_model"]()
    sd = c["sd"]
    message, tb, missing, unexpected = capture(model, sd)
    model_sd = c["make_model"]().state_dict()
    file_keys = list(sd.keys())
    got = derive(missing, unexpected, file_keys)
    explains = not got["unmatched_missing"] and not got["unmatched_unexpected"]
    rules = got["rules"]
    verify = {
        "metadata_kept": load_outcome(c["make_model"], rewritten(sd, rules, metadata="kept")),
        "metadata_renamed": load_outcome(c["make_model"], rewritten(sd, rules)),
        "metadata_dropped": load_outcome(c["make_model"], rewritten(sd, rules, metadata="dropped")),
    }
    if got["tolerated"]:
        verify["metadata_kept_tolerated_filled"] = load_outcome(
            c["make_model"], rewritten(sd, rules, metadata="kept", fill=got["tolerated"]))
        verify["metadata_renamed_tolerated_filled"] = load_outcome(
            c["make_model"], rewritten(sd, rules, fill=got["tolerated"]))
    # The judge: only the key strings change (the _metadata stays as the file has it), plus a
    # zero for each tolerated key, which is what BatchNorm would have filled in.
    final = verify.get("metadata_kept_tolerated_filled", verify["metadata_kept"])
    loads = final == "ok"
    if (verify["metadata_dropped"] == "ok") != loads:
        raise SystemExit(f"{c['name']}: dropping _metadata and keeping it disagree: {verify}")
    if explains != c["expect_explains"]:
        raise SystemExit(f"{c['name']}: explains_everything {explains}, expected "
                         f"{c['expect_explains']}: {got}")
    if loads != c["expect_loads"]:
        raise SystemExit(f"{c['name']}: loads {loads}, expected {c['expect_loads']}: {final}")
    if explains and not loads and "size mismatch" not in final:
        raise SystemExit(f"{c['name']}: the rules explain everything but torch says: {final}")
    return {
        "name": c["name"],
        "description": c["description"],
        "torch": torch.__version__,
        "texts": {
            "message": message,
            "traceback": tb,
            "terminal80": hard_wrap(tb, 80),
            "email72": email_wrap(message, 72),
        },
        "model_class": type(model).__name__,
        "missing": missing,
        "unexpected": unexpected,
        "file_keys": file_keys,
        "model_keys": list(model_sd.keys()),
        "size_mismatches": [
            {"key": k, "checkpoint_shape": list(sd[k].shape), "model_shape": list(v.shape)}
            for k, v in model_sd.items() if k in sd and sd[k].shape != v.shape],
        "expected": {
            "flags": got["flags"],
            "rules": [{"old": o, "new": n} for o, n in rules],
            "unmatched_missing": got["unmatched_missing"],
            "unmatched_unexpected": got["unmatched_unexpected"],
            "tolerated": got["tolerated"],
            "explains_everything": explains,
        },
        "verify": verify,
        "loads": loads,
    }


def main():
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable] + sys.argv)
    build_cases()
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    manifest = []
    for c in CASES:
        record = run_case(c)
        with open(os.path.join(OUT, c["name"] + ".json"), "w") as f:
            json.dump(record, f, indent=1, ensure_ascii=False)
            f.write("\n")
        manifest.append({"name": c["name"], "description": c["description"],
                         "flags": record["expected"]["flags"],
                         "explains_everything": record["expected"]["explains_everything"],
                         "loads": record["loads"]})
        print(f"{c['name']:34} {' '.join(record['expected']['flags']) or '-':40} "
              f"loads={record['loads']}  tolerated={len(record['expected']['tolerated'])}")
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
