"""Constituency watch from the operator's command line, on the test's database: the trust YAML's
constituencies, `hub asn load` and `hub notify run-once` (with a real SMTP server)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from tests.watch_helpers import add_ke_cirt, admin, ip_indicator, post, smtp_server


@pytest.fixture
def cli(sm, world, db_url, monkeypatch):
    """Run `hub ...` against this test's database, with the test world loaded."""
    monkeypatch.setenv("HUB_DATABASE_URL", db_url)
    monkeypatch.setattr("hub.cli.make_sessionmaker", lambda _engine: sm)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_the_trust_yaml_declares_a_confirmed_constituency(cli, client, world, sm, tmp_path: Path):
    cfg = tmp_path / "trust.yaml"
    cfg.write_text(
        "organisations:\n"
        "  - slug: ke-cirt\n    name: KE-CIRT\n    accounts: [{name: taxii}]\n"
        "    constituency:\n      networks: ['41.90.0.0/16']\n      domains: ['.ke']\n"
        "groups:\n  - slug: africa\n    name: Africa\n"
        "    members: [{org: ke-cirt, role: reader, clearance: green}]\n"
    )
    r = cli("trust", "load", str(cfg))
    assert r.exit_code == 0, r.output
    add_ke_cirt(sm, world)  # the admin key
    body = admin(client, world, "admin", "GET", "/organisations/ke-cirt/constituency").json()
    assert body["pending"] == 0 and {e["value"] for e in body["entries"]} == {"41.90.0.0/16", "ke"}


def test_a_bad_constituency_in_the_trust_yaml_names_the_entry(cli, tmp_path: Path):
    cfg = tmp_path / "trust.yaml"
    cfg.write_text(
        "organisations:\n  - slug: vendor\n    name: V\n    constituency:\n      networks: ['0.0.0.0/0']\n"
        "groups: []\n"
    )
    r = cli("trust", "load", str(cfg))
    assert r.exit_code != 0
    assert "constituency" in r.output and "0.0.0.0/0" in r.output


def test_asn_load_reads_the_operators_files_and_hub_asn_data(cli, tmp_path: Path, monkeypatch):
    f = tmp_path / "ipasn.dat"
    f.write_text("; comment\n41.90.0.0/16\t36866\n")
    r = cli("asn", "load", str(f))
    assert r.exit_code == 0, r.output
    assert "loaded 1 (asn, prefix) pairs" in r.output
    monkeypatch.setenv("HUB_ASN_DATA", str(f))
    assert cli("asn", "load").exit_code == 0
    bad = tmp_path / "bad.dat"
    bad.write_text("41.90.0.0/16 36866 extra\n")
    r = cli("asn", "load", str(bad))
    assert r.exit_code == 2 and "bad.dat:1" in r.output


def test_notify_run_once_matches_and_sends_the_digest(cli, client, world, sm, monkeypatch):
    add_ke_cirt(sm, world)
    admin(
        client,
        world,
        "ke-cirt",
        "PUT",
        "/organisations/ke-cirt/constituency",
        json={"networks": ["41.90.0.0/16"]},
    )
    admin(client, world, "cert-a", "POST", "/organisations/ke-cirt/constituency/confirm")
    r = admin(client, world, "ke-cirt", "POST", "/organisations/ke-cirt/subscriptions",
              json={"kind": "email", "to": "soc@ke-cirt.example", "digest": "daily"})  # fmt: skip
    assert r.status_code == 201, r.text
    post(client, world, "cert-b", [ip_indicator("41.90.5.5")])
    with smtp_server() as (smtp, box):
        monkeypatch.setenv("HUB_SMTP_HOST", smtp.host)
        monkeypatch.setenv("HUB_SMTP_PORT", str(smtp.port))
        monkeypatch.setenv("HUB_SMTP_FROM", "hub@hub.test")
        monkeypatch.setenv("HUB_WATCH_SETTLE_SECONDS", "0")
        r = cli("notify", "run-once")
        assert r.exit_code == 0, r.output
        assert "matched 1 value(s)" in r.output and "ke-cirt email" in r.output and "ok" in r.output
        assert len(box.messages) == 1 and b"41.90.5.5" in box.messages[0][2]
        # a daily digest waits a day before the next one
        post(client, world, "cert-b", [ip_indicator("41.90.5.6")])
        r = cli("notify", "run-once")
        assert "0 deliveries" in r.output and len(box.messages) == 1
