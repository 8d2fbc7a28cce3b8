#!/usr/bin/env python3
"""What deploying costs: `floe deploy` of a synthetic workspace to the fake
Kubernetes API server (tests/kube/fake_apiserver.py, started here on a free
port), first with everything new, then unchanged (median of --runs), with
the writes of each unchanged deploy counted from the server's request log
(there must be none). For scale, the parts: a no-op `floe build` (which
every deploy runs first) and the fake's own time to answer the lists one
deploy asks for.

    target/release/floe-bench generate --domains 10 --products-per-domain 100 --out /dev/shm/dw
    .ci/bench-deploy.py --floe target/release/floe --ws /dev/shm/dw --runs 7
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

p = argparse.ArgumentParser()
p.add_argument("--floe", required=True)
p.add_argument("--ws", required=True)
p.add_argument("--runs", type=int, default=7)
a = p.parse_args()

here = os.path.dirname(os.path.abspath(__file__))
script = os.path.join(here, "..", "tests", "kube", "fake_apiserver.py")
work = tempfile.mkdtemp(prefix="floe-deploy-bench-")
port_file = os.path.join(work, "port")
server = subprocess.Popen(
    [sys.executable, "-S", script, "--port-file", port_file, "--log", os.path.join(work, "requests.jsonl")],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
try:
    for _ in range(400):
        if os.path.exists(port_file) and open(port_file).read().strip():
            break
        time.sleep(0.025)
    port = int(open(port_file).read())
    base = f"http://127.0.0.1:{port}"

    def call(method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read() or b"null")

    kubeconfig = os.path.join(work, "kubeconfig")
    with open(kubeconfig, "w") as f:
        f.write(f"apiVersion: v1\nkind: Config\nclusters:\n- name: bench\n  cluster:\n    server: {base}\n"
                "users:\n- name: u\n  user: {}\ncontexts:\n- name: bench\n  context:\n    cluster: bench\n    user: u\n"
                "current-context: bench\n")

    def floe(*args):
        t = time.perf_counter()
        r = subprocess.run([a.floe, "-C", a.ws, *args], capture_output=True)
        ms = (time.perf_counter() - t) * 1000
        if r.returncode != 0:
            raise SystemExit(r.stderr.decode())
        return ms, r.stdout

    floe("build")

    def deploy():
        call("POST", "/_fake/reset-log")
        ms, out = floe("deploy", "--kubeconfig", kubeconfig, "--format", "json")
        summary = json.loads(out)["summary"]
        log = call("GET", "/_fake/requests")
        writes = sum(1 for r in log if r.get("write"))
        return ms, summary, writes, len(log)

    ms, summary, writes, requests = deploy()
    print(f"deploy new        {ms:8.1f} ms  {summary}  writes {writes}, requests {requests}")
    times = []
    for _ in range(a.runs):
        ms, summary, writes, requests = deploy()
        assert writes == 0 and summary["unchanged"] > 0, (summary, writes)
        times.append(ms)
    print(f"deploy unchanged  median {statistics.median(times):8.1f} ms  min {min(times):.1f}  max {max(times):.1f}"
          f"  ({a.runs} runs; {summary['unchanged']} objects, {writes} writes, {requests} requests)")
    builds = [floe("build")[0] for _ in range(a.runs)]
    print(f"no-op build       median {statistics.median(builds):8.1f} ms")
    # The fake alone: the lists of one deploy, as floe pages them (500 a page).
    kinds = ["/api/v1/namespaces", "/api/v1/serviceaccounts", "/api/v1/configmaps",
             "/apis/rbac.authorization.k8s.io/v1/roles", "/apis/rbac.authorization.k8s.io/v1/rolebindings",
             "/apis/batch/v1/cronjobs", "/apis/batch/v1/jobs", "/apis/networking.k8s.io/v1/networkpolicies",
             "/apis/external-secrets.io/v1beta1/externalsecrets"]
    lists = []
    for _ in range(a.runs):
        t = time.perf_counter()
        for kind in kinds:
            token = ""
            while True:
                q = "?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dfloe&limit=500" + (f"&continue={token}" if token else "")
                page = call("GET", kind + q)
                token = page["metadata"].get("continue", "")
                if not token:
                    break
        lists.append((time.perf_counter() - t) * 1000)
    print(f"fake lists alone  median {statistics.median(lists):8.1f} ms  (one client, sequential)")
finally:
    server.kill()
    server.wait()
