"""What a new coordinator ran into on the command line: the URL the demo prints, the hub's root, a busy
port, the `--profile` help, and `hub feed run` printing the run it asked for."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.db import make_engine, make_sessionmaker
from hub.sync.worker import Worker
from tests.factories import TAXII, indicator
from tests.sync.conftest import web  # noqa: F401  (the loopback feed site)

BLOCKLIST = b"# a blocklist\n198.51.100.7\nevil.example\nnot a thing at all!\n"


@pytest.fixture
def cli(hub: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run `hub --url <url> ...` as one organisation: cli("cert-a", "whoami", url=...)."""
    monkeypatch.delenv("HUB_PROFILE", raising=False)
    monkeypatch.setenv("HUB_OUTBOUND_ALLOW", "127.0.0.1")  # the loopback feed site, allowed by the operator
    runner = CliRunner()

    def run(who: str, *args: str, url: str | None = None, ok: bool = True) -> Any:
        r = runner.invoke(app, ["--url", url or hub.base, *args], env={"HUB_API_KEY": hub.keys[who]})
        if ok:
            assert r.exit_code == 0, r.output
        return r

    return run


@pytest.mark.parametrize("suffix", ["/taxii2/", "/taxii2", "/taxii2/africa/", "/console/", "/admin/v1/"])
def test_the_url_the_demo_prints_works(cli: Any, hub: Any, suffix: str) -> None:
    assert "organisation: cert-a" in cli("cert-a", "whoami", url=hub.base + suffix).stdout


def test_a_url_without_the_hub_says_what_to_give(cli: Any, hub: Any) -> None:
    r = cli("cert-a", "whoami", url=hub.base + "/somewhere/else/", ok=False)
    assert r.exit_code == 2
    assert "answers no hub admin API" in r.output and "the hub's base URL" in r.output
    # a 404 of the hub itself still reads as the hub's reason
    r = cli("cert-a", "group", "show", "europe", ok=False)
    assert "There is no trust group 'europe'" in r.output


def test_the_root_points_browsers_to_the_console_and_taxii_clients_to_discovery(hub: Any) -> None:
    r = httpx.get(hub.base + "/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/"
    assert httpx.get(hub.base + "/", follow_redirects=True).url.path == "/console/sign-in"
    t = httpx.get(hub.base + "/", headers={"Accept": "application/taxii+json;version=2.1"})
    assert t.status_code == 404 and "/taxii2/" in t.json()["description"]


def test_profile_help_shows_its_brackets() -> None:
    r = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert "a [profile] of ~/.config/hub/profiles.toml" in r.output


@pytest.mark.slow
def test_serve_on_a_busy_port_prints_one_line(tmp_path: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env |= {"HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}", "HUB_LOG_FORMAT": "json"}
    hub = [sys.executable, "-m", "hub.cli"]
    assert subprocess.run([*hub, "db", "upgrade"], env=env, capture_output=True, timeout=120).returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run(
            [*hub, "serve", "--port", str(port)], env=env, capture_output=True, text=True, timeout=120
        )
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}: ") and "--port" in r.stderr
    assert "{" not in r.stderr  # no JSON log line


@pytest.fixture
def worker(hub: Any) -> Iterator[None]:
    """A sync worker on the hub's database, as `hub sync worker` (or `hub demo`) runs one."""
    eng = make_engine(hub.server.db_url)
    w = Worker(
        make_sessionmaker(eng),
        worker_id="test-worker",
        poll_s=0.2,
        environ={"HUB_OUTBOUND_ALLOW": "127.0.0.1"},
    )
    t = threading.Thread(target=w.run, daemon=True)
    t.start()
    try:
        yield
    finally:
        w.stop()
        t.join(30)
        eng.dispose()


def _add(cli: Any, name: str, url: str) -> None:
    cli("cert-a", "feed", "add", "africa", name, "--url", url, "--format", "text",
        "--collection", "indicators", "--publish-as", "cert-a", "--interval", "1d")  # fmt: skip


def test_feed_run_without_a_worker_says_so(cli: Any, web: Any) -> None:  # noqa: F811
    folder, base = web
    (folder / "list.txt").write_bytes(BLOCKLIST)
    _add(cli, "unworked", f"{base}/list.txt")
    r = cli("cert-a", "feed", "run", "africa", "unworked", "--timeout", "1", ok=False)
    assert (
        r.exit_code == 2 and "no sync worker ran it within 1 s" in r.output and "hub sync worker" in r.output
    )
    cli("cert-a", "feed", "disable", "africa", "unworked")  # not for the worker of the next test


def test_feed_run_waits_for_the_run_and_feed_runs_prints_it(cli: Any, web: Any, worker: None) -> None:  # noqa: F811
    folder, base = web
    (folder / "list.txt").write_bytes(BLOCKLIST)
    _add(cli, "waited", f"{base}/list.txt")
    ran = cli("cert-a", "feed", "run", "africa", "waited")
    assert "ok" in ran.stdout and "started_at" in ran.stdout  # the run, as `hub feed runs` prints it
    runs = cli("cert-a", "feed", "runs", "africa", "waited", "--json").stdout
    assert '"status": "ok"' in runs and '"created": 2' in runs and '"rejected": 1' in runs
    # a source that fails: the run is printed, and the exit status says it failed
    (folder / "list.txt").unlink()
    failed = cli("cert-a", "feed", "run", "africa", "waited", ok=False)
    assert failed.exit_code == 1 and "failed" in failed.stdout


def test_audit_list_names_the_collection(cli: Any, hub: Any) -> None:
    coll = hub.collections["africa/indicators"]
    r = httpx.post(
        f"{hub.base}/taxii2/africa/collections/{coll}/objects/",
        content=orjson.dumps({"objects": [indicator(70)]}),
        headers={"Authorization": f"Bearer {hub.keys['cert-a']}", "Accept": TAXII, "Content-Type": TAXII},
    )
    assert r.status_code == 202, r.text
    listed = cli("cert-a", "audit", "list", "--group", "africa", "--action", "push").stdout
    assert "collection_id" in listed and coll in listed
