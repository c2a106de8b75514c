"""`hub serve` sets the interpreter's thread switch interval (HUB_THREAD_SWITCH_INTERVAL_MS): the event
loop that writes every response waits for a busy request thread at most that long each time the socket
takes more. Observed from outside, as an operator would, on the server's metrics port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from hub.schema import upgrade
from tests.conftest import free_port

pytestmark = pytest.mark.slow

HUB = str(Path(sys.executable).parent / "hub")
BASE_ENV = {"PATH": "/usr/bin:/bin", **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}}


def scraped_interval(tmp_path: Path, setting: str | None) -> float:
    url = f"sqlite:///{tmp_path}/switch.db"
    upgrade(url)
    port, metrics_port = free_port(), free_port()
    env = {**BASE_ENV, "HUB_DATABASE_URL": url, "HUB_SECRET_KEY": "switch-test-secret"}
    env["HUB_METRICS_PORT"] = str(metrics_port)
    if setting is not None:
        env["HUB_THREAD_SWITCH_INTERVAL_MS"] = setting
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [HUB, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=log, stderr=log
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, log_path.read_text()[-2000:]
                try:
                    r = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2)
                    if r.status_code == 200 and "hub_thread_switch_interval_seconds " in r.text:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "hub serve's metrics did not come up"
                time.sleep(0.2)
        finally:
            proc.terminate()
            proc.wait(20)
    line = next(x for x in r.text.splitlines() if x.startswith("hub_thread_switch_interval_seconds "))
    return float(line.split()[1])


def test_serve_runs_with_the_switch_interval_it_is_given(tmp_path):
    assert scraped_interval(tmp_path, None) == pytest.approx(0.001)  # the hub's default, not Python's 5 ms
    assert scraped_interval(tmp_path, "2.5") == pytest.approx(0.0025)


@pytest.mark.parametrize("value", ["0", "-1", "101", "fast"])
def test_a_switch_interval_out_of_range_is_refused_at_start(tmp_path, value):
    url = f"sqlite:///{tmp_path}/refused.db"
    upgrade(url)
    env = {**BASE_ENV, "HUB_DATABASE_URL": url, "HUB_THREAD_SWITCH_INTERVAL_MS": value}
    out = subprocess.run([HUB, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "thread_switch_interval_ms" in (out.stdout + out.stderr).lower()
    assert "Traceback" not in out.stdout + out.stderr
