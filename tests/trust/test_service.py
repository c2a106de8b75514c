"""Trust groups from configuration, API keys, and the `hub` commands that manage them."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from hub.cli import app
from hub.errors import ConfigError
from hub.trust.models import ApiKey
from hub.trust.service import authenticate, read_config
from tests.conftest import drop_database, fresh_database
from tests.factories import TAXII


def test_example_configuration_is_valid():
    from hub.cli import DEMO_CONFIG

    cfg = read_config(DEMO_CONFIG)
    assert {g.slug for g in cfg.groups} == {"africa", "asia-pacific", "global"}


@pytest.mark.parametrize(
    ("text", "path", "problem"),
    [
        ("groups: [{slug: Bad Slug, name: x}]", "groups.0.slug", "not a slug"),
        ("groups: [{slug: g, name: x, max_tlp: pink}]", "groups.0.max_tlp", "unknown TLP level"),
        (
            "organisations: [{slug: a, name: A}]\n"
            "groups: [{slug: g, name: x, members: [{org: a, role: boss}]}]",
            "groups.0.members.0.role",
            "coordinator",
        ),
        ("groups: [{slug: g, name: x, members: [{org: ghost, role: reader}]}]", "(top level)", "ghost"),
        ("groups: [{slug: g, name: x, max_tlp: red}]", "groups.0", "named-recipient"),
        ("organisations: [{slug: a, name: A, country: Mauritius}]", "organisations.0.country", "ISO 3166"),
        ("groups: [{slug: g, name: x, colour: blue}]", "groups.0.colour", "Extra inputs"),
        ("groups: [{slug: g", "-", "not valid YAML"),
        (
            "organisations: [{slug: a, name: A, contact: " + "x" * 300 + "}]",
            "organisations.0.contact",
            "at most 255",
        ),
    ],
)
def test_invalid_configuration_names_file_path_and_problem(tmp_path, text, path, problem):
    f = tmp_path / "trust.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        read_config(f)
    assert err.value.file == str(f)
    assert err.value.path == path
    assert problem in err.value.problem


def test_trust_load_cli_reports_a_bad_file(tmp_path):
    f = tmp_path / "trust.yaml"
    f.write_text("groups: [{slug: g, name: x, default_tlp: red, max_tlp: amber}]")
    r = CliRunner().invoke(app, ["trust", "load", str(f)])
    assert r.exit_code == 2
    assert f"{f}: groups.0" in r.output


def test_keys_are_stored_as_sha256_digests_and_check_in_constant_form(session, world):
    key = world.keys["cert-a"]
    rows = list(session.scalars(select(ApiKey)))
    assert rows and all(key.split("_", 2)[2] not in r.secret_hash for r in rows)
    assert all(r.secret_hash.startswith("sha256:") and len(r.secret_hash) == 7 + 64 for r in rows)
    assert authenticate(session, key).org_slug == "cert-a"
    assert authenticate(session, key + "x") is None
    assert authenticate(session, "hub_" + "0" * 16 + "_nope") is None


def test_expired_and_revoked_keys_are_401(client, world, sm):
    h = {"Authorization": f"Bearer {world.keys['cert-a']}", "Accept": TAXII}
    assert client.get("/taxii2/", headers=h).status_code == 200
    key_id = world.keys["cert-a"].split("_")[1]
    with sm() as s, s.begin():
        s.execute(
            update(ApiKey)
            .where(ApiKey.key_id == key_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert client.get("/taxii2/", headers=h).status_code == 401
    with sm() as s, s.begin():
        s.execute(
            update(ApiKey)
            .where(ApiKey.key_id == key_id)
            .values(expires_at=None, revoked_at=datetime.now(UTC))
        )
    assert client.get("/taxii2/", headers=h).status_code == 401


def test_key_create_list_revoke_cli(client, world, sm, db_url, monkeypatch):
    monkeypatch.setenv("HUB_DATABASE_URL", db_url)
    monkeypatch.setattr("hub.cli.make_sessionmaker", lambda _engine: sm)
    runner = CliRunner()
    r = runner.invoke(app, ["key", "create", "--org", "cert-b", "--label", "laptop", "--expires-days", "30"])
    assert r.exit_code == 0, r.output
    new_key = r.output.strip()
    assert (
        client.get("/taxii2/", headers={"Authorization": f"Bearer {new_key}", "Accept": TAXII}).status_code
        == 200
    )
    listing = runner.invoke(app, ["key", "list", "--org", "cert-b"]).output
    key_id = new_key.split("_")[1]
    assert key_id in listing and new_key.split("_", 2)[2] not in listing
    assert runner.invoke(app, ["key", "revoke", key_id]).exit_code == 0
    assert (
        client.get("/taxii2/", headers={"Authorization": f"Bearer {new_key}", "Accept": TAXII}).status_code
        == 401
    )
    assert runner.invoke(app, ["key", "revoke", "nope"]).exit_code == 2
    assert runner.invoke(app, ["key", "create", "--org", "nobody"]).exit_code == 2


def test_demo_loads_idempotently_and_writes_keys_json(db_kind, tmp_path, monkeypatch, request):
    name = f"hub_test_demo_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    url = fresh_database(db_kind, name, tmp_path)
    request.addfinalizer(lambda: drop_database(db_kind, name))
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    out = tmp_path / "keys.json"
    runner = CliRunner()
    r = runner.invoke(app, ["demo", "--no-serve", "--keys-json", str(out)])
    assert r.exit_code == 0, r.output
    assert "/taxii2/" in r.output and "hub_" in r.output
    data = json.loads(out.read_text())
    mu = data["organisations"]["cert-mu"]
    assert mu["key"].startswith("hub_")
    assert set(mu["api_roots"]) == {"africa", "asia-pacific", "global"}
    assert mu["api_roots"]["africa"]["collections"]["indicators"]
    again = runner.invoke(app, ["demo", "--no-serve"])
    assert again.exit_code == 0
    assert "No new API keys" in again.output
    own = tmp_path / "own.yaml"
    own.write_text("organisations: [{slug: cert-zz, name: ZZ, accounts: [{name: taxii}]}]\n")
    monkeypatch.setenv("HUB_TRUST_CONFIG", str(own))
    mine = runner.invoke(app, ["demo", "--no-serve"])
    assert mine.exit_code == 0 and "cert-zz/taxii" in mine.output


def _load_cli(tmp_path, db_url, monkeypatch, text: str):
    monkeypatch.setenv("HUB_DATABASE_URL", db_url)
    f = tmp_path / "trust.yaml"
    f.write_text(text)
    return CliRunner().invoke(app, ["trust", "load", str(f)])


TRUST_YAML = "groups: [{slug: ids-g, name: G, collections: [{alias: one}, {alias: two}]}]\n"


def test_new_collections_get_version_4_ids_that_trust_load_keeps(db_kind, tmp_path, monkeypatch, request):
    import uuid

    from hub.db import make_engine, make_sessionmaker
    from hub.schema import upgrade
    from hub.trust.models import Collection

    name = f"hub_test_ids_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    url = fresh_database(db_kind, name, tmp_path)
    request.addfinalizer(lambda: drop_database(db_kind, name))
    upgrade(url)
    eng = make_engine(url)
    request.addfinalizer(eng.dispose)

    def ids() -> dict[str, str]:
        with make_sessionmaker(eng)() as s:
            return {c.alias: c.id for c in s.scalars(select(Collection))}

    assert _load_cli(tmp_path, url, monkeypatch, TRUST_YAML).exit_code == 0
    first = ids()
    assert all(uuid.UUID(i).version == 4 for i in first.values())
    assert _load_cli(tmp_path, url, monkeypatch, TRUST_YAML).exit_code == 0
    assert ids() == first
    # an id pinned in the file is taken for a new collection; changing a known one is refused
    pinned = str(uuid.uuid4())
    more = TRUST_YAML.replace("{alias: two}", f"{{alias: two}}, {{alias: three, id: '{pinned}'}}")
    assert _load_cli(tmp_path, url, monkeypatch, more).exit_code == 0
    assert ids()["three"] == pinned
    moved = TRUST_YAML.replace("{alias: one}", f"{{alias: one, id: '{uuid.uuid4()}'}}")
    r = _load_cli(tmp_path, url, monkeypatch, moved)
    assert r.exit_code == 2 and "never change" in r.output
    assert ids()["one"] == first["one"]


def test_existing_version_5_collection_ids_are_kept_by_trust_load(db_kind, tmp_path, monkeypatch, request):
    import uuid

    from hub.db import make_engine, make_sessionmaker
    from hub.schema import upgrade
    from hub.trust.models import Collection

    name = f"hub_test_v5_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    url = fresh_database(db_kind, name, tmp_path)
    request.addfinalizer(lambda: drop_database(db_kind, name))
    upgrade(url)
    assert _load_cli(tmp_path, url, monkeypatch, TRUST_YAML).exit_code == 0
    old = str(uuid.uuid5(uuid.NAMESPACE_URL, "ids-g/one"))  # what earlier releases assigned
    eng = make_engine(url)
    request.addfinalizer(eng.dispose)
    with make_sessionmaker(eng)() as s, s.begin():
        s.execute(update(Collection).where(Collection.alias == "one").values(id=old))
    assert _load_cli(tmp_path, url, monkeypatch, TRUST_YAML).exit_code == 0
    with make_sessionmaker(eng)() as s:
        assert s.scalar(select(Collection.id).where(Collection.alias == "one")) == old


def test_a_pinned_collection_id_that_is_not_version_4_is_a_config_error(tmp_path):
    f = tmp_path / "trust.yaml"
    f.write_text(
        "groups: [{slug: g, name: x, collections: [{alias: a, id: 8a5e1f0c-2f4b-5f3e-8d6c-1b2a3c4d5e6f}]}]"
    )
    with pytest.raises(ConfigError) as err:
        read_config(f)
    assert "version 4" in err.value.problem
