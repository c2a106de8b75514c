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
