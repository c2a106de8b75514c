"""`hub config apply FILE`: a plan first, applied only with --yes, idempotent; through the CLI."""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from hub.cli import app
from hub.store.models import AuditEvent
from hub.trust.models import Collection, Membership, Organisation, TrustGroup
from tests.factories import WORLD


@pytest.fixture
def cli(sm, world, db_url, monkeypatch):
    monkeypatch.setenv("HUB_DATABASE_URL", db_url)  # the CLI refuses a missing database file
    monkeypatch.setattr("hub.cli.make_sessionmaker", lambda _engine: sm)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def write(tmp_path, cfg):
    path = tmp_path / "trust.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def changed_world():
    cfg = copy.deepcopy(WORLD)
    cfg["organisations"].append({"slug": "cert-d", "name": "CERT-D", "accounts": [{"name": "taxii"}]})
    africa = cfg["groups"][0]
    africa["description"] = "Now described"
    africa["members"] = [m for m in africa["members"] if m["org"] != "vendor"]  # removed
    africa["members"].append({"org": "cert-d", "role": "reader", "clearance": "green"})
    africa["members"][1]["role"] = "reader"  # cert-b: contributor -> reader
    africa["collections"] = [africa["collections"][0]]  # a-to-b left out: archived
    africa["collections"].append({"alias": "new", "title": "New"})
    return cfg


def test_the_plan_is_printed_and_nothing_changes_without_yes(cli, tmp_path, sm):
    r = cli("config", "apply", write(tmp_path, changed_world()))
    assert r.exit_code == 0, r.output
    for line in (
        "+ create organisation cert-d",
        "~ change group africa (description: '' -> 'Now described')",
        "+ create membership cert-d@africa",
        "~ change membership cert-b@africa (role: 'contributor' -> 'reader')",
        "- remove membership vendor@africa",
        "- archive collection africa/a-to-b",
        "+ create collection africa/new",
        "run again with --yes",
    ):
        assert line in r.output
    with sm() as s:
        assert s.scalar(select(Organisation).where(Organisation.slug == "cert-d")) is None


def test_apply_with_yes_reconciles_audits_and_is_idempotent(cli, tmp_path, sm):
    path = write(tmp_path, changed_world())
    r = cli("config", "apply", path, "--yes")
    assert r.exit_code == 0, r.output
    assert "Applied 7 changes." in r.output and "cert-d/taxii" in r.output
    with sm() as s:
        africa = s.scalar(select(TrustGroup.id).where(TrustGroup.slug == "africa"))
        slugs = set(
            s.scalars(select(Organisation.slug).join(Membership).where(Membership.group_id == africa))
        )
        assert "vendor" not in slugs and "cert-d" in slugs
        archived = s.scalar(select(Collection).where(Collection.alias == "a-to-b"))
        assert archived.archived_at is not None
        actions = [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert {"config.create", "config.change", "membership.remove", "collection.archive"} <= set(actions)
    again = cli("config", "apply", path, "--yes")
    assert again.exit_code == 0 and "Nothing to change" in again.output
    with sm() as s:
        ev = s.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "config.change", AuditEvent.target == "group africa"
            )
        )
        assert json.loads(ev.after)["description"] == "Now described"
        assert ev.detail == "(operator)" and ev.organisation_id is None


def test_the_loaded_file_plans_nothing(cli, tmp_path):
    r = cli("config", "apply", write(tmp_path, WORLD))
    assert r.exit_code == 0 and "Nothing to change" in r.output


def test_a_bad_file_is_refused_with_its_path(cli, tmp_path):
    cfg = copy.deepcopy(WORLD)
    cfg["groups"][0]["members"][0]["role"] = "owner"
    r = cli("config", "apply", write(tmp_path, cfg))
    assert r.exit_code == 2 and "groups.0.members.0.role" in r.output


def _clearance(sm, org, group="africa"):
    with sm() as s:
        return s.scalar(
            select(Membership.clearance)
            .join(Organisation, Organisation.id == Membership.organisation_id)
            .join(TrustGroup, TrustGroup.id == Membership.group_id)
            .where(Organisation.slug == org, TrustGroup.slug == group)
        )


def test_trust_load_creates_what_is_missing_and_never_reverts_remote_changes(cli, sm, tmp_path):
    from hub.db import begin_write
    from hub.policy.tlp import Tlp
    from hub.trust.manage import update_member
    from hub.trust.models import Account
    from hub.trust.service import principal_for

    # a coordinator lowers cert-c's clearance through the admin API's service
    with sm() as s, s.begin():
        begin_write(s)
        org = s.scalar(select(Organisation).where(Organisation.slug == "cert-a"))
        acct = s.scalar(select(Account).where(Account.organisation_id == org.id))
        update_member(s, principal_for(s, account=acct, org=org), "africa", "cert-c", clearance="green")
    cfg = copy.deepcopy(WORLD)
    cfg["organisations"].append({"slug": "cert-new", "name": "New", "accounts": [{"name": "taxii"}]})
    cfg["groups"][0]["members"].append({"org": "cert-new", "role": "reader"})
    path = write(tmp_path, cfg)
    r = cli("trust", "load", path)
    assert r.exit_code == 0, r.output
    assert _clearance(sm, "cert-c") == Tlp.GREEN  # as the coordinator left it
    assert _clearance(sm, "cert-new") == Tlp.AMBER_STRICT  # what was missing is created
    assert "left as they are" in r.output and "cert-new/taxii" in r.output
    with sm() as s:
        acts = [
            (e.action, e.target)
            for e in s.scalars(select(AuditEvent).where(AuditEvent.action.like("config.%")))
        ]
    assert ("config.create", "membership cert-new@africa") in acts
    assert not [a for a in acts if a[0] != "config.create"]
    # told to, it brings what exists to the file, with the plan and audit of `hub config apply`
    r = cli("trust", "load", path, "--update")
    assert r.exit_code == 0, r.output
    assert "~ change membership cert-c@africa" in r.output
    assert _clearance(sm, "cert-c") == Tlp.AMBER_STRICT
    with sm() as s:
        ev = s.scalar(select(AuditEvent).where(AuditEvent.action == "config.change"))
    assert ev is not None and ev.target == "membership cert-c@africa"
    assert json.loads(ev.before)["clearance"] == "green"


def test_config_apply_sets_a_groups_device_list_settings(cli, tmp_path, sm):
    cfg = copy.deepcopy(WORLD)
    cfg["groups"][0].update({"min_ipv4_prefix": 16, "benign_mode": "refuse"})
    path = write(tmp_path, cfg)
    r = cli("config", "apply", path)
    assert (
        "~ change group africa (min_ipv4_prefix: None -> 16, benign_mode: 'flag' -> 'refuse')" in r.output
    ), r.output
    r = cli("config", "apply", path, "--yes")
    assert r.exit_code == 0, r.output
    with sm() as s:
        g = s.scalar(select(TrustGroup).where(TrustGroup.slug == "africa"))
        assert (g.min_ipv4_prefix, g.min_ipv6_prefix, g.benign_mode) == (16, None, "refuse")
    assert "Nothing to change" in cli("config", "apply", path, "--yes").output
    cfg["groups"][0]["min_ipv4_prefix"] = 8  # broader than the floor
    r = cli("config", "apply", write(tmp_path, cfg))
    assert r.exit_code == 2 and "groups.0.min_ipv4_prefix" in r.output
