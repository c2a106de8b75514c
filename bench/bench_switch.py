"""A large response from a server whose other threads are busy running Python, by thread switch interval.

```
.venv/bin/python bench/bench_switch.py [--busy 2] [--domains 461697] [--intervals 5,2,1,0.5] [--reps 15]
```

What `HUB_THREAD_SWITCH_INTERVAL_MS` is for. A server process (uvicorn, as `hub serve` runs) sends a
gzip-compressed list of `--domains` names as the hub sends a kept device list (a `StreamingResponse` of
the file read `hub.lookup.device_cache.CHUNK` bytes at a time), while `--busy` threads of the same
process run Python without pause, as request threads do during ingest or a list's build. A client in
another process downloads it `--reps` times and decompresses it, as `httpx` does. The event loop writes
what the socket takes and waits for it to take more; each time, it needs the interpreter back from a
busy thread, which keeps it for up to the switch interval. Each interval runs in a server of its own;
the medians and minimums are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import string
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import httpx

SERVER = """
import os, sys, threading
import uvicorn
from starlette.applications import Starlette
from starlette.responses import StreamingResponse
from starlette.routing import Route
from hub.lookup.device_cache import CHUNK

path, busy, interval, port = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
sys.setswitchinterval(interval / 1000)
size = os.path.getsize(path)

def chunks():
    with open(path, "rb") as f:
        while data := f.read(CHUNK):
            yield data

async def download(request):
    headers = {"Content-Encoding": "gzip", "Content-Length": str(size)}
    return StreamingResponse(chunks(), media_type="text/plain", headers=headers)

def work():
    while True:
        sum(i * i for i in range(10_000))

for _ in range(busy):
    threading.Thread(target=work, daemon=True).start()
app = Starlette(routes=[Route("/list.txt", download)])
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
"""


def make_list(path: Path, domains: int) -> int:
    rnd = random.Random(1)
    tlds = [".com\n", ".net\n", ".example.org\n", ".co.uk\n"]
    body = "".join(
        "".join(rnd.choices(string.ascii_lowercase, k=rnd.randint(6, 14))) + rnd.choice(tlds)
        for _ in range(domains)
    ).encode()
    deflate = zlib.compressobj(1, zlib.DEFLATED, 31)  # as the hub writes a kept list's gzip copy
    path.write_bytes(deflate.compress(body) + deflate.flush())
    return len(body)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(path: Path, busy: int, interval: float, reps: int) -> tuple[float, float, int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(path), str(busy), str(interval), str(port)])
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as c:
            deadline = time.monotonic() + 30
            while True:
                try:
                    c.head("/list.txt")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            took: list[float] = []
            lines = 0
            for _ in range(reps):
                t = time.perf_counter()
                lines = 0
                with c.stream("GET", "/list.txt") as r:
                    for chunk in r.iter_bytes():
                        lines += chunk.count(b"\n")
                took.append(time.perf_counter() - t)
        return statistics.median(took) * 1000, min(took) * 1000, lines
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--busy", type=int, default=2, help="threads of the server running Python")
    ap.add_argument("--domains", type=int, default=461_697, help="names in the list (run 7's last list)")
    ap.add_argument("--intervals", default="5,2,1,0.5", help="switch intervals to try, in ms")
    ap.add_argument("--reps", type=int, default=15)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "list.txt.gz"
        plain = make_list(path, args.domains)
        print(f"{args.domains:,} names, {plain / 2**20:.1f} MB, gzip {os.path.getsize(path) / 2**20:.1f} MB; "
              f"{args.busy} busy threads in the server; load {os.getloadavg()[0]:.1f}")  # fmt: skip
        print("| switch interval ms | median ms | min ms |")
        print("|---|---|---|")
        for interval in (float(x) for x in args.intervals.split(",")):
            median, low, lines = measure(path, args.busy, interval, args.reps)
            assert lines == args.domains, lines  # the whole list, each time
            print(f"| {interval:g} | {median:.0f} | {low:.0f} |", flush=True)


if __name__ == "__main__":
    main()
