"""Remote checkpoints (issue 13): every read-only verb over HTTP and over S3 prints what it
prints for the same file on disk, byte for byte, with the same exit code.

The servers are local: range_server.py (a Python http.server with Range support and request
counting) and moto's S3 server in a subprocess, with signature checking on (moto verifies
SigV4 as AWS does once its first few unauthenticated actions are used up). CI never touches the
internet. Expected outputs come from the local file; the remote run must equal it with the URL
standing where the path stood.
"""
from __future__ import annotations

import concurrent.futures
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import pytest

from interop_support import PTVIEW, REPO, torch

FIXTURES = os.path.join(REPO, "Tests", "Fixtures")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from range_server import RangeServer  # noqa: E402
from s3_server import moto_s3  # noqa: E402

try:
    import boto3  # noqa: F401
    import moto  # noqa: F401
except ImportError as error:  # pragma: no cover
    if os.environ.get("CI") == "true":
        raise SystemExit(f"moto[server] and boto3 are required under CI: {error}")
    pytest.skip("moto/boto3 not installed (Scripts/test.sh installs them)", allow_module_level=True)

import boto3  # noqa: E402

TEXT_VERBS = [["ls"], ["info"], ["tree"], ["dis"], ["stats"], ["doctor"], ["scan"]]
JSON_VERBS = [["ls", "--json"], ["info", "--json"], ["stats", "--json"], ["doctor", "--json"],
              ["scan", "--json"]]
SKIP_SUFFIXES = (".json", ".txt", ".tsv", ".md")


def files(folder: str) -> list[str]:
    """Relative paths (under Tests/Fixtures) of the checkpoint-ish files in `folder`."""
    out = []
    for path in sorted(glob.glob(os.path.join(FIXTURES, folder, "*"))):
        if os.path.isfile(path) and not path.endswith(SKIP_SUFFIXES):
            out.append(os.path.relpath(path, FIXTURES))
    return out


CHECKPOINTS = files("torch") + files("edit")
HOSTILE = files("hostile")
SECURITY = files("security/files") + files("security/extra")

AWS_ENV_KEYS = [k for k in os.environ if k.startswith("AWS_")] + [
    "HF_TOKEN", "PTVIEW_HTTP_TOKEN", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE", "PTVIEW_LIBCURL"]


def run(args: list[str], cwd: str, env: dict | None = None) -> tuple[int, str, str]:
    base = {k: v for k, v in os.environ.items() if k not in AWS_ENV_KEYS}
    base.update(env or {})
    result = subprocess.run([PTVIEW, *args], cwd=cwd, capture_output=True, env=base, timeout=120)
    return result.returncode, result.stdout.decode("utf-8", "replace"), result.stderr.decode("utf-8", "replace")


LOCAL_RESULTS: dict[tuple[str, ...], tuple[int, str, str]] = {}


def local(verb: list[str], relative: str) -> tuple[int, str, str]:
    """The verb on the local file, run in its folder with its bare name (so a suggested output
    name is in the current folder, as it is for a URL). Kept for the S3 half of the suite."""
    key = (*verb, relative)
    if key not in LOCAL_RESULTS:
        folder, name = os.path.split(os.path.join(FIXTURES, relative))
        LOCAL_RESULTS[key] = run([*verb, name], cwd=folder)
    return LOCAL_RESULTS[key]


def remote(verb: list[str], url: str, name: str, env: dict | None = None, cwd: str | None = None):
    code, out, err = run([*verb, url], cwd=cwd or tempfile.gettempdir(), env=env)
    return code, out.replace(url, name), err.replace(url, name)


def compare(cases, url_of, env=None):
    """Runs each (verb, relative) locally and remotely, two at a time; returns the mismatches."""
    def one(case):
        verb, relative = case
        name = os.path.basename(relative)
        want = local(verb, relative)
        got = remote(verb, url_of(relative), name, env)
        return None if got == want else (verb, relative, want, got)

    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        problems = [p for p in pool.map(one, cases) if p]
    return problems


def report(problems) -> str:
    lines = []
    for verb, relative, want, got in problems[:5]:
        lines.append(f"{' '.join(verb)} {relative}: local exit {want[0]}, remote exit {got[0]}")
        if want[1] != got[1]:
            lines.append(f"  stdout local: {want[1][:300]!r}\n  stdout remote: {got[1][:300]!r}")
        if want[2] != got[2]:
            lines.append(f"  stderr local: {want[2][:300]!r}\n  stderr remote: {got[2][:300]!r}")
    return f"{len(problems)} mismatches\n" + "\n".join(lines)


# MARK: - HTTP


@pytest.fixture(scope="module")
def http():
    server = RangeServer(FIXTURES).start()
    yield server
    server.stop()


@pytest.fixture
def fresh(http):
    http.reset()
    return http


@pytest.mark.parametrize("relative", CHECKPOINTS)
def test_http_every_verb_equals_local(http, relative):
    cases = [(v, relative) for v in TEXT_VERBS + JSON_VERBS]
    problems = compare(cases, lambda r: f"{http.base}/{r}")
    assert not problems, report(problems)


def test_http_hostile_files_equal_local(http):
    cases = [(v, r) for r in HOSTILE for v in TEXT_VERBS]
    # scan of the security corpus is compared over S3 below (the same bytes reach the verbs).
    cases += [(["doctor"], r) for r in SECURITY]
    problems = compare(cases, lambda r: f"{http.base}/{r}")
    assert not problems, report(problems)


def test_http_server_ignoring_ranges_is_a_clear_error(fresh):
    fresh.switches.ignore_range = True
    code, out, err = run(["ls", f"{fresh.base}/torch/sd_cpu.pt"], cwd=REPO)
    assert code == 2 and out == ""
    assert "does not honour HTTP range requests" in err, err
    assert err.count("\n") == 1


def test_http_missing_file_is_one_line_exit_2(fresh):
    code, out, err = run(["ls", f"{fresh.base}/torch/nope.pt"], cwd=REPO)
    assert code == 2 and "HTTP 404" in err and err.count("\n") == 1, err


def test_http_server_sending_more_than_asked_is_cut_off(fresh):
    fresh.switches.pad = 8 << 20
    code, out, err = run(["ls", f"{fresh.base}/torch/sd_cpu.pt"], cwd=REPO)
    assert code == 2 and out == "" and "sent more than" in err and err.count("\n") == 1, err


def test_http_redirect_is_followed_with_the_range(fresh):
    fresh.switches.redirect = True
    want = local(["ls"], "torch/sd_cuda0.pt")
    got = remote(["ls"], f"{fresh.base}/r/torch/sd_cuda0.pt", "sd_cuda0.pt")
    assert got == want
    followed = [entry for entry in fresh.log if not entry[0].startswith("/r/")]
    assert followed and all(entry[1] for entry in followed), fresh.log


def test_http_transient_503_is_retried(fresh):
    fresh.switches.fail_first = 2
    want = local(["info"], "torch/sd_cuda0.pt")
    got = remote(["info"], f"{fresh.base}/torch/sd_cuda0.pt", "sd_cuda0.pt")
    assert got == want


def test_http_dropped_connection_is_retried(fresh):
    fresh.switches.drop_first = 1
    want = local(["ls"], "torch/sd_cpu.pt")
    got = remote(["ls"], f"{fresh.base}/torch/sd_cpu.pt", "sd_cpu.pt")
    assert got == want


def test_http_bearer_token(fresh):
    fresh.switches.token = "sekrit"
    code, _, err = run(["ls", f"{fresh.base}/torch/sd_cpu.pt"], cwd=REPO)
    assert code == 2 and "HTTP 401" in err, err
    want = local(["ls"], "torch/sd_cpu.pt")
    got = remote(["ls"], f"{fresh.base}/torch/sd_cpu.pt", "sd_cpu.pt", env={"PTVIEW_HTTP_TOKEN": "sekrit"})
    assert got == want
    # HF_TOKEN is for huggingface.co only: never sent to this host.
    fresh.log.clear()
    code, _, _ = run(["ls", f"{fresh.base}/torch/sd_cpu.pt"], cwd=REPO, env={"HF_TOKEN": "sekrit"})
    assert code == 2 and all(entry[2] is None for entry in fresh.log)


def test_http_redirect_to_another_host_drops_the_token(fresh):
    """A same-host redirect keeps the token; one to another host name (localhost for
    127.0.0.1: another origin to a client) gets the range but never the token."""
    token = {"PTVIEW_HTTP_TOKEN": "sekrit"}
    want = local(["ls"], "torch/sd_cpu.pt")
    fresh.switches.redirect = True
    assert remote(["ls"], f"{fresh.base}/r/torch/sd_cpu.pt", "sd_cpu.pt", token) == want
    assert fresh.log and all(entry[2] == "Bearer sekrit" for entry in fresh.log), fresh.log
    fresh.log.clear()
    fresh.switches.redirect_host = "localhost"
    assert remote(["ls"], f"{fresh.base}/r/torch/sd_cpu.pt", "sd_cpu.pt", token) == want
    first = [entry for entry in fresh.log if entry[0].startswith("/r/")]
    followed = [entry for entry in fresh.log if not entry[0].startswith("/r/")]
    assert first and all(entry[2] == "Bearer sekrit" for entry in first), fresh.log
    assert followed and all(entry[1] and entry[2] is None for entry in followed), fresh.log


def test_http_without_libcurl_is_one_line_and_local_files_never_load_it(fresh):
    """libcurl is opened at the first remote request only: a local run never maps it (the
    dynamic loader's own trace says so), and a URL without it is one line, exit 2."""
    code, out, err = run(["ls", f"{fresh.base}/torch/sd_cpu.pt"], cwd=REPO,
                         env={"PTVIEW_LIBCURL": "/nonexistent/libcurl.so.4"})
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "reading URLs needs libcurl (Debian: apt-get install libcurl4)" in err, err
    assert fresh.requests == 0
    path = os.path.join(FIXTURES, "torch", "sd_cpu.pt")
    code, _, err = run(["ls", path], cwd=REPO, env={"LD_DEBUG": "files"})
    assert code == 0 and "calling init" in err and "libcurl" not in err
    code, _, err = run(["ls", f"{fresh.base}/torch/sd_cpu.pt"], cwd=REPO, env={"LD_DEBUG": "files"})
    assert code == 0 and "libcurl" in err


def test_no_foundation_and_no_linked_libcurl():
    """What keeps local runs fast (docs/decisions.md): no source imports Foundation or Crypto,
    and the binary does not link libcurl (it is opened with dlopen for URLs only) nor libzip
    (opened at the first compressed record: test_libzip.py)."""
    import re

    pattern = re.compile(r"^\s*(@\w+\s+)*((public|package|internal|private|fileprivate)\s+)?"
                         r"import\s+(Foundation\w*|Crypto|_CryptoExtras)\b", re.M)
    offenders = []
    for path in glob.glob(os.path.join(REPO, "Sources", "**", "*.swift"), recursive=True):
        with open(path, encoding="utf-8") as f:
            if pattern.search(f.read()):
                offenders.append(os.path.relpath(path, REPO))
    assert not offenders, offenders
    needed = subprocess.run(["readelf", "-d", PTVIEW], capture_output=True, text=True, check=True).stdout
    assert "libcurl" not in needed and "libzip" not in needed, needed


@pytest.fixture
def tls(tmp_path):
    """The range server over TLS with a self-signed certificate made here (openssl CLI),
    and a second, unrelated one, for a bundle that trusts something else."""
    import ssl

    def make(name: str):
        key, cert = tmp_path / f"{name}.key", tmp_path / f"{name}.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                        "-out", str(cert), "-days", "1", "-subj", f"/CN={name}",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        return key, cert

    key, cert = make("ptview-test")
    _, other = make("someone-else")
    server = RangeServer(FIXTURES)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.start()
    try:
        yield {"server": server, "cert": str(cert), "other": str(other),
               "url": server.base.replace("http:", "https:") + "/torch/sd_cpu.pt"}
    finally:
        server.stop()


def test_https_certificate_not_trusted_by_the_system_is_refused(tls):
    """HTTPS is verified against the system's certificates: a self-signed one is refused,
    at once (no retries), with one line, and no request reaches the server."""
    started = time.time()
    code, out, err = run(["ls", tls["url"]], cwd=REPO)
    assert code == 2 and out == "" and "certificate" in err and err.count("\n") == 1, err
    assert "SSL_CERT_FILE" in err, err
    assert time.time() - started < 2
    assert tls["server"].requests == 0


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "CURL_CA_BUNDLE"])
def test_https_certificate_trusted_by_a_named_bundle(tls, variable):
    want = local(["ls"], "torch/sd_cpu.pt")
    assert remote(["ls"], tls["url"], "sd_cpu.pt", {variable: tls["cert"]}) == want
    assert tls["server"].requests > 0
    # A bundle of another certificate trusts nothing here: refused, naming the variable.
    code, out, err = run(["ls", tls["url"]], cwd=REPO, env={variable: tls["other"]})
    assert code == 2 and out == "" and f"{variable}={tls['other']}" in err and err.count("\n") == 1, err


def test_https_curl_ca_bundle_wins_over_ssl_cert_file(tls):
    """As with the curl command-line tool: CURL_CA_BUNDLE first, then SSL_CERT_FILE."""
    want = local(["ls"], "torch/sd_cpu.pt")
    both = {"CURL_CA_BUNDLE": tls["cert"], "SSL_CERT_FILE": tls["other"]}
    assert remote(["ls"], tls["url"], "sd_cpu.pt", both) == want
    both = {"CURL_CA_BUNDLE": tls["other"], "SSL_CERT_FILE": tls["cert"]}
    code, _, err = run(["ls", tls["url"]], cwd=REPO, env=both)
    assert code == 2 and "CURL_CA_BUNDLE=" in err, err


def tls_s3(tls, home) -> tuple[str, dict]:
    """The TLS range server as an S3-compatible endpoint (path style: /BUCKET/KEY), asked
    anonymously (a HOME without AWS files)."""
    endpoint = tls["server"].base.replace("http:", "https:")
    return "s3://torch/sd_cpu.pt", {"AWS_ENDPOINT_URL": endpoint, "HOME": str(home)}


def test_s3_aws_ca_bundle_is_trusted_for_s3_only(tls, tmp_path):
    """AWS_CA_BUNDLE is AWS's variable: trusted for s3:// locations, ahead of CURL_CA_BUNDLE
    and SSL_CERT_FILE; an https:// URL never reads it."""
    want = local(["ls"], "torch/sd_cpu.pt")
    url, env = tls_s3(tls, tmp_path)
    assert remote(["ls"], url, "sd_cpu.pt", dict(env, AWS_CA_BUNDLE=tls["cert"])) == want
    both = dict(env, AWS_CA_BUNDLE=tls["cert"], CURL_CA_BUNDLE=tls["other"], SSL_CERT_FILE=tls["other"])
    assert remote(["ls"], url, "sd_cpu.pt", both) == want
    code, out, err = run(["ls", url], cwd=REPO, env=dict(env, AWS_CA_BUNDLE=tls["other"],
                                                         CURL_CA_BUNDLE=tls["cert"]))
    assert code == 2 and out == "" and f"AWS_CA_BUNDLE={tls['other']}" in err and err.count("\n") == 1, err
    # Without AWS_CA_BUNDLE, the curl variables apply to S3 as to any URL.
    assert remote(["ls"], url, "sd_cpu.pt", dict(env, SSL_CERT_FILE=tls["cert"])) == want
    code, out, err = run(["ls", tls["url"]], cwd=REPO, env={"AWS_CA_BUNDLE": tls["cert"]})
    assert code == 2 and out == "" and "certificate" in err and err.count("\n") == 1, err


def test_s3_profile_ca_bundle_is_trusted_after_aws_ca_bundle(tls, tmp_path):
    """The profile's ca_bundle (~/.aws/config), as the AWS CLI reads it: AWS_CA_BUNDLE wins."""
    want = local(["ls"], "torch/sd_cpu.pt")
    url, env = tls_s3(tls, tmp_path)
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "config").write_text(f"[default]\nca_bundle = {tls['cert']}\n")
    assert remote(["ls"], url, "sd_cpu.pt", env) == want
    code, _, err = run(["ls", url], cwd=REPO, env=dict(env, AWS_CA_BUNDLE=tls["other"]))
    assert code == 2 and f"AWS_CA_BUNDLE={tls['other']}" in err, err
    (tmp_path / ".aws" / "config").write_text(f"[default]\nca_bundle = {tls['other']}\n")
    code, _, err = run(["ls", url], cwd=REPO, env=env)
    assert code == 2 and f"ca_bundle={tls['other']}" in err and err.count("\n") == 1, err


def hashed_folder(folder, cert: str) -> str:
    """A folder OpenSSL's CAPATH lookup reads: the certificate under its subject hash."""
    folder.mkdir()
    digest = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", cert], capture_output=True,
                            text=True, check=True).stdout.strip()
    (folder / f"{digest}.0").write_bytes(open(cert, "rb").read())
    return str(folder)


def test_https_ssl_cert_dir_is_trusted_besides_the_bundle(tls, tmp_path):
    """SSL_CERT_DIR (OpenSSL's variable, libcurl's CAPATH): a folder of hashed certificates,
    trusted for every URL, besides whichever bundle file is named."""
    want = local(["ls"], "torch/sd_cpu.pt")
    trusted = hashed_folder(tmp_path / "trusted", tls["cert"])
    other = hashed_folder(tmp_path / "other", tls["other"])
    assert remote(["ls"], tls["url"], "sd_cpu.pt", {"SSL_CERT_DIR": trusted}) == want
    # A bundle of another certificate does not hide the folder, nor the folder the bundle.
    assert remote(["ls"], tls["url"], "sd_cpu.pt",
                  {"SSL_CERT_DIR": trusted, "SSL_CERT_FILE": tls["other"]}) == want
    assert remote(["ls"], tls["url"], "sd_cpu.pt",
                  {"SSL_CERT_DIR": other, "CURL_CA_BUNDLE": tls["cert"]}) == want
    url, env = tls_s3(tls, tmp_path)
    assert remote(["ls"], url, "sd_cpu.pt", dict(env, SSL_CERT_DIR=trusted)) == want
    code, out, err = run(["ls", tls["url"]], cwd=REPO, env={"SSL_CERT_DIR": other})
    assert code == 2 and out == "" and f"SSL_CERT_DIR={other}" in err and err.count("\n") == 1, err


def test_https_unreadable_bundle_is_one_line(tls, tmp_path):
    missing = str(tmp_path / "none.pem")
    code, out, err = run(["ls", tls["url"]], cwd=REPO, env={"SSL_CERT_FILE": missing})
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert f"SSL_CERT_FILE={missing}" in err, err


def test_http_doctor_suggests_a_name_in_the_current_folder(fresh):
    url = f"{fresh.base}/torch/sd_cuda0.pt"
    code, out, _ = run(["doctor", url], cwd=REPO)
    assert f"ptview remap {url} -o sd_cuda0.cpu.pt --to cpu" in out, out


def test_http_ls_of_a_large_file_reads_under_one_percent(fresh, tmp_path):
    """A generated checkpoint with about 200 MB of tensor data: `ls` must fetch < 1% of it."""
    state = {f"layer{i}.weight": torch.zeros(1024, 1024 + i % 7) for i in range(48)}
    path = tmp_path / "big.pt"
    torch.save(state, path)
    size = path.stat().st_size
    assert size > 190_000_000
    server = RangeServer(str(tmp_path)).start()
    try:
        for verb in (["ls"], ["info"], ["scan"], ["doctor"]):
            server.reset()
            want = run([*verb, "big.pt"], cwd=str(tmp_path))
            got = remote(verb, f"{server.base}/big.pt", "big.pt")
            assert got == want
            assert server.bytes_sent < size / 100, (verb, server.bytes_sent, size)
            assert server.requests <= 6, (verb, server.log)
            assert len(server.connections) == 1, (verb, server.connections)  # kept alive
        # stats of one tensor fetches that tensor, not the file.
        server.reset()
        verb = ["stats", "--only", "layer3.weight"]
        assert remote(verb, f"{server.base}/big.pt", "big.pt") == run([*verb, "big.pt"], cwd=str(tmp_path))
        assert server.bytes_sent < 4 * 1024 * 1031 + size / 100, server.bytes_sent
    finally:
        server.stop()


# MARK: - S3 (moto, signatures checked)


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    with moto_s3("ckpts") as (endpoint, creds, client):
        for relative in CHECKPOINTS + HOSTILE + SECURITY + EXPORTED:
            client.upload_file(os.path.join(FIXTURES, relative), "ckpts", relative)
        client.upload_file(os.path.join(FIXTURES, "torch/sd_cuda0.pt"), "ckpts", ODD_KEY)
        home = tmp_path_factory.mktemp("home")
        yield {"endpoint": endpoint, "home": str(home), **creds}


def s3_env(s3) -> dict:
    return {"AWS_ACCESS_KEY_ID": s3["aws_access_key_id"], "AWS_SECRET_ACCESS_KEY": s3["aws_secret_access_key"],
            "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": s3["endpoint"]}


@pytest.mark.parametrize("relative", CHECKPOINTS)
def test_s3_every_verb_equals_local(s3, relative):
    cases = [(v, relative) for v in TEXT_VERBS + JSON_VERBS]
    problems = compare(cases, lambda r: f"s3://ckpts/{r}", env=s3_env(s3))
    assert not problems, report(problems)


def test_s3_scan_of_hostile_files_gives_the_same_verdict(s3):
    cases = [(["scan"], r) for r in HOSTILE + SECURITY]
    cases += [(["scan", "--json"], r) for r in SECURITY]
    problems = compare(cases, lambda r: f"s3://ckpts/{r}", env=s3_env(s3))
    assert not problems, report(problems)


def test_s3_credentials_from_the_shared_files(s3, tmp_path):
    aws = tmp_path / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text(
        "[default]\naws_access_key_id = nobody\naws_secret_access_key = nothing\n\n"
        f"[ci]\naws_access_key_id = {s3['aws_access_key_id']}\n"
        f"aws_secret_access_key = {s3['aws_secret_access_key']}\n")
    (aws / "config").write_text("[profile ci]\nregion = us-east-1\n")
    env = {"HOME": str(tmp_path), "AWS_PROFILE": "ci", "AWS_ENDPOINT_URL_S3": s3["endpoint"]}
    want = local(["ls"], "torch/sd_cuda0.pt")
    assert remote(["ls"], "s3://ckpts/torch/sd_cuda0.pt", "sd_cuda0.pt", env) == want
    # The default profile's keys are wrong: the signature check refuses them.
    env.pop("AWS_PROFILE")
    code, _, err = run(["ls", "s3://ckpts/torch/sd_cuda0.pt"], cwd=REPO, env=env)
    assert code == 2 and "HTTP 403" in err, err


ODD_KEY = "odd dir/a+b=c&d~(1)/sd cuda0 é.pt"


def test_s3_keys_with_characters_that_need_encoding(s3):
    want = local(["ls", "--json"], "torch/sd_cuda0.pt")
    got = remote(["ls", "--json"], f"s3://ckpts/{ODD_KEY}", "sd_cuda0.pt", s3_env(s3))
    assert got == want


def test_s3_wrong_secret_is_refused(s3):
    env = dict(s3_env(s3), AWS_SECRET_ACCESS_KEY="wrong")
    code, out, err = run(["ls", "s3://ckpts/torch/sd_cpu.pt"], cwd=REPO, env=env)
    assert code == 2 and out == "" and "HTTP 403" in err and err.count("\n") == 1, err


def test_no_sign_request_is_in_every_verbs_help():
    """A real option of each verb that reads a path, not only of the top-level help."""
    dump = json.loads(run(["--experimental-dump-help"], cwd=REPO)[1])
    verbs = [c["commandName"] for c in dump["command"]["subcommands"] if c["commandName"] != "help"]
    assert len(verbs) >= 14
    for verb in verbs:
        code, out, _ = run(["help", verb], cwd=REPO)
        assert code == 0 and "--no-sign-request" in out, verb


def test_s3_missing_key(s3):
    code, _, err = run(["ls", "s3://ckpts/torch/none.pt"], cwd=REPO, env=s3_env(s3))
    assert code == 2 and "HTTP 404" in err, err


def test_s3_anonymous_requests_carry_no_signature(fresh, tmp_path):
    """The range server stands in for an S3-compatible endpoint (path style: /BUCKET/KEY)."""
    url = "s3://torch/sd_cpu.pt"
    want = local(["ls"], "torch/sd_cpu.pt")
    signed = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
              "AWS_ENDPOINT_URL": fresh.base, "HOME": str(tmp_path)}
    assert remote(["ls"], url, "sd_cpu.pt", signed) == want
    assert fresh.log and all(entry[2].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") for entry in fresh.log)
    fresh.log.clear()
    # The flag before the verb (as the AWS CLI puts it) and as the verb's own option.
    for verb in (["--no-sign-request", "ls"], ["ls", "--no-sign-request"],
                 ["stats", "--no-sign-request"]):
        mine = want if verb[0] != "stats" else local(["stats"], "torch/sd_cpu.pt")
        assert remote(verb, url, "sd_cpu.pt", signed) == mine, verb
        assert fresh.log and all(entry[2] is None for entry in fresh.log), verb
        fresh.log.clear()
    nothing = {"AWS_ENDPOINT_URL": fresh.base, "HOME": str(tmp_path)}
    assert remote(["ls"], url, "sd_cpu.pt", nothing) == want
    assert fresh.log and all(entry[2] is None for entry in fresh.log)


# MARK: - remap from a URL


@pytest.mark.parametrize("source", ["http", "s3"])
@pytest.mark.parametrize("relative", ["torch/sd_cuda0.pt", "torch/legacy_cuda0.pt", "edit/ts_script_cuda0.pt",
                                      "edit/train_loop_cuda0.pt"])
def test_remap_from_url_equals_local_remap(http, s3, source, relative, tmp_path):
    # The archive's root folder is named after the output file: the same name in two folders.
    (tmp_path / "local").mkdir()
    (tmp_path / "remote").mkdir()
    local_out = tmp_path / "local" / "out.pt"
    code, _, err = run(["remap", os.path.join(FIXTURES, relative), "--to", "cpu", "-o", str(local_out)], cwd=REPO)
    assert code == 0, err
    url = f"{http.base}/{relative}" if source == "http" else f"s3://ckpts/{relative}"
    env = None if source == "http" else s3_env(s3)
    remote_out = tmp_path / "remote" / "out.pt"
    code, _, err = run(["remap", url, "--to", "cpu", "-o", str(remote_out)], cwd=REPO, env=env)
    assert code == 0, err
    assert remote_out.read_bytes() == local_out.read_bytes()
    if "ts_" in relative:
        torch.jit.load(str(remote_out), map_location="cpu")
    else:
        torch.load(str(remote_out), weights_only=False)


# MARK: - export from a URL


EXPORTED = ["values/values_views.pt", "safetensors/all_dtypes.safetensors"]


@pytest.mark.parametrize("source", ["http", "s3"])
@pytest.mark.parametrize("relative, suffix", [
    ("torch/sd_cuda0.pt", ".safetensors"), ("torch/legacy_cuda0.pt", ".safetensors"),
    (EXPORTED[0], ".safetensors"), (EXPORTED[1], ".pt")])
def test_export_from_url_equals_local_export(http, s3, source, relative, suffix, tmp_path):
    # Streamed once from the server, never downloaded whole: the same bytes as a local export.
    (tmp_path / "local").mkdir()
    (tmp_path / "remote").mkdir()
    local_out = tmp_path / "local" / ("out" + suffix)
    code, _, err = run(["export", os.path.join(FIXTURES, relative), "-o", str(local_out)], cwd=REPO)
    assert code == 0, err
    url = f"{http.base}/{relative}" if source == "http" else f"s3://ckpts/{relative}"
    env = None if source == "http" else s3_env(s3)
    remote_out = tmp_path / "remote" / ("out" + suffix)
    code, _, err = run(["export", url, "-o", str(remote_out)], cwd=REPO, env=env)
    assert code == 0, err
    assert remote_out.read_bytes() == local_out.read_bytes()
    if suffix == ".pt":
        torch.load(str(remote_out))
    else:
        from safetensors.torch import load_file
        assert load_file(str(remote_out)).keys()
