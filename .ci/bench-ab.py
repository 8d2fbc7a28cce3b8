#!/usr/bin/env python3
"""What a change costs a build: two floe binaries (e.g. built from commit
c084b89, before governance enforcement, and from HEAD), timed on the same
synthetic workspace in interleaved runs, so that machine noise hits both
alike. Cold builds start without floe-out/ and .floe/ (moved
aside, as a fresh checkout); the no-op build follows an identical one.
Each build's CPU time (user and system) is shown beside its wall time: on
a shared machine it moves less from run to run.

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
cpu = {k: {"cold": [], "no-op": []} for k in bins}
n = 0


def build(binary):
    """Wall and CPU milliseconds of one build."""
    started = time.perf_counter()
    p = subprocess.Popen([binary, "-C", a.ws, "build", "//...", "-q", "--format", "json"], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    assert status == 0, f"{binary} failed"
    return (time.perf_counter() - started) * 1000, (usage.ru_utime + usage.ru_stime) * 1000


for i in range(a.runs):
    # Each goes first every other round: neither always runs after the other.
    for name, binary in list(bins.items())[:: 1 if i % 2 == 0 else -1]:
        for d in ("floe-out", ".floe"):
            path = os.path.join(a.ws, d)
            if os.path.exists(path):
                n += 1
                os.rename(path, os.path.join(aside, str(n)))
        for scenario in ("cold", "no-op"):
            if scenario == "no-op":
                build(binary)
            wall, used = build(binary)
            times[name][scenario].append(wall)
            cpu[name][scenario].append(used)

for name in bins:
    for scenario, v in times[name].items():
        c = cpu[name][scenario]
        print(
            f"{name:6} {scenario:5} median {statistics.median(v):7.1f} ms  min {min(v):7.1f}  max {max(v):7.1f}"
            f"  cpu median {statistics.median(c):7.1f} ms"
        )
for scenario in ("cold", "no-op"):
    before, after = statistics.median(times["before"][scenario]), statistics.median(times["after"][scenario])
    cb, ca = statistics.median(cpu["before"][scenario]), statistics.median(cpu["after"][scenario])
    print(f"{scenario}: after - before {after - before:+.1f} ms (after/before {after / before:.2f}; cpu {ca / cb:.2f})")
# Removed only now, out of the timed runs; left behind, every run's copies
# of the outputs and the store would fill a tmpfs workspace's memory.
shutil.rmtree(aside)
