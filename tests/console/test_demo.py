"""`hub demo` prints the console's URL and a sign-in that works."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from hub.app import create_app
from hub.settings import Settings
from tests.console.conftest import sign_in

BIN = Path(sys.executable).parent


def test_demo_prints_the_console_url_and_a_sign_in_that_works(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    made = subprocess.run(
        [str(BIN / "hub"), "demo", "--no-serve"], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "Web console: http://127.0.0.1:8000/console/" in made.stdout
    # one sign-in per coordinating organisation, CERT-MU's (the README's walkthrough) among them
    found = re.search(
        r"sign in as (console@cert-mu) with password (\S+)\s+\(coordinates africa\)", made.stdout
    )
    assert found, made.stdout
    assert re.search(
        r"sign in as console@bd-cirt with password \S+\s+\(coordinates asia-pacific", made.stdout
    )
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'hub.db'}"))
    with TestClient(app, base_url="http://hub.test") as client:
        assert sign_in(client, found.group(1), password=found.group(2)).status_code == 303
        home = client.get("/console/")
        assert "coordinator" in home.text
