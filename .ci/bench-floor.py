#!/usr/bin/env python3
"""The floor a stat-based tool reaches: floe's no-op build against `git
status` over the same input files, in interleaved runs. The workspace's
inputs (not `floe-out/` or `.floe/`) are copied beside it and committed to
a fresh git repository; floe builds the copy once to settle, then both are
timed. The copy is removed at the end.

With `--cold`, also the floor of a clean build's I/O: floe's cold build
against reading every input file once (`cat`, two at a time, as floe has
two cores here) and writing what it writes to `floe-out/` (`cp -r` of the
settled outputs), neither of which parses, evaluates or hashes anything.

    target/release/floe-bench generate --domains 10 --products-per-domain 100 --out /dev/shm/bw
    .ci/bench-floor.py --floe target/release/floe --ws /dev/shm/bw --runs 9 [--cold]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time

p = argparse.ArgumentParser()
p.add_argument("--floe", required=True)
p.add_argument("--ws", required=True)
p.add_argument("--runs", type=int, default=9)
p.add_argument("--cold", action="store_true", help="also time a clean build against its I/O floor")
a = p.parse_args()

copy = tempfile.mkdtemp(prefix="floe-floor-", dir=os.path.dirname(os.path.abspath(a.ws)))
try:
    ws = os.path.join(copy, "ws")
    shutil.copytree(a.ws, ws, ignore=shutil.ignore_patterns("floe-out", ".floe"))
    git = ["git", "-C", ws, "-c", "user.name=floe", "-c", "user.email=floe@example.invalid"]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "inputs"], check=True)
    files = int(subprocess.run(git + ["ls-files"], capture_output=True, check=True).stdout.count(b"\n"))
    cmds = {
        "floe no-op": [a.floe, "-C", ws, "build", "//...", "-q", "--format", "json"],
        "git status": ["git", "-C", ws, "status", "--porcelain"],
        "git status --untracked-files=no": ["git", "-C", ws, "status", "--porcelain", "--untracked-files=no"],
    }
    # Settled: a build, then one more once its stats are old enough to trust.
    for _ in range(2):
        subprocess.run(cmds["floe no-op"], capture_output=True, check=True)
        time.sleep(2.5)
    subprocess.run(cmds["git status"], capture_output=True, check=True)
    if a.cold:
        inputs = os.path.join(copy, "inputs")
        with open(inputs, "wb") as f:
            f.write(subprocess.run(git + ["ls-files", "-z"], capture_output=True, check=True).stdout)
        outputs = os.path.join(copy, "outputs")
        shutil.copytree(os.path.join(ws, "floe-out"), outputs)
        written = os.path.join(copy, "written")

        def clean(name):
            shutil.rmtree(written, ignore_errors=True)
            if name == "floe cold":
                for d in ("floe-out", ".floe"):
                    shutil.rmtree(os.path.join(ws, d), ignore_errors=True)

        cmds["floe cold"] = [a.floe, "-C", ws, "build", "//...", "-q", "--format", "json"]
        cmds["read inputs (cat)"] = ["sh", "-c", f"cd {ws} && xargs -0 -P2 -n 2000 cat < {inputs} > /dev/null"]
        cmds["write outputs (cp -r)"] = ["cp", "-r", outputs, written]
    times = {k: [] for k in cmds}
    for _ in range(a.runs):
        for name, cmd in cmds.items():
            if a.cold:
                clean(name)
            started = time.perf_counter()
            r = subprocess.run(cmd, capture_output=True)
            assert r.returncode == 0, r.stderr[-2000:]
            times[name].append((time.perf_counter() - started) * 1000)
        if a.cold:
            # The next round's no-op follows a settled build, as the first's.
            time.sleep(2.5)
            subprocess.run(cmds["floe no-op"], capture_output=True, check=True)
finally:
    shutil.rmtree(copy)

print(f"{files} files committed")
for name, ts in times.items():
    print(f"{name:32} median {statistics.median(ts):6.1f} ms  min {min(ts):6.1f}  max {max(ts):6.1f}")
floe = statistics.median(times["floe no-op"])
for name in ("git status", "git status --untracked-files=no"):
    print(f"floe / {name}: {floe / statistics.median(times[name]):.2f}")
if a.cold:
    io = statistics.median(times["read inputs (cat)"]) + statistics.median(times["write outputs (cp -r)"])
    print(f"floe cold / (read inputs + write outputs): {statistics.median(times['floe cold']) / io:.2f}")
