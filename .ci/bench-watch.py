#!/usr/bin/env python3
"""From a save to rewritten outputs under `floe build --watch`: edits one
product's floe.yaml (a new tag each time) in a synthetic workspace and
times until the watch reports the build, end to end and as the build's own
duration. The watch waits for 50 ms of quiet before it builds; that wait is
subtracted from the end-to-end figure.

    target/release/floe-bench generate --domains 10 --products-per-domain 100 --out /dev/shm/bw
    .ci/bench-watch.py --floe target/release/floe --ws /dev/shm/bw --runs 9
"""
import argparse
import json
import os
import statistics
import subprocess
import time

DEBOUNCE_MS = 50.0

p = argparse.ArgumentParser()
p.add_argument("--floe", required=True)
p.add_argument("--ws", required=True)
p.add_argument("--runs", type=int, default=9)
a = p.parse_args()

product = next(
    os.path.join(root, "floe.yaml")
    for root, dirs, files in sorted(os.walk(a.ws))
    if "floe.yaml" in files and "floe-out" not in root
)
pristine = open(product).read()
assert "tags: [staging]" in pristine, product
watch = subprocess.Popen(
    [a.floe, "-C", a.ws, "build", "--watch", "--format", "json", "-q"],
    stdout=subprocess.PIPE,
    stderr=subprocess.DEVNULL,
    text=True,
)
try:
    first = json.loads(watch.stdout.readline())
    print(f"first build: built {first['summary']['built']}, reused {first['summary']['reused']}")
    time.sleep(2.5)  # past the window in which floe does not trust fresh stats
    total, build = [], []
    for n in range(a.runs):
        started = time.perf_counter()
        with open(product, "w") as f:
            f.write(pristine.replace("tags: [staging]", f"tags: [staging, watch_{os.getpid()}_{n}]"))
        report = json.loads(watch.stdout.readline())
        total.append((time.perf_counter() - started) * 1000 - DEBOUNCE_MS)
        build.append(report["summary"]["duration_ms"])
        assert report["summary"]["built"] > 0, report["summary"]
        time.sleep(0.3)
    for name, v in (("save to outputs, less the debounce", total), ("the build itself", build)):
        print(f"{name:36} median {statistics.median(v):7.1f} ms  min {min(v):7.1f}  max {max(v):7.1f}")
finally:
    watch.kill()
    with open(product, "w") as f:
        f.write(pristine)
