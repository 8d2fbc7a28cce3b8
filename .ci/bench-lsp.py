#!/usr/bin/env python3
"""From a keystroke to diagnostics under `floe lsp`: speaks the protocol over
stdio (no client library), opens one product's floe.yaml in a synthetic
workspace, then alternately misspells a key in the unsaved buffer and
corrects it, timing each `didChange` until the server publishes that file's
diagnostics (E0101, then none). Also times the first check, from `initialized`
to the first diagnostics.

    target/release/floe-bench generate --domains 10 --products-per-domain 100 --out /dev/shm/bw
    .ci/bench-lsp.py --floe target/release/floe --ws /dev/shm/bw --runs 9
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import time

p = argparse.ArgumentParser()
p.add_argument("--floe", required=True)
p.add_argument("--ws", required=True)
p.add_argument("--runs", type=int, default=9)
a = p.parse_args()

ws = pathlib.Path(a.ws).resolve()
product = next(
    pathlib.Path(root) / "floe.yaml"
    for root, dirs, files in sorted(os.walk(ws))
    if "floe.yaml" in files and "floe-out" not in root
)
uri = product.as_uri()
text = product.read_text()
assert "\ntransforms:" in text, product
typo = text.replace("\ntransforms:", "\ntransform:")

server = subprocess.Popen([a.floe, "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
next_id = 0


def send(message):
    body = json.dumps({"jsonrpc": "2.0", **message}).encode()
    server.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    server.stdin.flush()


def receive():
    length = 0
    while (line := server.stdout.readline().strip()) != b"":
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return json.loads(server.stdout.read(length))


def request(method, params):
    global next_id
    next_id += 1
    send({"id": next_id, "method": method, "params": params})
    while (m := receive()).get("id") != next_id:
        pass
    return m


def diagnostics_of(path_uri, done):
    while True:
        m = receive()
        if m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == path_uri:
            if done(m["params"]["diagnostics"]):
                return


try:
    request("initialize", {"processId": None, "rootUri": ws.as_uri(), "capabilities": {}})
    start = time.perf_counter()
    send({"method": "initialized", "params": {}})
    send(
        {
            "method": "textDocument/didOpen",
            "params": {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": typo}},
        }
    )
    diagnostics_of(uri, lambda d: any(x["code"] == "E0101" for x in d))
    first = (time.perf_counter() - start) * 1000
    times = []
    version = 1
    for i in range(a.runs * 2):
        version += 1
        broken = i % 2 == 1
        start = time.perf_counter()
        send(
            {
                "method": "textDocument/didChange",
                "params": {
                    "textDocument": {"uri": uri, "version": version},
                    "contentChanges": [{"text": typo if broken else text}],
                },
            }
        )
        diagnostics_of(uri, (lambda d: any(x["code"] == "E0101" for x in d)) if broken else (lambda d: not d))
        times.append((time.perf_counter() - start) * 1000)
    request("shutdown", None)
    send({"method": "exit"})
    server.wait(10)
finally:
    server.kill()

print(
    json.dumps(
        {
            "first_check_ms": round(first, 1),
            "edit_to_diagnostics_ms": {
                "median": round(statistics.median(times), 1),
                "min": round(min(times), 1),
                "max": round(max(times), 1),
                "runs": len(times),
            },
        }
    )
)
