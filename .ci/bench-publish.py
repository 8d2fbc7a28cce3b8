#!/usr/bin/env python3
"""What publishing and sharing cost: `floe publish` of a synthetic workspace
to a local registry (Debian's docker-registry, started here on a free port)
and to an OCI image layout, first with everything new, then unchanged
(median of --runs; each run also builds, a no-op after the first, as publish
does); then a build that fills a remote cache in that registry, and builds
of a fresh checkout (no floe-out/, no store) served entirely from it.

    target/release/floe-bench generate --domains 10 --products-per-domain 100 --out /dev/shm/bw
    .ci/bench-publish.py --floe target/release/floe --ws /dev/shm/bw --runs 7
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import tempfile
import time

p = argparse.ArgumentParser()
p.add_argument("--floe", required=True)
p.add_argument("--ws", required=True)
p.add_argument("--runs", type=int, default=7)
p.add_argument("--cache-only", action="store_true", help="measure the remote cache only")
a = p.parse_args()

work = tempfile.mkdtemp(prefix="floe-publish-bench-")
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
config = os.path.join(work, "config.yml")
with open(config, "w") as f:
    f.write(f"version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {work}/data}}}}\nhttp: {{addr: 127.0.0.1:{port}}}\n")
registry = subprocess.Popen(["docker-registry", "serve", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.025)

    def publish(to):
        t = time.perf_counter()
        r = subprocess.run([a.floe, "-C", a.ws, "publish", "--to", to, "--format", "json"], capture_output=True)
        ms = (time.perf_counter() - t) * 1000
        if r.returncode != 0:
            raise SystemExit(r.stderr.decode())
        return ms, json.loads(r.stdout)["summary"]

    targets = [("registry", f"oci://127.0.0.1:{port}/floe"), ("layout", f"oci-layout:{work}/layout")]
    for name, to in [] if a.cache_only else targets:
        ms, summary = publish(to)
        print(f"{name:8} new        {ms:8.1f} ms  {summary}")
        times = []
        for _ in range(a.runs):
            ms, summary = publish(to)
            assert summary["uploaded"] == 0, summary
            times.append(ms)
        print(f"{name:8} unchanged  median {statistics.median(times):8.1f} ms  min {min(times):.1f}  max {max(times):.1f}  ({a.runs} runs)")
    cache = f"oci://127.0.0.1:{port}/cache"
    # Moved aside on the workspace's own file system.
    aside = tempfile.mkdtemp(prefix="floe-aside-", dir=os.path.dirname(os.path.abspath(a.ws)))
    def fresh():
        for d in ("floe-out", ".floe"):
            if os.path.exists(os.path.join(a.ws, d)):
                subprocess.run(["rm", "-rf", os.path.join(aside, d)])
                os.rename(os.path.join(a.ws, d), os.path.join(aside, d))
    def build(*extra):
        t = time.perf_counter()
        r = subprocess.run([a.floe, "-C", a.ws, "build", "--format", "json", "--remote-cache", cache, *extra], capture_output=True)
        ms = (time.perf_counter() - t) * 1000
        if r.returncode != 0:
            raise SystemExit(r.stderr.decode())
        return ms, json.loads(r.stdout)["summary"]
    fresh()
    ms, summary = build("--remote-cache-write")
    print(f"cache    fill       {ms:8.1f} ms  {summary}")
    times = []
    for _ in range(a.runs):
        fresh()
        ms, summary = build()
        assert summary["built"] == 0 and summary["fetched"] > 0, summary
        times.append(ms)
    print(f"cache    fresh      median {statistics.median(times):8.1f} ms  min {min(times):.1f}  max {max(times):.1f}  ({a.runs} runs, {summary['fetched']} fetched)")
finally:
    registry.kill()
    subprocess.run(["rm", "-rf", work])
    if "aside" in globals():
        subprocess.run(["rm", "-rf", aside])
