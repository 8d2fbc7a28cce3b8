#!/usr/bin/env python3
"""What a change costs a build: two floe binaries (e.g. built from commit
c084b89, before governance enforcement, and from HEAD), timed on the same
synthetic workspace in interleaved runs, so that machine noise hits both
alike. Cold builds start without floe-out/ and .floe/ (moved
aside, as a fresh checkout); the no-op build follows an identical one.

    target/release/floe-bench generate --domains 10 --products-per-domain 100 --out /dev/shm/bw
    .ci/bench-ab.py --before OLD/floe --after target/release/floe --ws /dev/shm/bw --runs 7
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time

p = argparse.ArgumentParser()
p.add_argument("--before", required=True)
p.add_argument("--after", required=True)
p.add_argument("--ws", required=True)
p.add_argument("--runs", type=int, default=7)
a = p.parse_args()

aside = tempfile.mkdtemp(prefix="floe-aside-", dir=os.path.dirname(os.path.abspath(a.ws)))
bins = {"before": a.before, "after": a.after}
times = {k: {"cold": [], "no-op": []} for k in bins}
n = 0


def build(binary):
    started = time.perf_counter()
    r = subprocess.run([binary, "-C", a.ws, "build", "//...", "-q", "--format", "json"], capture_output=True)
    assert r.returncode == 0, r.stderr[-2000:]
    return (time.perf_counter() - started) * 1000


for _ in range(a.runs):
    for name, binary in bins.items():
        for d in ("floe-out", ".floe"):
            path = os.path.join(a.ws, d)
            if os.path.exists(path):
                n += 1
                os.rename(path, os.path.join(aside, str(n)))
        times[name]["cold"].append(build(binary))
        build(binary)
        times[name]["no-op"].append(build(binary))

for name in bins:
    for scenario, v in times[name].items():
        print(f"{name:6} {scenario:5} median {statistics.median(v):7.1f} ms  min {min(v):7.1f}  max {max(v):7.1f}")
for scenario in ("cold", "no-op"):
    before, after = statistics.median(times["before"][scenario]), statistics.median(times["after"][scenario])
    print(f"{scenario}: after - before {after - before:+.1f} ms (after/before {after / before:.2f})")
# Removed only now, out of the timed runs; left behind, every run's copies
# of the outputs and the store would fill a tmpfs workspace's memory.
shutil.rmtree(aside)
