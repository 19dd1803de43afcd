"""Remote sharded checkpoints: a Hugging Face index given as a URL or an S3 key (or an S3
prefix whose listing holds one) is read as the local folder is, shard by shard, with range
requests for the headers, directories and pickles only.

The judges: torch.load and safetensors read the same shards from disk (names, shapes, dtypes,
files); the local folder's own output, which test_folders.py checks against them; and the
range server's byte count. Fixtures: Tests/Fixtures/folders (Scripts/make_folder_fixtures.py,
real transformers save_pretrained), and a larger model saved here the same way for the
byte counts.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from interop_support import PTVIEW, REPO, torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "Scripts"))
from range_server import RangeServer  # noqa: E402

try:
    import boto3  # noqa: F401
    import moto  # noqa: F401
    import safetensors  # noqa: F401
    import transformers  # noqa: F401
except ImportError as error:  # pragma: no cover
    if os.environ.get("CI") == "true":
        raise SystemExit(f"moto[server], boto3, safetensors and transformers are required under CI: {error}")
    pytest.skip(f"{error} (Scripts/test.sh installs it)", allow_module_level=True)

from s3_server import moto_s3  # noqa: E402

FOLDERS = os.path.join(REPO, "Tests", "Fixtures", "folders")
SHARDED = {"hf_bin": "pytorch_model.bin.index.json", "hf_bin_cuda": "pytorch_model.bin.index.json",
           "hf_safetensors": "model.safetensors.index.json"}
DTYPES = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16",
          torch.int64: "int64", torch.uint8: "uint8", torch.float64: "float64", torch.int32: "int32"}
ST_DTYPES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64", "U8": "uint8",
             "F64": "float64", "I32": "int32"}
CLEAN_ENV = [k for k in os.environ if k.startswith("AWS_")] + [
    "HF_TOKEN", "PTVIEW_HTTP_TOKEN", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE", "PTVIEW_LIBCURL"]


def run(args, env=None, cwd=None):
    base = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    base.update(env or {})
    result = subprocess.run([PTVIEW, *args], capture_output=True, env=base, timeout=300,
                            cwd=cwd or tempfile.gettempdir())
    return result.returncode, result.stdout.decode("utf-8", "replace"), result.stderr.decode("utf-8", "replace")


def python_rows(folder: str) -> dict:
    """{(file, key): (dtype, shape)} as torch and safetensors read the shards the index names."""
    index = next(n for n in os.listdir(folder) if n.endswith(".index.json"))
    with open(os.path.join(folder, index)) as f:
        shards = sorted(set(json.load(f)["weight_map"].values()))
    out = {}
    for name in shards:
        path = os.path.join(folder, name)
        if name.endswith(".safetensors"):
            from safetensors import safe_open
            with safe_open(path, framework="numpy") as f:
                for key in f.keys():
                    part = f.get_slice(key)
                    out[(name, key)] = (ST_DTYPES[part.get_dtype()], list(part.get_shape()))
        else:
            for key, t in torch.load(path, map_location="cpu", weights_only=True).items():
                out[(name, key)] = (DTYPES[t.dtype], list(t.shape))
    return out


def rows_of(stdout: str) -> dict:
    return {(r["file"], r["key"]): (r["dtype"], r["shape"]) for r in json.loads(stdout)}


# MARK: - HTTP


@pytest.fixture(scope="module")
def http():
    server = RangeServer(FOLDERS).start()
    yield server
    server.stop()


@pytest.mark.parametrize("folder", sorted(SHARDED))
def test_ls_json_of_an_index_url_is_what_torch_and_safetensors_read(http, folder):
    url = f"{http.base}/{folder}/{SHARDED[folder]}"
    code, out, err = run(["ls", "--json", url])
    assert code == 0 and err == "", err
    assert rows_of(out) == python_rows(os.path.join(FOLDERS, folder))
    # Row for row (devices, offsets, storages included) what the local folder lists.
    assert out == run(["ls", "--json", os.path.join(FOLDERS, folder)])[1]


@pytest.mark.parametrize("folder", sorted(SHARDED))
@pytest.mark.parametrize("verb", [["ls"], ["tree"], ["stats"], ["stats", "--json"]])
def test_read_verbs_print_what_the_local_folder_prints(http, folder, verb):
    """The same lines with the folder URL where the local folder's path stood."""
    local = os.path.join(FOLDERS, folder)
    url = f"{http.base}/{folder}"
    want = run([*verb, os.path.join(local, SHARDED[folder])])
    got = run([*verb, f"{url}/{SHARDED[folder]}"])
    assert got[0] == want[0] == 0
    assert got[1].replace(url, local) == want[1]
    assert got[2].replace(url, local) == want[2]


@pytest.mark.parametrize("folder", sorted(SHARDED))
def test_info_counts_every_shard_and_checks_the_index(http, folder):
    local = os.path.join(FOLDERS, folder)
    code, out, err = run(["info", "--json", f"{http.base}/{folder}/{SHARDED[folder]}"])
    assert code == 0, err
    got = json.loads(out)
    want = json.loads(run(["info", "--json", local])[1])
    for field in ("tensors", "devices", "dtypes", "index"):
        assert got[field] == want[field], field
    shards = {f["name"]: f for f in want["files"] if f["role"] == "weights shard"}
    remote = {f["name"]: f for f in got["files"] if f["role"] == "weights shard"}
    assert remote == shards


@pytest.mark.parametrize("folder", sorted(SHARDED))
def test_doctor_judges_each_shard_as_the_local_folder(http, folder):
    local = os.path.join(FOLDERS, folder)
    url = f"{http.base}/{folder}"
    code, out, err = run(["doctor", "--json", f"{url}/{SHARDED[folder]}"])
    want_code, want_out, _ = run(["doctor", "--json", local])
    assert code == want_code, err
    got, want = json.loads(out.replace(url, local)), json.loads(want_out)
    assert got["verdict"] == want["verdict"] and got["index_findings"] == want["index_findings"]
    assert [f["verdict"] for f in got["files"]] == [f["verdict"] for f in want["files"]]


@pytest.mark.parametrize("folder", sorted(SHARDED))
def test_scan_reads_the_index_and_every_shard(http, folder):
    local = os.path.join(FOLDERS, folder)
    url = f"{http.base}/{folder}"
    code, out, err = run(["scan", "--json", f"{url}/{SHARDED[folder]}"])
    assert code == 0, err
    got = json.loads(out)
    names = [f["path"][len(url) + 1:] for f in got["files"]]
    index = json.load(open(os.path.join(local, SHARDED[folder])))
    assert names == [SHARDED[folder]] + sorted(set(index["weight_map"].values()))
    for report in got["files"]:
        name = report["path"][len(url) + 1:]
        want = json.loads(run(["scan", "--json", os.path.join(local, name)])[1])["files"][0]
        assert report["verdict"] == want["verdict"] and report["format"] == want["format"], name


def test_an_http_folder_url_asks_for_the_index_file(http):
    code, out, err = run(["ls", f"{http.base}/hf_bin/"])
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "name the index file" in err, err


@pytest.fixture
def copy(tmp_path):
    """A copy of hf_bin to break, served by its own range server."""
    dest = tmp_path / "hf_bin"
    shutil.copytree(os.path.join(FOLDERS, "hf_bin"), dest)
    server = RangeServer(str(tmp_path)).start()
    try:
        yield server, dest
    finally:
        server.stop()


def rewrite_index(folder, edit):
    path = folder / "pytorch_model.bin.index.json"
    index = json.loads(path.read_text())
    edit(index["weight_map"])
    path.write_text(json.dumps(index))


@pytest.mark.parametrize("hostile", [
    "../hf_safetensors/model-00001-of-00003.safetensors", "..", "https://evil.example/x.bin",
    "/etc/passwd", "a\\..\\b.bin", "x\nHost: evil.bin"])
@pytest.mark.parametrize("verb", [["ls"], ["scan"], ["doctor"]])
def test_a_hostile_shard_name_is_one_line_and_exit_2(copy, hostile, verb):
    server, folder = copy
    first = "transformer.wte.weight"
    rewrite_index(folder, lambda m: m.__setitem__(first, hostile))
    code, out, err = run([*verb, f"{server.base}/hf_bin/pytorch_model.bin.index.json"])
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "pytorch_model.bin.index.json" in err, err
    # Nothing but the index was asked for: no request leaves the folder, none is for a shard.
    assert [entry[0] for entry in server.log] == ["/hf_bin/pytorch_model.bin.index.json"], server.log


def test_a_missing_shard_is_one_line_naming_its_url_and_status(copy):
    server, folder = copy
    os.remove(folder / "pytorch_model-00002-of-00003.bin")
    url = f"{server.base}/hf_bin/pytorch_model-00002-of-00003.bin"
    for verb in (["ls"], ["info"], ["doctor"], ["stats"]):
        code, out, err = run([*verb, f"{server.base}/hf_bin/pytorch_model.bin.index.json"])
        assert code == 2 and out == "" and err.count("\n") == 1, (verb, err)
        assert url in err and "HTTP 404" in err, (verb, err)


def test_an_index_naming_thousands_of_absent_shards_stops_at_the_first(copy):
    """The first failure stops new requests: those under way finish, no more start."""
    server, folder = copy
    rewrite_index(folder, lambda m: m.update({f"ghost.{i}": f"ghost-{i:05d}.bin" for i in range(2000)}))
    code, out, err = run(["ls", f"{server.base}/hf_bin/pytorch_model.bin.index.json"])
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "ghost-00000.bin: HTTP 404" in err, err
    assert server.requests <= 1 + 2 * 3 + 2 * 8, server.requests  # index, real shards, in flight


def test_write_verbs_say_not_yet_in_one_line(http, tmp_path):
    url = f"{http.base}/hf_bin_cuda/pytorch_model.bin.index.json"
    for verb in (["remap", url, "--to", "cpu", "-o", str(tmp_path / "out")],
                 ["export", url, "-o", str(tmp_path / "out.safetensors")],
                 ["edit", url, "--rename", "a=b", "-o", str(tmp_path / "out")]):
        code, out, err = run(verb)
        assert code == 1 and err.count("\n") == 1 and "not yet" in err, (verb, err)
        assert not os.path.exists(tmp_path / "out")


# MARK: - bytes read, connections


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A GPT-2 of about 50 MB saved by transformers' save_pretrained in 20 MB safetensors
    shards, and as .bin shards (make_folder_fixtures.save_bin_shards, what transformers 4's
    save_pretrained(safe_serialization=False) wrote), served by one range server."""
    from transformers import GPT2Config, GPT2LMHeadModel

    import make_folder_fixtures

    root = tmp_path_factory.mktemp("big")
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(n_embd=512, n_layer=4, n_head=8, vocab_size=64, n_positions=16))
    model.save_pretrained(root / "st", max_shard_size="20MB")
    make_folder_fixtures.save_bin_shards(model, str(root / "bin"), max_shard_size="20MB")
    server = RangeServer(str(root)).start()
    try:
        yield server, root
    finally:
        server.stop()


@pytest.mark.parametrize("folder, index", [("st", "model.safetensors.index.json"),
                                           ("bin", "pytorch_model.bin.index.json")])
@pytest.mark.parametrize("verb", [["ls", "--json"], ["info"], ["tree"], ["doctor"], ["scan"]])
def test_listing_reads_a_small_part_of_each_shard(big, folder, index, verb):
    server, root = big
    shards = [p for p in (root / folder).iterdir() if p.name.endswith((".safetensors", ".bin"))]
    total = sum(p.stat().st_size for p in shards)
    assert len(shards) >= 3 and total > 45_000_000
    server.reset()
    code, out, err = run([*verb, f"{server.base}/{folder}/{index}"])
    assert code == 0, err
    if verb == ["ls", "--json"]:
        assert rows_of(out) == python_rows(str(root / folder))
    # A bounded number of bytes per shard, whatever its size (a safetensors header: 64 KiB; a
    # zip's tail and its pickle's blocks: 512 KiB), never tensor data: here under 4%.
    index_size = (root / folder / index).stat().st_size
    assert server.bytes_sent <= len(shards) * (640 << 10) + index_size, (verb, server.bytes_sent)
    assert server.bytes_sent < total * 0.04, (verb, server.bytes_sent, total)
    assert server.requests <= 2 + 4 * len(shards), (verb, server.log)


def test_shards_share_a_bounded_pool_of_connections(tmp_path):
    """A dozen shards and more are read at most eight at a time, over kept-alive
    connections."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(n_embd=64, n_layer=4, n_head=2, vocab_size=64, n_positions=16))
    model.save_pretrained(tmp_path / "many", max_shard_size="20KB")
    shards = [p for p in (tmp_path / "many").iterdir() if p.name.endswith(".safetensors")]
    assert len(shards) >= 12
    server = RangeServer(str(tmp_path)).start()
    try:
        code, out, err = run(["ls", "--json", f"{server.base}/many/model.safetensors.index.json"])
        assert code == 0, err
        assert rows_of(out) == python_rows(str(tmp_path / "many"))
        assert server.requests == 1 + len(shards), server.log  # the index, one per header
        assert len(server.connections) <= 8, server.connections
    finally:
        server.stop()


# MARK: - S3 (moto, signatures checked)


@pytest.fixture(scope="module")
def s3():
    with moto_s3("models") as (endpoint, creds, client):
        for folder in SHARDED:
            for name in os.listdir(os.path.join(FOLDERS, folder)):
                client.upload_file(os.path.join(FOLDERS, folder, name), "models", f"{folder}/{name}")
        client.upload_file(os.path.join(FOLDERS, "hf_bin", "config.json"), "models", "plain/config.json")
        env = {"AWS_ACCESS_KEY_ID": creds["aws_access_key_id"],
               "AWS_SECRET_ACCESS_KEY": creds["aws_secret_access_key"],
               "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint}
        yield env


@pytest.mark.parametrize("folder", sorted(SHARDED))
def test_s3_index_and_prefix_list_what_the_local_folder_lists(s3, folder):
    want = run(["ls", "--json", os.path.join(FOLDERS, folder)])[1]
    assert rows_of(want) == python_rows(os.path.join(FOLDERS, folder))
    for url in (f"s3://models/{folder}/{SHARDED[folder]}", f"s3://models/{folder}/"):
        code, out, err = run(["ls", "--json", url], env=s3)
        assert code == 0 and err == "", (url, err)
        assert out == want, url


def test_s3_prefix_read_verbs(s3):
    local = os.path.join(FOLDERS, "hf_bin_cuda")
    url = "s3://models/hf_bin_cuda"
    for verb in (["stats"], ["tree"]):
        want = run([*verb, local])
        got = run([*verb, url + "/"], env=s3)
        assert got[0] == want[0] and got[1].replace(url, local) == want[1], verb
    code, out, _ = run(["doctor", url + "/"], env=s3)
    assert code == 3 and "once downloaded to hf_bin_cuda/" in out, out
    code, out, err = run(["scan", url + "/"], env=s3)
    assert code == 0 and out.count(f"{url}/pytorch_model-0000") == 3, out


def test_s3_prefix_without_an_index_asks_for_its_name(s3):
    for url in ("s3://models/plain/", "s3://models/hf_bin/nothing/"):
        code, out, err = run(["ls", url], env=s3)
        assert code == 2 and out == "" and err.count("\n") == 1, err
        assert "name the index file" in err, err


def test_s3_listing_refused_asks_for_the_index_name(s3):
    env = dict(s3, AWS_SECRET_ACCESS_KEY="wrong")
    code, out, err = run(["ls", "s3://models/hf_bin/"], env=env)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "HTTP 403" in err and "name the index file" in err, err


def test_s3_missing_shard_names_its_location(s3):
    with moto_s3("broken") as (endpoint, creds, client):
        for name in ("pytorch_model.bin.index.json", "pytorch_model-00001-of-00003.bin",
                     "pytorch_model-00003-of-00003.bin"):
            client.upload_file(os.path.join(FOLDERS, "hf_bin", name), "broken", f"m/{name}")
        env = {"AWS_ACCESS_KEY_ID": creds["aws_access_key_id"],
               "AWS_SECRET_ACCESS_KEY": creds["aws_secret_access_key"], "AWS_ENDPOINT_URL": endpoint}
        code, out, err = run(["ls", "s3://broken/m/"], env=env)
        assert code == 2 and out == "" and err.count("\n") == 1, err
        assert "s3://broken/m/pytorch_model-00002-of-00003.bin: HTTP 404" in err, err


# MARK: - cat and diff


def keys_by_shard(folder: str, index: str) -> dict:
    with open(os.path.join(folder, index)) as f:
        weight_map = json.load(f)["weight_map"]
    out: dict = {}
    for key, shard in weight_map.items():
        out.setdefault(shard, []).append(key)
    return out


@pytest.mark.parametrize("folder", sorted(SHARDED))
def test_cat_of_an_index_url_prints_what_torch_prints(http, folder):
    """Judged by torch (str of the tensor torch.load / safetensors reads from the shard)."""
    local = os.path.join(FOLDERS, folder)
    by_shard = keys_by_shard(local, SHARDED[folder])
    last = sorted(by_shard)[-1]
    key = by_shard[last][0]
    if last.endswith(".safetensors"):
        from safetensors.torch import load_file
        want = load_file(os.path.join(local, last))[key]
    else:
        want = torch.load(os.path.join(local, last), map_location="cpu", weights_only=True)[key]
    http.reset()
    code, out, err = run(["cat", f"{http.base}/{folder}/{SHARDED[folder]}", key])
    assert code == 0 and err == "", err
    assert out == str(want) + "\n"
    # Only the index and the shard holding the key are asked for.
    asked = {path.rsplit("/", 1)[-1] for path, _, _ in http.log}
    assert asked == {SHARDED[folder], last}, asked


def test_cat_of_an_index_url_with_a_query_notes_it_is_not_carried(http):
    local = os.path.join(FOLDERS, "hf_safetensors")
    key = keys_by_shard(local, SHARDED["hf_safetensors"])["model-00002-of-00003.safetensors"][0]
    want = run(["cat", local, key])
    http.reset()
    code, out, err = run(["cat", f"{http.base}/hf_safetensors/{SHARDED['hf_safetensors']}?download=true", key])
    assert code == 0 and out == want[1], err
    assert err.count("\n") == 1 and "note: the URL's query is not carried to the shards" in err, err
    shard_paths = [path for path, _, _ in http.log if "model-0000" in path]
    assert shard_paths and all("?" not in p for p in shard_paths), http.log


@pytest.mark.parametrize("folder, index", [("st", "model.safetensors.index.json"),
                                           ("bin", "pytorch_model.bin.index.json")])
def test_cat_of_a_remote_index_reads_one_shard_and_a_few_of_its_bytes(big, folder, index):
    server, root = big
    by_shard = keys_by_shard(str(root / folder), index)
    # The largest tensor of the largest shard: its print shows a summary.
    shard = max(by_shard, key=lambda n: (root / folder / n).stat().st_size)
    if folder == "st":
        from safetensors.torch import load_file
        tensors = load_file(str(root / folder / shard))
    else:
        tensors = torch.load(str(root / folder / shard), map_location="cpu", weights_only=True)
    key = max(by_shard[shard], key=lambda k: tensors[k].numel())
    size = (root / folder / shard).stat().st_size
    assert size > 15_000_000 and tensors[key].numel() * tensors[key].element_size() > 4_000_000
    server.reset()
    code, out, err = run(["cat", f"{server.base}/{folder}/{index}", key])
    assert code == 0 and err == "", err
    assert out == str(tensors[key]) + "\n"
    asked = {path.rsplit("/", 1)[-1] for path, _, _ in server.log}
    assert asked == {index, shard}, asked
    # The index, the shard's header (64 KiB) or zip tail and pickle (512 KiB and up), and the
    # printed elements, read in pieces: about 1 MB of a 17 MB shard.
    assert server.bytes_sent < min(size * 0.08, 1_300_000), (server.bytes_sent, size)


def test_cat_of_an_s3_index_and_prefix(s3):
    local = os.path.join(FOLDERS, "hf_bin")
    key = keys_by_shard(local, SHARDED["hf_bin"])["pytorch_model-00003-of-00003.bin"][0]
    want = run(["cat", local, key])
    assert want[0] == 0
    for url in (f"s3://models/hf_bin/{SHARDED['hf_bin']}", "s3://models/hf_bin/"):
        code, out, err = run(["cat", url, key], env=s3)
        assert code == 0 and err == "" and out == want[1], (url, err)


def test_diff_of_a_remote_folder_says_not_yet_in_one_line(http, s3):
    url = f"{http.base}/hf_bin/pytorch_model.bin.index.json"
    local = os.path.join(FOLDERS, "hf_bin", "pytorch_model-00001-of-00003.bin")
    for a, b, env in ((url, local, None), (local, url, None), ("s3://models/hf_bin/", local, s3)):
        http.reset()
        code, out, err = run(["diff", a, b], env=env)
        assert code == 1 and out == "" and err.count("\n") == 1 and "not yet" in err, err
        assert http.requests == 0
