"""`hub serve` caps the C library's malloc arenas (HUB_MALLOC_ARENA_MAX), so memory one request thread
frees is reused by the others instead of each thread's arena keeping its own high-water mark.

Observed from outside, as an operator would: glibc gives a thread's arena a heap of its own, a 64 MiB
aligned reservation in the process's address space (/proc/<pid>/maps), the main arena none."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from hub.db import make_engine, make_sessionmaker
from hub.schema import upgrade
from tests.conftest import free_port
from tests.factories import load_world

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not Path("/proc/self/maps").exists(),
    reason="glibc's arenas, read from /proc",
)

HUB = str(Path(sys.executable).parent / "hub")
# the hub the tests import (a checkout on PYTHONPATH), not only the installed one
BASE_ENV = {"PATH": "/usr/bin:/bin", **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}}
HEAP = 64 * 1024 * 1024  # glibc's HEAP_MAX_SIZE on 64-bit: a thread arena's heap reservation


def arena_heaps(pid: int) -> int:
    """Thread arenas' heaps mapped in the process: anonymous regions starting on a 64 MiB boundary and
    covering 64 MiB (the part in use read-write, the rest reserved without access)."""
    spans: list[tuple[int, int, str]] = []
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        fields = line.split()
        if len(fields) > 5:  # a file or a named region ([stack], [heap] of the main arena)
            continue
        lo, hi = (int(x, 16) for x in fields[0].split("-"))
        spans.append((lo, hi, fields[1]))
    heaps = 0
    for i, (lo, hi, perms) in enumerate(spans):
        if lo % HEAP or not perms.startswith("rw"):
            continue
        end = hi
        if end - lo < HEAP and i + 1 < len(spans) and spans[i + 1][0] == hi and spans[i + 1][2] == "---p":
            end = spans[i + 1][1]
        heaps += end - lo == HEAP
    return heaps


def serve_and_load(tmp_path: Path, arenas: str) -> int:
    """Start `hub serve` with HUB_MALLOC_ARENA_MAX=`arenas`, send it requests from many threads at once
    (each runs in one of the server's request threads), and count its thread arenas."""
    url = f"sqlite:///{tmp_path}/arenas-{arenas}.db"
    upgrade(url)
    engine = make_engine(url)
    world = load_world(make_sessionmaker(engine))
    engine.dispose()
    port = free_port()
    env = {
        **BASE_ENV,
        "HUB_DATABASE_URL": url,
        "HUB_SECRET_KEY": "arena-test-secret",
        "HUB_MALLOC_ARENA_MAX": arenas,
    }
    log = (tmp_path / f"serve-{arenas}.log").open("w")
    proc = subprocess.Popen(
        [HUB, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / f"serve-{arenas}.log").read_text()[-2000:]
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "hub serve did not become ready"
            time.sleep(0.2)

        def read(_: int) -> int:
            r = httpx.get(base + world.objects_url(), headers=world.auth("cert-b"), timeout=30)
            return r.status_code

        with ThreadPoolExecutor(16) as pool:
            assert set(pool.map(read, range(64))) == {200}
        return arena_heaps(proc.pid)
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()


def test_serve_keeps_its_threads_to_the_arenas_it_is_given(tmp_path):
    assert serve_and_load(tmp_path, "2") <= 2  # the default: the request threads share two arenas
    # the C library's default, for comparison: the same load gives the threads arenas of their own (15
    # heaps on a two-core machine)
    assert serve_and_load(tmp_path, "0") >= 4


def test_a_negative_arena_count_is_refused_at_start(tmp_path):
    url = f"sqlite:///{tmp_path}/neg.db"
    upgrade(url)
    env = {**BASE_ENV, "HUB_DATABASE_URL": url, "HUB_MALLOC_ARENA_MAX": "-1"}
    out = subprocess.run([HUB, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "malloc_arena_max" in (out.stdout + out.stderr).lower()
    assert "Traceback" not in out.stdout + out.stderr


_FRAGMENTED = """
import sys
from hub.cli.serve import trim_malloc

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20

base = rss_mb()
# 200 MB in 2 KB blocks (malloc's, not Python's small-object allocator), one in fifty kept: what is freed
# lies between live blocks, where glibc cannot give it back by shrinking its heap
blocks = [bytearray(2048) for _ in range(100_000)]
kept = blocks[::50]
del blocks
before = rss_mb()
assert trim_malloc()
after = rss_mb()
print(base, before, after)
"""


def test_a_trim_hands_freed_memory_between_live_blocks_back(tmp_path):
    """What `hub serve`'s trimmer (HUB_MALLOC_TRIM_SECONDS) does each round, in a process of its own: the
    pages freed between blocks still in use count in RSS until a trim, and leave it with one."""
    out = subprocess.run(
        [sys.executable, "-c", _FRAGMENTED], env=BASE_ENV, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    base, before, after = map(float, out.stdout.split())
    assert before - base > 150  # the freed blocks are still in RSS...
    assert before - after > 100, (base, before, after)  # ...and most of them leave it with the trim


def test_the_trimmer_runs_until_stopped_and_not_at_zero():
    import threading

    from hub.cli.serve import start_malloc_trimmer

    def trimmers() -> int:
        return sum(t.name == "malloc-trim" and t.is_alive() for t in threading.enumerate())

    assert start_malloc_trimmer(0)() is None and trimmers() == 0
    stop = start_malloc_trimmer(0.01)
    try:
        assert trimmers() == 1
    finally:
        stop()
    deadline = time.monotonic() + 10
    while trimmers() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert trimmers() == 0
