"""`hub --url URL benign ...` and the group's device-list settings from the CLI, against a live hub."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from hub.cli import app


@pytest.fixture
def cli(hub: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("HUB_PROFILE", raising=False)
    runner = CliRunner()

    def run(who: str, *args: str, ok: bool = True) -> Any:
        r = runner.invoke(app, ["--url", hub.base, *args], env={"HUB_API_KEY": hub.keys[who]})
        if ok:
            assert r.exit_code == 0, r.output
        return r

    return run


def test_a_coordinator_keeps_its_groups_list_from_the_cli(cli):
    out = json.loads(
        cli("cert-a", "benign", "add", "africa", "203.0.113.53", "--note", "ns1", "--json").stdout
    )
    assert (out["value"], out["list"], out["note"]) == ("203.0.113.53", "africa own list", "ns1")
    cli("cert-a", "benign", "add", "africa", "resolver.cirt.example")
    table = cli("cert-a", "benign", "list", "africa").stdout
    assert "203.0.113.53" in table and "resolver.cirt.example" in table and "africa own list" in table
    refused = cli("cert-a", "benign", "add", "africa", "co.uk", ok=False)
    assert refused.exit_code != 0 and "422" in refused.output and "public suffix" in refused.output
    assert "removed" in cli("cert-a", "benign", "remove", "africa", "203.0.113.53").stdout
    listed = json.loads(cli("cert-a", "benign", "list", "africa", "--json").stdout)
    assert [e["value"] for e in listed] == ["resolver.cirt.example"]
    # a member who does not coordinate the group: as for an absent group
    denied = cli("cert-b", "benign", "list", "africa", ok=False)
    assert denied.exit_code != 0 and "404" in denied.output


def test_group_update_sets_the_device_list_settings(cli):
    out = json.loads(
        cli("cert-a", "group", "update", "africa", "--min-ipv4-prefix", "16", "--benign-mode", "refuse",
            "--json").stdout
    )  # fmt: skip
    assert (out["min_ipv4_prefix"], out["min_ipv6_prefix"], out["benign_mode"]) == (16, 32, "refuse")
    bad = cli("cert-a", "group", "update", "africa", "--min-ipv4-prefix", "8", ok=False)
    assert bad.exit_code != 0 and "422" in bad.output
