#!/usr/bin/env python3
"""From a save to rewritten outputs under `floe build --watch`: edits one
product's floe.yaml (a new tag each time) in a synthetic workspace and
times until the product's outputs that carry the tag are replaced (polled by stat),
until the watch's report is read (its JSON lists the derivations not
reused, so printing and parsing it are in that figure), and the build's own
duration. The watch waits for 50 ms of quiet before it builds; that wait
is subtracted from the end-to-end figures.

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
    out = os.path.join(a.ws, "floe-out", os.path.relpath(os.path.dirname(product), a.ws))
    carriers = [os.path.join(out, name) for name in ("compiled_artifacts.json", "k8s.yaml", "floe-jobs.values.yaml")]

    def stats():
        def stat(path):
            try:
                st = os.stat(path)
                return (st.st_ino, st.st_mtime_ns, st.st_size)
            except FileNotFoundError:
                return None

        return [stat(path) for path in carriers]

    def carry(tag):
        for path in carriers:
            with open(path) as f:
                if tag not in f.read():
                    return False
        return True

    outputs, total, build = [], [], []
    for n in range(a.runs):
        tag = f"watch_{os.getpid()}_{n}"
        before = stats()
        started = time.perf_counter()
        with open(product, "w") as f:
            f.write(pristine.replace("tags: [staging]", f"tags: [staging, {tag}]"))
        # Polled by stat, which the watch is not told of (a read is: inotify
        # reports opens and closes).
        while any(now == then for now, then in zip(stats(), before)):
            time.sleep(0.0002)
        outputs.append((time.perf_counter() - started) * 1000 - DEBOUNCE_MS)
        assert carry(tag), "the outputs that changed carry the edit"
        report = json.loads(watch.stdout.readline())
        total.append((time.perf_counter() - started) * 1000 - DEBOUNCE_MS)
        build.append(report["summary"]["duration_ms"])
        assert report["summary"]["built"] > 0, report["summary"]
        time.sleep(0.3)
    figures = (
        ("save to rewritten outputs, less the debounce", outputs),
        ("save to report read, less the debounce", total),
        ("the build itself", build),
    )
    for name, v in figures:
        print(f"{name:44} median {statistics.median(v):7.1f} ms  min {min(v):7.1f}  max {max(v):7.1f}")
finally:
    watch.kill()
    with open(product, "w") as f:
        f.write(pristine)
