"""Several `hub serve` replicas and `hub sync` workers on one database, as a region deploys them: each a
real process on 127.0.0.1, sharing nothing but the database (and the page-token secret)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml
from sqlalchemy import func, select

from hub.db import make_engine, make_sessionmaker
from hub.schema import upgrade
from hub.sync.models import Feed, FeedRun
from tests.conftest import _worker, drop_database, free_port, fresh_database
from tests.factories import indicator, load_world

pytestmark = pytest.mark.slow  # several hub processes

HUB = str(Path(sys.executable).parent / "hub")
SECRET = "replica-shared-secret"


class Replica:
    """One `hub serve` process."""

    def __init__(self, env: dict[str, str], log: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [HUB, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "a replica exited at start"
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError("a replica did not become ready within 60 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck replica
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


@pytest.fixture
def region(db_kind: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Two replicas on one migrated database holding the test world."""
    # a name of this worker's: both tests here use the fixture, and xdist may run them at once on two
    # workers, when the second one's fresh_database would drop the first one's database under its replicas
    name = f"hub_replicas_{_worker()}"
    url = fresh_database(db_kind, name, tmp_path)
    upgrade(url)
    engine = make_engine(url)
    world = load_world(make_sessionmaker(engine))
    env = {
        "PATH": "/usr/bin:/bin",
        "HUB_DATABASE_URL": url,
        "HUB_SECRET_KEY": SECRET,
        "HUB_LOG_FORMAT": "json",
    }
    replicas = [Replica(env, tmp_path / f"replica-{i}.log") for i in (1, 2)]
    try:
        for r in replicas:
            r.wait_ready()
        yield {"world": world, "replicas": replicas, "env": env, "engine": engine, "tmp": tmp_path}
    finally:
        for r in replicas:
            r.stop()
        engine.dispose()
        drop_database(db_kind, name)


def test_replicas_share_writes_pages_and_revocations(region):
    world, (a, b), env = region["world"], region["replicas"], region["env"]
    objects = world.objects_url()
    # both replicas take writes
    for i, replica in enumerate((a, b, a, b)):
        batch = [indicator(5000 + i * 3 + k) for k in range(3)]
        r = httpx.post(
            replica.base + objects,
            content=orjson.dumps({"objects": batch}),
            headers=world.post_headers("cert-a"),
            timeout=30,
        )
        assert r.status_code == 202 and r.json()["success_count"] == 3
    # a reader pages through, alternating replicas with each `next`
    seen: list[str] = []
    params: dict[str, str] = {"limit": "5"}
    for turn in range(10):
        replica = (a, b)[turn % 2]
        r = httpx.get(replica.base + objects, params=params, headers=world.auth("cert-b"), timeout=30)
        assert r.status_code == 200, r.text
        page = r.json()
        seen += [o["id"] for o in page.get("objects", [])]
        if not page.get("more"):
            break
        params = {"limit": "5", "next": page["next"]}
    assert turn == 2  # three pages: 5, 5 and 2 of the 12 objects
    assert len(seen) == 12 and len(set(seen)) == 12
    # a key is revoked through one replica's database and refused by the other on its next request
    key = world.keys["cert-b"]
    for replica in (a, b):  # both have seen (and cached the check of) the key
        assert (
            httpx.get(replica.base + "/taxii2/", headers=world.auth("cert-b"), timeout=10).status_code == 200
        )
    done = subprocess.run(
        [HUB, "key", "revoke", key], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    for replica in (b, a):
        assert (
            httpx.get(replica.base + "/taxii2/", headers=world.auth("cert-b"), timeout=10).status_code == 401
        )


def test_two_workers_run_each_due_feed_exactly_once(region):
    tmp, env, engine = region["tmp"], region["env"], region["engine"]
    feeds = []
    for i in range(6):
        path = tmp / f"list-{i}.txt"
        path.write_text(f"198.51.100.{i + 1}\n")
        feeds.append(
            {
                "name": f"list-{i}",
                "format": "text",
                "url": str(path),
                "group": "africa",
                "collection": "indicators",
                "publish_as": "cert-a",
                "interval": "1d",
            }
        )
    spec = tmp / "feeds.yaml"
    spec.write_text(yaml.safe_dump({"feeds": feeds}))
    loaded = subprocess.run(
        [HUB, "sync", "load", str(spec)], env=env, capture_output=True, text=True, timeout=60
    )
    assert loaded.returncode == 0, loaded.stderr
    workers = [
        subprocess.Popen(
            [HUB, "sync", "run-once", "--worker-id", f"replica-{n}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in (1, 2)
    ]
    for w in workers:
        _out, errs = w.communicate(timeout=120)
        assert w.returncode == 0, errs
    with make_sessionmaker(engine)() as s:
        runs = dict(
            s.execute(select(Feed.name, func.count(FeedRun.id)).join(FeedRun).group_by(Feed.name)).all()
        )
        statuses = set(s.scalars(select(FeedRun.status)))
    assert runs == {f"list-{i}": 1 for i in range(6)}
    assert statuses == {"ok"}
