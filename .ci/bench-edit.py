#!/usr/bin/env python3
"""A one-product edit in a fresh process: two floe binaries, each timing
`floe build -q` after a tag of one product's `floe.yaml` changed, in
interleaved rounds on the same synthetic workspace, so that machine noise
hits both alike. The workspace is left as it was found.

    target/release/floe-bench generate --domains 10 --products-per-domain 100 --out /dev/shm/bw
    .ci/bench-edit.py --before OLD/floe --after target/release/floe --ws /dev/shm/bw --runs 9
"""
import argparse
import os
import statistics
import subprocess
import time

p = argparse.ArgumentParser()
p.add_argument("--before", required=True)
p.add_argument("--after", required=True)
p.add_argument("--ws", required=True)
p.add_argument("--runs", type=int, default=9)
a = p.parse_args()

MARK = "tags: [staging]"
spec = next(
    os.path.join(root, "floe.yaml")
    for root, dirs, files in sorted(os.walk(a.ws))
    if "floe.yaml" in files and "floe-out" not in root and ".floe" not in root
)
original = open(spec).read()
assert MARK in original, f"{spec} has no `{MARK}` to edit"


def build(binary):
    started = time.perf_counter()
    r = subprocess.run([binary, "-C", a.ws, "build", "-q"], capture_output=True)
    assert r.returncode == 0, r.stderr[-2000:]
    return (time.perf_counter() - started) * 1000


bins = {"before": a.before, "after": a.after}
times = {k: [] for k in bins}
edit = 0
try:
    for _ in range(a.runs):
        for name, binary in bins.items():
            # Settled by this binary first: its own state, nothing left to do.
            build(binary)
            edit += 1
            with open(spec, "w") as f:
                f.write(original.replace(MARK, f"tags: [staging, e{edit}]"))
            times[name].append(build(binary))
finally:
    with open(spec, "w") as f:
        f.write(original)
    build(a.after)

for name, ts in times.items():
    print(f"{name:6} one-product edit  median {statistics.median(ts):7.1f} ms  min {min(ts):7.1f}  max {max(ts):7.1f}")
ratio = statistics.median(times["after"]) / statistics.median(times["before"])
print(f"after/before {ratio:.2f}")
