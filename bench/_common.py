"""Shared pieces of the benchmarks: machine description, server processes, STIX data, statistics."""

from __future__ import annotations

import json
import os
import platform
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TAXII = "application/taxii+json;version=2.1"
PG_ADMIN = os.environ.get("HUB_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

TLP2 = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
}


# ------------------------------------------------------------------ statistics


def pct(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank) of the values; NaN when there are none."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(p / 100 * len(s) + 0.5) - 1))
    return s[k]


def ms(seconds: float) -> str:
    return "n/a" if seconds != seconds else f"{seconds * 1000:.1f}"


def rate(n: float, seconds: float) -> str:
    return "n/a" if seconds <= 0 else f"{n / seconds:,.0f}"


# ------------------------------------------------------------------ machine


def machine() -> dict[str, str]:
    """CPU model, cores, RAM, Python, SQLite and PostgreSQL versions."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    pg = "unreachable"
    try:
        from sqlalchemy import create_engine, text

        eng = create_engine(PG_ADMIN)
        with eng.connect() as conn:
            pg = conn.execute(text("SHOW server_version")).scalar_one()
            av = conn.execute(text("SHOW autovacuum")).scalar_one()
            pg += f", autovacuum {av}"
        eng.dispose()
    except Exception as exc:
        pg = f"unreachable ({exc.__class__.__name__})"
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "RAM": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "SQLite": sqlite3.sqlite_version,
        "PostgreSQL": pg,
    }


# ------------------------------------------------------------------ STIX data


@dataclass
class Dataset:
    """Pre-serialised envelopes of `batch` objects each, and what they hold."""

    n: int
    envelopes: list[bytes]
    counts: list[int]
    types: dict[str, int] = field(default_factory=dict)
    tlps: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def make_dataset(n: int, *, batch: int = 1000, identity_id: str, seed: int = 2026) -> Dataset:
    """N valid STIX 2.1 objects in envelopes: ~90% indicators (distinct IPv4 patterns), ~10% identity/malware.

    Indicators are TLP:GREEN (70%), TLP:CLEAR (20%) or TLP:AMBER (10%), so that a reader cleared to
    green sees most but not all of them; the other types are green.
    """
    started = time.perf_counter()
    rng = random.Random(seed)
    created = "2024-01-01T00:00:00.000Z"
    green, clear, amber = [TLP2["green"]], [TLP2["clear"]], [TLP2["amber"]]
    envelopes: list[bytes] = []
    counts: list[int] = []
    types = {"indicator": 0, "identity": 0, "malware": 0}
    tlps = {"green": 0, "clear": 0, "amber": 0}
    for start in range(0, n, batch):
        objs = []
        for i in range(start, min(n, start + batch)):
            u = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            r = i % 20
            if r == 7:
                obj = {
                    "type": "identity",
                    "spec_version": "2.1",
                    "id": f"identity--{u}",
                    "created": created,
                    "modified": created,
                    "name": f"victim organisation {i}",
                    "identity_class": "organization",
                    "created_by_ref": identity_id,
                    "object_marking_refs": green,
                }
                types["identity"] += 1
                tlps["green"] += 1
            elif r == 17:
                obj = {
                    "type": "malware",
                    "spec_version": "2.1",
                    "id": f"malware--{u}",
                    "created": created,
                    "modified": created,
                    "name": f"family {i}",
                    "is_family": True,
                    "malware_types": ["botnet"],
                    "created_by_ref": identity_id,
                    "object_marking_refs": green,
                }
                types["malware"] += 1
                tlps["green"] += 1
            else:
                t = rng.random()
                level, refs = (
                    ("green", green) if t < 0.7 else (("clear", clear) if t < 0.9 else ("amber", amber))
                )
                obj = {
                    "type": "indicator",
                    "spec_version": "2.1",
                    "id": f"indicator--{u}",
                    "created": created,
                    "modified": created,
                    "name": f"c2 server {i}",
                    "indicator_types": ["malicious-activity"],
                    "pattern": f"[ipv4-addr:value = '10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}']",
                    "pattern_type": "stix",
                    "valid_from": created,
                    "created_by_ref": identity_id,
                    "object_marking_refs": refs,
                }
                types["indicator"] += 1
                tlps[level] += 1
            objs.append(obj)
        envelopes.append(orjson.dumps({"objects": objs}))
        counts.append(len(objs))
    return Dataset(
        n=n, envelopes=envelopes, counts=counts, types=types, tlps=tlps, seconds=time.perf_counter() - started
    )


# ------------------------------------------------------------------ processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(
    url: str,
    proc: subprocess.Popen,
    *,
    headers: dict[str, str] | None = None,
    auth: Any = None,
    timeout: float = 60.0,
    log: Path | None = None,
) -> None:
    """Wait until the URL answers 200, or fail with the server's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            r = httpx.get(url, headers=headers, auth=auth, timeout=2)
            if r.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    tail = log.read_text()[-3000:] if log and log.exists() else ""
    raise RuntimeError(f"server at {url} did not start (exit code {proc.poll()}):\n{tail}")


class Server:
    """A server in its own process; its RSS and CPU time are the server's alone."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT):
        self.name = name
        self.log = log
        self._logf = log.open("wb")
        self.proc = subprocess.Popen(cmd, env=env, cwd=str(cwd), stdout=self._logf, stderr=subprocess.STDOUT)
        self.ps = psutil.Process(self.proc.pid)

    def rss_mb(self) -> float:
        return self.ps.memory_info().rss / 2**20

    def cpu_s(self) -> float:
        t = self.ps.cpu_times()
        return t.user + t.system

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._logf.close()


def pg_url(name: str) -> str:
    base, _, _ = PG_ADMIN.rpartition("/")
    return f"{base}/{name}"


def bench_db_name(size: int) -> str:
    """The PostgreSQL database of a run; HUB_TEST_DB_PREFIX keeps two checkouts' runs apart."""
    return f"hub_bench_{os.environ.get('HUB_TEST_DB_PREFIX', '')}{size}"


def pg_recreate(name: str) -> str:
    """Drop and create a PostgreSQL database of ours (hub_bench_*) and return its URL."""
    assert name.startswith("hub_bench_"), name
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return pg_url(name)


def pg_drop(name: str) -> None:
    assert name.startswith("hub_bench_"), name
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@dataclass
class HubWorld:
    url: str
    keys: dict[str, str]
    collection: str  # africa/indicators
    identity: str  # cert-a's identity id


def prepare_hub_database(kind: str, size: int, tmp: Path, *, name: str | None = None) -> HubWorld:
    """A fresh migrated database with the test suite's demo world (trust groups, keys); `name` (a
    hub_bench_* name) instead of the size's: the SQLite file `tmp/<name>.db`, the PostgreSQL database."""
    from hub.db import make_engine, make_sessionmaker
    from hub.schema import upgrade
    from tests.factories import load_world

    if kind == "sqlite":
        url = f"sqlite:///{tmp / ((name or f'hub_bench_{size}') + '.db')}"
    else:
        url = pg_recreate(name or bench_db_name(size))
    upgrade(url)
    eng = make_engine(url)
    world = load_world(make_sessionmaker(eng))
    eng.dispose()
    return HubWorld(
        url=url,
        keys=world.keys,
        collection=world.collections["africa/indicators"],
        identity=world.identities["cert-a"],
    )


def start_hub(url: str, log: Path) -> tuple[Server, str]:
    """`hub serve` (uvicorn) in its own process, on a free port of 127.0.0.1."""
    port = free_port()
    env = {
        **os.environ,
        "HUB_DATABASE_URL": url,
        "HUB_PORT": str(port),
        "HUB_HOST": "127.0.0.1",
        "HUB_SECRET_KEY": "bench-secret",
        "HUB_MAX_PAGE_SIZE": "1000",
    }
    srv = Server("hub", [sys.executable, "-m", "hub.cli", "serve"], env, log)
    return srv, f"http://127.0.0.1:{port}"


MEDALLION_ROOT = "bench"
MEDALLION_COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"


def start_medallion(tmp: Path, log: Path) -> tuple[Server, str]:
    """medallion 3 with its memory backend, served by its own runner (werkzeug) in its own process."""
    data = {
        "/discovery": {
            "title": "medallion",
            "description": "benchmark",
            "default": "http://127.0.0.1/bench/",
            "api_roots": ["http://127.0.0.1/bench/"],
        },
        MEDALLION_ROOT: {
            "information": {
                "title": "bench",
                "description": "benchmark",
                "versions": [TAXII],
                "max_content_length": 512 * 2**20,
            },
            "status": [],
            "collections": [
                {
                    "id": MEDALLION_COLLECTION,
                    "title": "indicators",
                    "description": "",
                    "can_read": True,
                    "can_write": True,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": [],
                    "manifest": [],
                }
            ],
        },
    }
    (tmp / "medallion_data.json").write_text(json.dumps(data))
    config = {
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": str(tmp / "medallion_data.json"),
            "session_timeout": 36000,
        },
        "users": {"bench": "bench"},
        "taxii": {"max_page_size": 1000},
    }
    (tmp / "medallion.json").write_text(json.dumps(config))
    port = free_port()
    srv = Server(
        "medallion",
        [
            sys.executable,
            "-m",
            "medallion.scripts.run",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "WARN",
            str(tmp / "medallion.json"),
        ],
        dict(os.environ),
        log,
    )
    return srv, f"http://127.0.0.1:{port}"


def tempdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="hub_bench_"))


# ------------------------------------------------------------------ who else uses the CPU


def _busy() -> float:
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0)


def _pg_backends(dbname: str | None) -> dict[int, float]:
    out: dict[int, float] = {}
    if not dbname:
        return out
    for p in psutil.process_iter(["name", "cmdline"]):
        try:
            cmd = " ".join(p.info["cmdline"] or [])
            if p.info["name"] == "postgres" and f" {dbname} " in f" {cmd} ":
                c = p.cpu_times()
                out[p.pid] = c.user + c.system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return out


class CpuMeter:
    """CPU used during a phase, in cores: the server, its PostgreSQL backends, this client, everyone else.

    The machine may be shared; `others` shows how much of it other processes took meanwhile.
    """

    def __init__(self, server: Server, dbname: str | None = None):
        self.server, self.dbname = server, dbname
        me = psutil.Process().cpu_times()
        self.t0, self.busy0 = time.perf_counter(), _busy()
        self.srv0, self.me0 = server.cpu_s(), me.user + me.system
        self.pg0 = _pg_backends(dbname)

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self.t0
        me = psutil.Process().cpu_times()
        pg1 = _pg_backends(self.dbname)
        pg = sum(v - self.pg0.get(pid, 0.0) for pid, v in pg1.items())
        srv = self.server.cpu_s() - self.srv0
        cli = me.user + me.system - self.me0
        busy = _busy() - self.busy0
        w = max(wall, 1e-9)
        return {
            "wall_s": wall,
            "server": srv / w,
            "postgres": pg / w,
            "client": cli / w,
            "others": max(0.0, busy - srv - cli - pg) / w,
        }


def cpu_line(c: dict[str, float]) -> str:
    pg = f", PostgreSQL {c['postgres']:.2f}" if c.get("postgres") else ""
    return f"server {c['server']:.2f}{pg}, client {c['client']:.2f}, other processes {c['others']:.2f}"
