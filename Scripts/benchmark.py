#!/usr/bin/env python3
"""Speed and memory of ptview against PyTorch and `cp`, whole processes side by side.

Inputs and the PyTorch side come from ../shared/bench (make_big.py, torch_list.py,
torch_remap.py; copies are looked up there first, then in Scripts/bench/). Every command runs
several times in one session on the same files (warm page cache for all): ptview and `cp`
interleaved, PyTorch's runs after them (see `series`), and the medians and ratios are written
to docs/benchmarks.md.

    python3 Scripts/benchmark.py [--runs 5] [--inplace-runs 15] [--bench-dir ~/.cache/ptview/bench] [--venv ~/.cache/ptview/venv]

One row again, with more samples, without touching docs/benchmarks.md:

    python3 Scripts/benchmark.py --series inplace_big --inplace-runs 30
    python3 Scripts/benchmark.py --series list_big,remap_big --runs 9
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def shared_script(name: str) -> str:
    for folder in (os.path.join(REPO, "..", "shared", "bench"), os.path.join(REPO, "Scripts", "bench")):
        path = os.path.abspath(os.path.join(folder, name))
        if os.path.exists(path):
            return path
    raise SystemExit(f"benchmark script {name} not found in ../shared/bench or Scripts/bench")


def measure(command: list[str], cleanup=None) -> tuple[float, float]:
    """Wall seconds and peak resident MiB of one run (GNU time's %M is in KiB)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        start = time.perf_counter()
        result = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report.name, *command],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(f"failed ({result.returncode}): {' '.join(command)}\n{result.stderr[-2000:]}")
        peak = float(report.read().strip().splitlines()[-1]) / 1024
    if cleanup:
        cleanup()
    return elapsed, peak


def series(name: str, commands: dict[str, tuple[list[str], object]], runs: int,
           after: dict[str, tuple[list[str], object]] | None = None) -> dict[str, dict]:
    """Runs each command `runs` times, interleaved, and keeps every sample; then the `after`
    commands the same way. PyTorch goes in `after`: on the VMs this is measured on, the memory
    a big process frees reaches the next process cold (the host takes freed pages back), which
    would charge torch's gigabyte of churn to whichever command ran next."""
    samples = {label: [] for label in [*commands, *(after or {})]}
    for group in (commands, after or {}):
        for _ in range(runs):
            for label, (command, cleanup) in group.items():
                samples[label].append(measure(command, cleanup))
    out = {}
    for label, values in samples.items():
        times = [t for t, _ in values]
        out[label] = {"median": statistics.median(times), "min": min(times), "max": max(times),
                      "peak_mib": max(m for _, m in values)}
        print(f"{name:>10} {label:<38} median {out[label]['median']:.3f} s  peak {out[label]['peak_mib']:.0f} MiB",
              flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bench-dir", default=os.path.expanduser("~/.cache/ptview/bench"))
    parser.add_argument("--venv", default=os.environ.get("PTVIEW_VENV", os.path.expanduser("~/.cache/ptview/venv")))
    parser.add_argument("--output", default=os.path.join(REPO, "docs", "benchmarks.md"))
    parser.add_argument("--inplace-runs", type=int, default=None,
                        help="runs of the in-place series, which takes milliseconds (default: --runs, at least 15)")
    parser.add_argument("--series", help="run only these series (comma-separated, e.g. inplace_big or "
                        "list_big,remap_big) and print them; docs/benchmarks.md is left alone")
    args = parser.parse_args()
    inplace_runs = args.inplace_runs if args.inplace_runs is not None else max(args.runs, 15)
    python = os.path.join(args.venv, "bin", "python")
    bench = args.bench_dir
    big = os.path.join(bench, "big_cuda0.pt")
    many = os.path.join(bench, "many_cuda0.pt")
    if not (os.path.exists(big) and os.path.exists(many)):
        print("making the benchmark checkpoints (takes a few minutes)...", flush=True)
        subprocess.run([python, shared_script("make_big.py"), bench], check=True)
    # Built as Scripts/setup.sh builds it (release_build.sh: Swift runtime linked in, no $ORIGIN
    # run path, so the loader looks for libraries in the system's folders only, as installed).
    subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib", "--disable-local-rpath",
                    "--product", "ptview"],
                   cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    ptview = os.path.join(REPO, ".build", "release", "ptview")
    out_dir = tempfile.mkdtemp(prefix="ptview-bench-", dir=bench)
    out = os.path.join(out_dir, "out.pt")

    def remove_out():
        if os.path.exists(out):
            os.remove(out)
        # torch.save does not sync: flush its (and anyone's) writes now, untimed, so the next
        # command does not pay for the previous one's writeback.
        os.sync()

    results = {"counts": {}}
    for name, path in (("big", big), ("many", many)):
        info = subprocess.run([ptview, "info", "--json", path], capture_output=True, text=True, check=True)
        results["counts"][name] = json.loads(info.stdout)["tensors"]
    # Warm the page cache for everyone.
    for path in (big, many):
        with open(path, "rb") as f:
            while f.read(1 << 24):
                pass
    # Each series is a function, so the full run and `--series NAME` measure a row the same
    # way: the same inputs, the same preparation between runs.
    plans = {}

    def plan(name):
        def register(fn):
            plans[name] = fn
            return fn
        return register

    @plan("list_big")
    def _():
        return series("list big", {
            "ptview ls --json": ([ptview, "ls", "--json", big], None),
        }, args.runs, after={
            "torch (torch_list.py)": ([python, shared_script("torch_list.py"), big], None),
        })

    @plan("list_many")
    def _():
        return series("list many", {
            "ptview ls --json": ([ptview, "ls", "--json", many], None),
        }, args.runs, after={
            "torch (torch_list.py)": ([python, shared_script("torch_list.py"), many], None),
        })

    @plan("remap_big")
    def _():
        return series("remap big", {
            "ptview remap --to cpu": ([ptview, "remap", big, "--to", "cpu", "-o", out, "--force", "--no-progress"],
                                      remove_out),
            "cp + sync": (["sh", "-c", f'cp "{big}" "{out}" && sync "{out}"'], remove_out),
        }, args.runs, after={
            "torch (torch_remap.py)": ([python, shared_script("torch_remap.py"), big, out], remove_out),
        })

    # In place: an append of the new pickle and directory to a fresh copy of the input (made,
    # and synced, untimed before every run), against copying the file and syncing the copy.
    # Both sides start with the page cache in the same state: everything written so far synced
    # (the copy by fresh_copy, cp's output removed by remove_out), the input's bytes cached.
    # The append takes milliseconds, so it gets more samples than the other rows.
    inplace = os.path.join(out_dir, "inplace.pt")
    big_size = os.path.getsize(big)

    def fresh_copy():
        shutil.copyfile(big, inplace)
        os.sync()
        if os.path.getsize(inplace) != big_size:
            raise SystemExit(f"could not restore {inplace}")

    def appended_then_fresh_copy():
        # A run that found nothing to change (an input not restored) would time nothing.
        if os.path.getsize(inplace) <= big_size:
            raise SystemExit(f"remap --in-place appended nothing to {inplace}")
        fresh_copy()

    @plan("inplace_big")
    def _():
        fresh_copy()
        return series("in place", {
            "ptview remap --in-place --to cpu": ([ptview, "remap", inplace, "--in-place", "--to", "cpu",
                                                  "--no-progress"], appended_then_fresh_copy),
            "cp + sync": (["sh", "-c", f'cp "{big}" "{out}" && sync "{out}"'], remove_out),
        }, inplace_runs)

    # Surgery: an edit without --cast should cost what a remap costs; --cast bf16 reads and
    # converts every float, and should still beat copying the input (it writes half of it).
    @plan("edit_big")
    def _():
        return series("edit big", {
            "ptview edit --rename =model. --to cpu": ([ptview, "edit", big, "--rename", "=model.", "--to", "cpu",
                                                       "-o", out, "--force", "--no-progress"], remove_out),
            "ptview remap --to cpu": ([ptview, "remap", big, "--to", "cpu", "-o", out, "--force", "--no-progress"],
                                      remove_out),
        }, args.runs)

    @plan("cast_big")
    def _():
        return series("cast big", {
            "ptview edit --cast bf16 --to cpu": ([ptview, "edit", big, "--cast", "bf16", "--to", "cpu", "-o", out,
                                                  "--force", "--no-progress"], remove_out),
            "cp + sync": (["sh", "-c", f'cp "{big}" "{out}" && sync "{out}"'], remove_out),
        }, args.runs, after={
            "torch (torch_cast.py)": ([python, shared_script("torch_cast.py"), big, out], remove_out),
        })

    # stats reads every value of the file (page cache warm, as for everyone): per-tensor
    # counts and float64 min/max/mean/std, against torch doing the same in float64.
    @plan("stats_big")
    def _():
        return series("stats big", {
            "ptview stats --json": ([ptview, "stats", "--json", "--no-progress", big], None),
        }, args.runs, after={
            "torch (torch_stats.py)": ([python, shared_script("torch_stats.py"), big], None),
        })

    # export writes every tensor to safetensors (synced, as ptview's writes always are):
    # against copying the file and syncing the copy, and against torch + safetensors.
    st_out = os.path.join(out_dir, "out.safetensors")

    def remove_st():
        if os.path.exists(st_out):
            os.remove(st_out)
        os.sync()

    @plan("export_big")
    def _():
        return series("export big", {
            "ptview export": ([ptview, "export", big, "-o", st_out, "--force", "--no-progress"], remove_st),
            "cp + sync": (["sh", "-c", f'cp "{big}" "{out}" && sync "{out}"'], remove_out),
        }, args.runs, after={
            "torch (torch_export.py)": ([python, shared_script("torch_export.py"), big, st_out], remove_st),
        })

    # Folders (issue 12): listing a sharded folder against listing the same tensors in one
    # file, and a folder remap against copying the folder and syncing it.
    sharded = os.path.join(bench, "sharded_cuda0")
    one = os.path.join(bench, "sharded_one_cuda0.pt")
    many_sharded = os.path.join(bench, "sharded_many_cuda0")
    many_one = os.path.join(bench, "sharded_many_one_cuda0.pt")
    out_folder = os.path.join(out_dir, "sharded_out")

    def sharded_inputs():
        if not all(os.path.exists(p) for p in (sharded, one, many_sharded, many_one)):
            subprocess.run([python, os.path.join(REPO, "Scripts", "make_sharded_bench.py"), bench], check=True)

    def remove_folder():
        shutil.rmtree(out_folder, ignore_errors=True)
        os.sync()

    @plan("list_sharded")
    def _():
        sharded_inputs()
        return series("list sharded", {
            "ptview ls --json FOLDER": ([ptview, "ls", "--json", sharded], None),
            "ptview ls --json ONE FILE": ([ptview, "ls", "--json", one], None),
        }, args.runs)

    # 20,000 small tensors in 5 shards: all pickle work, where a folder's own overheads show.
    @plan("list_sharded_many")
    def _():
        sharded_inputs()
        return series("list sharded many", {
            "ptview ls --json FOLDER": ([ptview, "ls", "--json", many_sharded], None),
            "ptview ls --json ONE FILE": ([ptview, "ls", "--json", many_one], None),
        }, args.runs)

    @plan("remap_sharded")
    def _():
        sharded_inputs()
        return series("remap sharded", {
            "ptview remap FOLDER --to cpu": ([ptview, "remap", sharded, "--to", "cpu", "-o", out_folder, "--force",
                                              "--no-progress"], remove_folder),
            "cp -r + sync": (["sh", "-c", f'cp -r "{sharded}" "{out_folder}" && sync "{out_folder}"/*'],
                             remove_folder),
        }, args.runs)

    if args.series:
        names = [n.strip() for n in args.series.split(",") if n.strip()]
        unknown = [n for n in names if n not in plans]
        if unknown:
            shutil.rmtree(out_dir, ignore_errors=True)
            raise SystemExit(f"unknown series {', '.join(unknown)} (known: {', '.join(plans)})")
        try:
            for name in names:
                measured = plans[name]()
                labels = list(measured)
                if len(labels) >= 2:
                    a, b = measured[labels[0]]["median"], measured[labels[1]]["median"]
                    print(f"{name}: {labels[1]} / {labels[0]} = {b / a:.1f}x (medians)", flush=True)
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)
        return
    for name, run in plans.items():
        results[name] = run()
    for name in ("doctor", "scan"):
        for size, path in (("big", big), ("many", many)):
            check = subprocess.run([ptview, name, path], capture_output=True)
            if check.returncode in (0, 3, 4):
                # doctor/scan exit with their verdict; wrap so a verdict is not a failure.
                results[f"{name}_{size}"] = series(f"{name} {size}", {
                    f"ptview {name}": (["sh", "-c", f'"{ptview}" {name} "{path}" >/dev/null; true'], None),
                }, args.runs)
    shutil.rmtree(out_dir, ignore_errors=True)
    write_report(args.output, results, args.runs, big, many, inplace_runs)
    print(f"wrote {args.output}")


def ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x"


def write_report(path: str, r: dict, runs: int, big: str, many: str, inplace_runs: int) -> None:
    lb, lm, rb = r["list_big"], r["list_many"], r["remap_big"]
    p, t = "ptview ls --json", "torch (torch_list.py)"
    rp, cp, tr = "ptview remap --to cpu", "cp + sync", "torch (torch_remap.py)"
    lines = [
        "# Benchmarks",
        "",
        "Measured by `python3 Scripts/benchmark.py` (release build, whole processes, each command run "
        f"{runs} times (the in-place remap, which takes milliseconds, {inplace_runs} times) in one session, "
        "ptview and `cp` interleaved and PyTorch's runs after them, so "
        "that the memory torch frees (which this VM's host takes back, leaving the next process "
        "cold pages) is not charged to another command; medians; peak memory is the maximum "
        "resident set size from GNU time). Inputs: `../shared/bench/make_big.py` "
        f"(`big_cuda0.pt` {os.path.getsize(big) / 1e9:.2f} GB, {r['counts']['big']:,} float32 tensors; "
        f"`many_cuda0.pt` {os.path.getsize(many) / 1e6:.0f} MB, {r['counts']['many']:,} tensors: 20,000 "
        "weights and an Adam state of three tensors for each, which make_big.py's notes call 60,000), "
        "warm page cache for every command; each remap starts after a `sync` (untimed), so no "
        "command pays for the writeback of the one before.",
        "",
        f"Machine: {platform.node()}, {os.cpu_count()} cores, {platform.platform()}, "
        f"{time.strftime('%Y-%m-%d')}.",
        "",
        "| what | ptview | alternative | ratio | goal |",
        "|---|---|---|---|---|",
        f"| list the 1.2 GB checkpoint | {lb[p]['median']*1000:.0f} ms, {lb[p]['peak_mib']:.0f} MiB | torch {lb[t]['median']:.2f} s, "
        f"{lb[t]['peak_mib']:.0f} MiB | {ratio(lb[t]['median'], lb[p]['median'])} faster | >= 100x faster, <= 32 MiB |",
        f"| list the {r['counts']['many']:,}-tensor checkpoint (the issue's 60,000) | {lm[p]['median']*1000:.0f} ms, {lm[p]['peak_mib']:.0f} MiB | torch {lm[t]['median']:.2f} s, "
        f"{lm[t]['peak_mib']:.0f} MiB | {ratio(lm[t]['median'], lm[p]['median'])} faster | >= 50x faster, <= 200 MiB |",
        f"| remap the 1.2 GB checkpoint to cpu (synced) | {rb[rp]['median']:.2f} s, {rb[rp]['peak_mib']:.0f} MiB | cp + sync {rb[cp]['median']:.2f} s | "
        f"{rb[rp]['median'] / rb[cp]['median']:.2f}x of cp + sync | <= 1.1x of cp + sync |",
        f"| (same) | | torch load + save {rb[tr]['median']:.2f} s, {rb[tr]['peak_mib']:.0f} MiB | "
        f"{ratio(rb[tr]['median'], rb[rp]['median'])} faster | >= 3x faster, <= 64 MiB |",
    ]
    if "inplace_big" in r:
        ib = r["inplace_big"]
        ip = "ptview remap --in-place --to cpu"
        lines.append(
            f"| remap the 1.2 GB checkpoint to cpu in place (appended, synced) | {ib[ip]['median']*1000:.1f} ms, "
            f"{ib[ip]['peak_mib']:.0f} MiB | cp + sync {ib[cp]['median']:.2f} s | "
            f"{ratio(ib[cp]['median'], ib[ip]['median'])} faster | >= 50x faster than cp + sync |")
    if "edit_big" in r and "cast_big" in r:
        eb, cb = r["edit_big"], r["cast_big"]
        ep, er = "ptview edit --rename =model. --to cpu", "ptview remap --to cpu"
        cpp, ccp, ctr = "ptview edit --cast bf16 --to cpu", "cp + sync", "torch (torch_cast.py)"
        lines += [
            f"| edit the 1.2 GB checkpoint (rename every key, to cpu; synced) | {eb[ep]['median']:.2f} s, "
            f"{eb[ep]['peak_mib']:.0f} MiB | remap --to cpu {eb[er]['median']:.2f} s | "
            f"{eb[ep]['median'] / eb[er]['median']:.2f}x of remap | remap speed |",
            f"| cast the 1.2 GB checkpoint to bf16 (and to cpu; synced) | {cb[cpp]['median']:.2f} s, "
            f"{cb[cpp]['peak_mib']:.0f} MiB | cp + sync {cb[ccp]['median']:.2f} s | "
            f"{cb[cpp]['median'] / cb[ccp]['median']:.2f}x of cp + sync | <= 1x of cp + sync, <= 64 MiB |",
            f"| (same) | | torch load + cast + save {cb[ctr]['median']:.2f} s, {cb[ctr]['peak_mib']:.0f} MiB | "
            f"{ratio(cb[ctr]['median'], cb[cpp]['median'])} faster | >= 4x faster |",
        ]
    if "stats_big" in r:
        sb = r["stats_big"]
        sp, st = "ptview stats --json", "torch (torch_stats.py)"
        lines.append(
            f"| stats of the 1.2 GB checkpoint (every value read: NaN/Inf/zero counts, float64 min/max/mean/std) | "
            f"{sb[sp]['median']:.2f} s, {sb[sp]['peak_mib']:.0f} MiB | torch {sb[st]['median']:.2f} s, "
            f"{sb[st]['peak_mib']:.0f} MiB | {ratio(sb[st]['median'], sb[sp]['median'])} faster | "
            ">= 20x faster, <= 64 MiB |")
    if "export_big" in r:
        xb = r["export_big"]
        xp, xc, xt = "ptview export", "cp + sync", "torch (torch_export.py)"
        lines.append(
            f"| export the 1.2 GB checkpoint to safetensors (synced) | {xb[xp]['median']:.2f} s, "
            f"{xb[xp]['peak_mib']:.0f} MiB | cp + sync {xb[xc]['median']:.2f} s; torch {xb[xt]['median']:.2f} s, "
            f"{xb[xt]['peak_mib']:.0f} MiB | {xb[xp]['median'] / xb[xc]['median']:.2f}x of cp + sync, "
            f"{ratio(xb[xt]['median'], xb[xp]['median'])} faster than torch | <= 1.1x cp + sync, >= 3x faster than torch, <= 64 MiB |")
    if "list_sharded" in r:
        ls_, rs = r["list_sharded"], r["remap_sharded"]
        lf, lo = "ptview ls --json FOLDER", "ptview ls --json ONE FILE"
        fr, fc = "ptview remap FOLDER --to cpu", "cp -r + sync"
        lines.append(
            f"| ls of a 1 GB sharded folder (5 .bin shards + index) | {ls_[lf]['median']*1000:.0f} ms, "
            f"{ls_[lf]['peak_mib']:.0f} MiB | ls of the same tensors in one file {ls_[lo]['median']*1000:.0f} ms | "
            f"{ls_[lf]['median'] / ls_[lo]['median']:.2f}x of one file | the per-file speed of ls |")
        if "list_sharded_many" in r:
            lm = r["list_sharded_many"]
            lines.append(
                f"| ls of a folder of 20,000 tensors (5 .bin shards + index) | {lm[lf]['median']*1000:.0f} ms, "
                f"{lm[lf]['peak_mib']:.0f} MiB | ls of the same tensors in one file {lm[lo]['median']*1000:.0f} ms, "
                f"{lm[lo]['peak_mib']:.0f} MiB | {lm[lf]['median'] / lm[lo]['median']:.2f}x of one file | "
                "the per-file speed of ls |")
        lines.append(
            f"| remap the 1 GB sharded folder to cpu (synced) | {rs[fr]['median']:.2f} s, {rs[fr]['peak_mib']:.0f} MiB | "
            f"cp -r + sync {rs[fc]['median']:.2f} s | {rs[fr]['median'] / rs[fc]['median']:.2f}x of cp -r + sync | "
            "<= 1.1x of cp -r + sync |")
    for name in ("doctor", "scan"):
        if name + "_big" in r:
            v = r[name + "_big"][f"ptview {name}"]
            lines.append(f"| {name} of the 1.2 GB checkpoint | {v['median']*1000:.0f} ms, {v['peak_mib']:.0f} MiB | | | < 50 ms |")
    for name in ("doctor", "scan"):
        if name + "_many" in r:
            v = r[name + "_many"][f"ptview {name}"]
            lines.append(f"| {name} of the {r['counts']['many']:,}-tensor checkpoint | {v['median']*1000:.0f} ms, "
                         f"{v['peak_mib']:.0f} MiB | | | (none) |")
    lines += ["", "Every sample (seconds: median / min / max):", ""]
    for key, group in r.items():
        if key == "counts":
            continue
        for label, v in group.items():
            lines.append(f"- {key}, {label}: {v['median']:.3f} / {v['min']:.3f} / {v['max']:.3f}, peak {v['peak_mib']:.0f} MiB")
    existing = ""
    if os.path.exists(path):
        existing = open(path, encoding="utf-8").read()
    # Keep any hand-written sections below the generated part (e.g. the explorer's numbers).
    marker = "<!-- end of generated part -->"
    tail = existing.split(marker, 1)[1] if marker in existing else "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n\n" + marker + tail)


if __name__ == "__main__":
    main()
