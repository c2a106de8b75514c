"""`hub --url ... key`: scopes on issue, and a coordinator's suspension of a member's key in its group."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from hub.cli import app
from tests.factories import TAXII


@pytest.fixture
def cli(live: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run `hub --url <live> ...` with a key: cli(key, "key", "list", "--org", "cert-a")."""
    monkeypatch.delenv("HUB_PROFILE", raising=False)
    runner = CliRunner()

    def run(key: str, *args: str, ok: bool = True) -> Any:
        r = runner.invoke(app, ["--url", live.base, *args], env={"HUB_API_KEY": key})
        if ok:
            assert r.exit_code == 0, r.output
        return r

    return run


def test_remote_cli_issues_a_download_key_and_never_more_than_the_caller_holds(cli, live):
    made = json.loads(cli(live.keys["cert-b"], "key", "create", "--org", "cert-b", "--scope", "download",
                          "--label", "fw", "--json").stdout)  # fmt: skip
    assert made["key"]["scopes"] == ["download"]
    device = made["secret"]
    refused = cli(device, "key", "create", "--org", "cert-b", "--scope", "download", ok=False)
    assert refused.exit_code == 2 and "403" in refused.output
    r = httpx.get(f"{live.base}/taxii2/", headers={"Authorization": f"Bearer {device}", "Accept": TAXII})
    assert r.status_code == 403


def test_a_coordinator_suspends_a_members_key_in_its_group_from_the_cli(cli, live):
    key_a = live.keys["cert-a"]
    key_id = key_a.split("_")[1]
    # cert-c coordinates asia, where cert-a is a reader
    refused = cli(live.keys["cert-c"], "key", "revoke", key_id, "--org", "cert-a", ok=False)
    assert refused.exit_code == 2 and "403" in refused.output
    cli(live.keys["cert-c"], "key", "suspend", key_id, "--group", "asia", "--org", "cert-a")
    try:
        listed = json.loads(
            cli(live.keys["cert-c"], "key", "members", "--group", "asia", "--org", "cert-a", "--json").stdout
        )
        assert next(k for k in listed if k["key_id"] == key_id)["suspended"] is True
        h = {"Authorization": f"Bearer {key_a}", "Accept": TAXII}
        assert httpx.get(f"{live.base}/taxii2/asia/", headers=h).status_code == 403
        assert httpx.get(f"{live.base}/taxii2/africa/", headers=h).status_code == 200
    finally:
        cli(live.keys["cert-c"], "key", "reinstate", key_id, "--group", "asia", "--org", "cert-a")
    h = {"Authorization": f"Bearer {key_a}", "Accept": TAXII}
    assert httpx.get(f"{live.base}/taxii2/asia/", headers=h).status_code == 200
