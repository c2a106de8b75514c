"""`hub constituency` and `hub subscription` against a live hub, as its organisations."""

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

    def run(who: str, *args: str, ok: bool = True, env: dict[str, str] | None = None) -> Any:
        r = runner.invoke(app, ["--url", hub.base, *args], env={"HUB_API_KEY": hub.keys[who], **(env or {})})
        if ok:
            assert r.exit_code == 0, r.output
        return r

    return run


def test_declare_confirm_subscribe_from_the_cli(cli):
    r = cli("cert-b", "constituency", "declare", "cert-b", "--network", "41.90.0.0/16", "--domain", ".ke")
    assert "2 waiting for confirmation" in r.output
    # a coordinator of another group cannot even see it; the organisation cannot confirm itself
    assert "404" in cli("cert-c", "constituency", "confirm", "cert-b", ok=False).output
    assert "403" in cli("cert-b", "constituency", "confirm", "cert-b", ok=False).output
    r = cli("cert-a", "constituency", "confirm", "cert-b", "--entry", "network:41.90.0.0/16", "--json")
    entries = {e["value"]: e["confirmed"] for e in json.loads(r.output)["entries"]}
    assert entries == {"41.90.0.0/16": True, "ke": False}
    assert "1 waiting" in cli("cert-b", "constituency", "show", "cert-b").output

    r = cli("cert-b", "subscription", "add", "cert-b", "--email", "soc@cert-b.example", "--digest", "hourly",
            "--json")  # fmt: skip
    sub = json.loads(r.output)
    assert sub["kind"] == "email" and sub["digest"] == "hourly"
    refused = cli("cert-b", "subscription", "add", "cert-b", "--webhook", "http://127.0.0.1:9/x", ok=False,
                  env={"HUB_WEBHOOK_SECRET": "s" * 20})  # fmt: skip
    assert refused.exit_code != 0 and "422" in refused.output
    listed = json.loads(cli("cert-b", "subscription", "list", "cert-b", "--json").output)
    assert [s["id"] for s in listed] == [sub["id"]]
    assert "403" in cli("cert-a", "subscription", "list", "cert-b", ok=False).output  # its coordinator
    assert "404" in cli("cert-a", "subscription", "list", "outsider", ok=False).output
    cli("cert-b", "subscription", "remove", "cert-b", str(sub["id"]))
    assert json.loads(cli("cert-b", "subscription", "list", "cert-b", "--json").output) == []


def test_subscribe_to_feedback_notices_from_the_cli(cli):
    r = cli("cert-b", "subscription", "add", "cert-b", "--email", "soc@cert-b.example", "--events",
            "feedback,inside", "--json")  # fmt: skip
    assert json.loads(r.output)["events"] == ["feedback", "inside"]
    refused = cli("cert-b", "subscription", "add", "cert-b", "--email", "soc@cert-b.example", "--events",
                  "gossip", ok=False)  # fmt: skip
    assert refused.exit_code != 0 and "422" in refused.output and "feedback" in refused.output
