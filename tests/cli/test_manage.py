"""The coordinators' CLI (`hub --url URL ...`) against a live hub, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from hub.cli import app
from tests.factories import TAXII, indicator


@pytest.fixture
def cli(hub: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run `hub --url <live> ...` as one organisation of the world: cli("cert-a", "group", "list")."""
    monkeypatch.delenv("HUB_PROFILE", raising=False)
    runner = CliRunner()

    def run(who: str | None, *args: str, ok: bool = True) -> Any:
        env = {"HUB_API_KEY": hub.keys[who]} if who else {"HUB_API_KEY": ""}
        r = runner.invoke(app, ["--url", hub.base, *args], env=env)
        if ok:
            assert r.exit_code == 0, r.output
        return r

    return run


def as_json(result: Any) -> Any:
    return json.loads(result.stdout)


def test_whoami_and_json_output(cli):
    me = as_json(cli("cert-a", "whoami", "--json"))
    assert me["organisation"] == "cert-a" and me["memberships"]["africa"]["role"] == "coordinator"
    assert "cert-a" in cli("cert-a", "whoami").stdout


def test_group_commands(cli):
    assert "africa" in cli("cert-a", "group", "list").stdout
    shown = as_json(cli("cert-a", "group", "show", "africa", "--json"))
    assert shown["api_root"] == "/taxii2/africa/"
    out = as_json(cli("cert-a", "group", "update", "africa", "--description", "AfricaCERT", "--json"))
    assert out["description"] == "AfricaCERT"
    made = as_json(
        cli("admin", "group", "create", "cli-grp", "--name", "CLI", "--max-tlp", "amber", "--json")
    )
    assert made["max_tlp"] == "amber"
    refused = cli("cert-a", "group", "create", "nope", "--name", "No", ok=False)
    assert (
        refused.exit_code == 2
        and "403 Forbidden: Only a platform admin may create trust groups" in refused.output
    )
    assert "Traceback" not in refused.output


def test_member_commands_and_a_refusal_is_a_one_line_error(cli):
    table = cli("cert-a", "member", "list", "africa").stdout
    assert "cert-b" in table and "contributor" in table
    out = as_json(cli("cert-a", "member", "update", "africa", "vendor", "--clearance", "amber", "--json"))
    assert out["clearance"] == "amber"
    bad = cli("cert-a", "member", "update", "africa", "vendor", "--clearance", "red", ok=False)
    assert bad.exit_code == 2 and "422" in bad.output and "max_tlp" in bad.output
    unknown = cli("cert-a", "member", "list", "cli-nowhere", ok=False)
    assert (
        unknown.exit_code == 2 and "404 Not found: There is no trust group 'cli-nowhere'." in unknown.output
    )
    cli("admin", "org", "create", "cli-org", "--name", "CLI org")
    cli("admin", "member", "add", "africa", "cli-org", "--role", "reader", "--clearance", "green")
    assert "cli-org" in cli("cert-a", "member", "list", "africa").stdout
    assert "removed cli-org" in cli("cert-a", "member", "remove", "africa", "cli-org").stdout
    assert "cli-org" not in cli("cert-a", "member", "list", "africa").stdout


def test_invitation_round_trip_through_the_cli(cli, hub):
    made = as_json(cli("cert-a", "invite", "create", "africa", "cli-new", "--name", "CLI New",
                       "--role", "contributor", "--clearance", "green", "--json"))  # fmt: skip
    assert made["state"] == "pending"
    listing = cli("cert-a", "invite", "list", "africa").stdout
    assert made["id"] in listing and made["token"] not in listing
    redeemed = cli(None, "invite", "redeem", made["token"])
    assert "cli-new joined africa as contributor" in redeemed.stdout
    key = next(line for line in redeemed.stdout.splitlines() if line.startswith("hub_"))
    hub.keys["cli-new"] = key
    assert "awaits a platform admin's approval" in redeemed.stdout
    assert "cli-new" in cli("admin", "org", "list", "--pending").stdout
    assert as_json(cli("admin", "org", "approve", "cli-new", "--json"))["active"] is True
    assert "cli-new" not in cli("admin", "org", "list", "--pending").stdout
    assert as_json(cli("cli-new", "whoami", "--json"))["memberships"]["africa"]["clearance"] == "green"
    again = cli(None, "invite", "redeem", made["token"], ok=False)
    assert again.exit_code == 2 and "409" in again.output and "redeemed" in again.output
    other = as_json(cli("cert-a", "invite", "create", "africa", "cli-two", "--name", "Two", "--json"))
    assert as_json(cli("cert-a", "invite", "revoke", "africa", other["id"], "--json"))["state"] == "revoked"


def test_collection_commands(cli, hub):
    named = as_json(cli("cert-a", "collection", "create", "africa", "cli-red", "--owner", "cert-a",
                        "--recipients", "cert-b", "--json"))  # fmt: skip
    assert named["kind"] == "named" and named["recipients"] == ["cert-b"]
    args = ["collection", "update", "africa", "cli-red", "--recipients", "cert-b,cert-c", "--title", "Red"]
    changed = as_json(cli("cert-a", *args, "--json"))
    assert changed["recipients"] == ["cert-b", "cert-c"] and changed["title"] == "Red"
    plain = as_json(cli("cert-a", "collection", "create", "africa", "cli-plain", "--json"))
    assert plain["kind"] == "group"
    assert "cli-red" in cli("cert-a", "collection", "list", "africa").stdout
    assert as_json(cli("cert-a", "collection", "show", "africa", "cli-red", "--json"))["id"] == named["id"]
    archived = as_json(cli("cert-a", "collection", "archive", "africa", "cli-plain", "--json"))
    assert archived["archived_at"]
    r = httpx.post(
        f"{hub.base}/taxii2/africa/collections/{plain['id']}/objects/",
        content=orjson.dumps({"objects": [indicator(1)]}),
        headers={"Authorization": f"Bearer {hub.keys['cert-b']}", "Accept": TAXII, "Content-Type": TAXII},
    )
    assert r.status_code == 403 and "archived" in r.text


def test_key_commands_remote_issue_rotate_and_revoke(cli, hub):
    made = as_json(cli("cert-c", "key", "create", "--org", "cert-c", "--label", "cli", "--json"))
    secret, key_id = made["secret"], made["key"]["key_id"]
    hub.keys["cert-c-cli"] = secret
    listing = cli("cert-c", "key", "list", "--org", "cert-c").stdout
    assert key_id in listing and secret.split("_", 2)[2] not in listing
    rotated = cli("cert-c-cli", "key", "rotate", key_id, "--org", "cert-c", "--grace-hours", "0")
    new = next(line for line in rotated.stdout.splitlines() if line.startswith("hub_"))
    assert cli("cert-c-cli", "whoami", ok=False).exit_code == 2  # rotated out with no grace
    hub.keys["cert-c-new"] = new
    assert as_json(cli("cert-c-new", "whoami", "--json"))["organisation"] == "cert-c"
    cli("cert-c-new", "key", "revoke", new.split("_")[1], "--org", "cert-c")
    gone = cli("cert-c-new", "whoami", ok=False)
    assert gone.exit_code == 2 and "401" in gone.output
    refused = cli("cert-a", "key", "create", "--org", "cert-b", ok=False)
    assert refused.exit_code == 2 and "403" in refused.output


def test_audit_and_stats_commands(cli, hub, tmp_path):
    cli("cert-a", "group", "update", "africa", "--description", "audited")
    page = as_json(cli("cert-a", "audit", "list", "--group", "africa", "--action", "group.update", "--json"))
    assert page["events"][0]["after"]["description"] == "audited"
    assert "group.update" in cli("cert-a", "audit", "list", "--limit", "5").stdout
    out = tmp_path / "audit.jsonl"
    assert "events to" in cli("cert-a", "audit", "export", "--group", "africa", "-o", str(out)).stdout
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert lines and all(e["group"] == "africa" for e in lines)
    r = httpx.post(
        f"{hub.base}{'/taxii2/africa/collections/'}{hub.collections['africa/indicators']}/objects/",
        content=orjson.dumps({"objects": [indicator(40), indicator(41, tlp="amber")]}),
        headers={"Authorization": f"Bearer {hub.keys['cert-b']}", "Accept": TAXII, "Content-Type": TAXII},
    )
    assert r.status_code == 202
    stats = as_json(cli("cert-a", "stats", "africa", "--json"))
    assert stats["by_type"]["indicator"] >= 2 and stats["last_push"]["cert-b"]
    assert "object versions you may read" in cli("cert-a", "stats", "africa").stdout


def test_org_commands(cli):
    assert "cert-b" in cli("cert-a", "org", "list").stdout
    out = as_json(cli("cert-b", "org", "update", "cert-b", "--contact", "soc@b.example", "--json"))
    assert out["contact"] == "soc@b.example"
    cli("admin", "org", "create", "cli-gone", "--name", "Gone")
    assert as_json(cli("admin", "org", "deactivate", "cli-gone", "--json"))["active"] is False
    assert as_json(cli("admin", "org", "show", "cli-gone", "--json"))["active"] is False


def test_a_profile_file_gives_url_and_key(hub, tmp_path, monkeypatch):
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(f'[africa]\nurl = "{hub.base}"\nkey = "{hub.keys["cert-a"]}"\n')
    monkeypatch.setenv("HUB_PROFILES", str(profiles))
    monkeypatch.delenv("HUB_API_KEY", raising=False)
    r = CliRunner().invoke(app, ["--profile", "africa", "whoami", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["organisation"] == "cert-a"
    missing = CliRunner().invoke(app, ["--profile", "asia", "whoami"])
    assert missing.exit_code == 2 and "no profile [asia]" in missing.output


def test_without_a_url_a_remote_command_says_what_it_needs(monkeypatch):
    monkeypatch.delenv("HUB_URL", raising=False)
    r = CliRunner().invoke(app, ["member", "list", "africa"])
    assert r.exit_code == 2 and "--url" in r.output


def test_feed_commands(cli, hub):
    out = as_json(cli("cert-a", "feed", "add", "africa", "cli-feed", "--url", "https://feeds.example/l.txt",
                      "--format", "text", "--collection", "indicators", "--publish-as", "cert-a",
                      "--interval", "10m", "--json"))  # fmt: skip
    assert out["interval_s"] == 600
    assert "cli-feed" in cli("cert-a", "feed", "list", "africa").stdout
    assert (
        as_json(cli("cert-a", "feed", "update", "africa", "cli-feed", "--tlp", "green", "--json"))["tlp"]
        == "green"
    )
    assert as_json(cli("cert-a", "feed", "disable", "africa", "cli-feed", "--json"))["enabled"] is False
    refused = cli("cert-a", "feed", "run", "africa", "cli-feed", "--no-wait", ok=False)
    assert refused.exit_code == 2 and "409" in refused.output and "disabled" in refused.output
    assert as_json(cli("cert-a", "feed", "enable", "africa", "cli-feed", "--json"))["enabled"] is True
    assert (
        as_json(cli("cert-a", "feed", "run", "africa", "cli-feed", "--no-wait", "--json"))["name"]
        == "cli-feed"
    )
    assert as_json(cli("cert-a", "feed", "runs", "africa", "cli-feed", "--json")) == []
    bad = cli("cert-a", "feed", "add", "africa", "cli-bad", "--url", "/etc/passwd", "--format", "text",
              "--collection", "indicators", "--publish-as", "cert-a", ok=False)  # fmt: skip
    assert bad.exit_code == 2 and "403" in bad.output
    # two-way is for TAXII pulls from hubs, and the operator's: a platform admin turns it on and off
    refused = cli("cert-a", "feed", "update", "africa", "cli-feed", "--two-way", ok=False)
    assert refused.exit_code == 2 and "two_way" in refused.output
    upstream = {"name": "cli-up", "format": "taxii", "url": "https://hub.example/taxii2/r/collections/x/",
                "collection": "indicators", "publish_as": "cert-a", "peer_community": "south"}  # fmt: skip
    r = httpx.post(f"{hub.base}/admin/v1/groups/africa/feeds", json=upstream,
                   headers={"Authorization": f"Bearer {hub.keys['admin']}"})  # fmt: skip
    assert r.status_code == 201, r.text
    assert (
        as_json(cli("admin", "feed", "update", "africa", "cli-up", "--two-way", "--json"))["two_way"] is True
    )
    refused = cli("cert-a", "feed", "update", "africa", "cli-up", "--interval", "5m", ok=False)
    assert refused.exit_code == 2 and "403" in refused.output
    assert (
        as_json(cli("admin", "feed", "update", "africa", "cli-up", "--no-two-way", "--json"))["two_way"]
        is False
    )


def test_admin_create_key_bootstraps_a_platform_admin_on_the_database(hub, monkeypatch):
    monkeypatch.setenv("HUB_DATABASE_URL", hub.server.db_url)
    monkeypatch.delenv("HUB_URL", raising=False)
    r = CliRunner().invoke(app, ["admin", "create-key", "--org", "cli-operator"])
    assert r.exit_code == 0, r.output
    key = r.stdout.strip()
    me = httpx.get(f"{hub.base}/admin/v1/me", headers={"Authorization": f"Bearer {key}"}).json()
    assert me == {"organisation": "cli-operator", "account_id": me["account_id"], "platform_admin": True,
                  "memberships": {}}  # fmt: skip
    local = CliRunner().invoke(app, ["key", "list", "--org", "cli-operator", "--json"])
    assert local.exit_code == 0 and json.loads(local.stdout)[0]["label"] == "platform admin"
    rotated = CliRunner().invoke(app, ["key", "rotate", key.split("_")[1], "--grace-hours", "0"])
    assert rotated.exit_code == 0, rotated.output
    assert httpx.get(f"{hub.base}/admin/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
