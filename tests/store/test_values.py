"""The value index: filled at ingest, emptied by deletes, backfilled by its migration, read only through
the visibility predicate (hub.store.values)."""

from __future__ import annotations

import ipaddress
import os
import time

import orjson
import pytest
from sqlalchemy import delete, event, func, select, text

from hub.db import make_engine
from hub.policy.tlp import Tlp
from hub.schema import upgrade
from hub.store import values as vi
from hub.store.tables import ObjectValue
from hub.vocab.values import host_key, ip_range, value_key
from tests.conftest import drop_database, fresh_database
from tests.lookup.helpers import file_sco, pattern_indicator, principal_of, sco
from tests.taxii_helpers import store as post


def _scope(sm, world, org: str, clearance: Tlp = Tlp.AMBER, alias: str = "africa/indicators") -> vi.Scope:
    who = principal_of(sm, world, org)
    return vi.Scope(who.org_id, int(clearance), (world.collections[alias],))


def _ids(rows) -> list[str]:
    return sorted({r.stix_id for r in rows})


def test_ingest_indexes_values_in_canonical_form_and_ranges(client, world, sm):
    net = pattern_indicator("[ipv4-addr:value = '198.51.100.0/24']")
    v6 = sco("ipv6-addr", "2001:DB8::1")
    url = sco("url", "HTTP://Evil.Example/x")
    f = file_sco({"sha256": "AB" * 32})
    post(client, world, [net, v6, url, f])
    scope = _scope(sm, world, "cert-c")
    with sm() as s:
        inside = vi.find(s, scope, vi.Match(holding=(ipaddress.ip_network("198.51.100.7"),)))
        assert _ids(inside) == [net["id"]] and inside[0].value == "198.51.100.0/24"
        assert _ids(vi.find(s, scope, vi.Match(keys=(value_key("ip", "2001:db8::1"),)))) == [v6["id"]]
        assert _ids(vi.find(s, scope, vi.Match(hosts=(host_key("evil.example"),)))) == [url["id"]]
        assert _ids(vi.find(s, scope, vi.Match(under=("example",)))) == [url["id"]]
        assert _ids(vi.find(s, scope, vi.Match(keys=(value_key("hash", "ab" * 32),)))) == [f["id"]]
        # stored addresses inside a network (a constituency's): the /24 is inside a /16, the IPv6 is not
        wide = vi.find(s, scope, vi.Match.networks(["198.51.0.0/16", "2001:db8::/32"]))
        assert _ids(wide) == sorted([net["id"], v6["id"]])
        assert not vi.find(s, scope, vi.Match.networks(["198.51.100.128/25"]))


def test_ip_ranges_compare_as_bytes_across_versions():
    lo4, hi4 = ip_range("10.0.0.0/8") or (b"", b"")
    lo6, hi6 = ip_range("::1") or (b"", b"")
    assert len(lo4) == len(hi6) == 16 and lo6 < lo4 < hi4 and lo6 == hi6


def test_hidden_private_and_superseded_versions_are_never_found_or_counted(client, world, sm):
    old = pattern_indicator(
        "[domain-name:value = 'old.example']", seed="x", modified="2024-01-01T00:00:00.000Z"
    )
    new = pattern_indicator(
        "[domain-name:value = 'new.example']", seed="x", modified="2024-02-01T00:00:00.000Z"
    )
    amber = sco("domain-name", "amber.example", tlp="amber")
    post(client, world, [old, amber])
    post(client, world, [new])
    post(client, world, [sco("domain-name", "amber.example", tlp="green")], org="cert-b")
    now = time.time_ns() // 1000
    with sm() as s:
        cert_c = _scope(sm, world, "cert-c")
        vendor = _scope(sm, world, "vendor", Tlp.GREEN)
        assert not vi.find(s, cert_c, vi.Match(keys=(value_key("domain", "old.example"),)))
        assert _ids(vi.find(s, cert_c, vi.Match(keys=(value_key("domain", "new.example"),)))) == [new["id"]]
        key = value_key("domain", "amber.example")
        assert vi.reporters(s, [cert_c], [key], now_us=now) == {key: 2}
        assert vi.reporters(s, [vendor], [key], now_us=now) == {key: 1}  # cert-a's AMBER copy is hidden
        assert len(vi.find(s, vendor, vi.Match(keys=(key,)))) == 1


def test_kinds_filter_what_an_address_search_finds_and_never_choose_its_index(client, world, sm, connection):
    """An address search reads the range index, whatever `kinds` says: as a plain `kind IN (...)`,
    SQLite (which keeps no statistics) drove it by the (kind, key) index instead, reading every IP
    value of the hub (45 ms at 100,000 objects, growing with them; bench/bench_lookup.py)."""
    net = pattern_indicator("[ipv4-addr:value = '198.51.100.0/24']")
    post(client, world, [net, sco("ipv4-addr", "203.0.113.9"), sco("domain-name", "x.example")])
    scope = _scope(sm, world, "cert-c")
    address = ipaddress.ip_network("198.51.100.7")
    statements: list[tuple[str, object]] = []

    def grab(_conn, _cursor, statement, parameters, _context, _executemany):
        if "object_values" in statement:
            statements.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", grab)
    try:
        with sm() as s:
            assert _ids(vi.find(s, scope, vi.Match(holding=(address,), kinds=("ip",)))) == [net["id"]]
            assert not vi.find(s, scope, vi.Match(holding=(address,), kinds=("domain",)))
            assert _ids(vi.find(s, scope, vi.Match(hosts=(host_key("x.example"),), kinds=("url",)))) == []
    finally:
        event.remove(connection, "before_cursor_execute", grab)
    if connection.dialect.name == "sqlite":
        statement, parameters = statements[0]
        plan = " ".join(
            str(r[-1]) for r in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        )
        assert "ix_object_values_range" in plan and "ix_object_values_kind_key" not in plan, plan


def test_deletes_remove_index_rows_and_backfill_restores_them(client, world, sm):
    ind = pattern_indicator("[ipv4-addr:value = '192.0.2.44']")
    post(client, world, [ind])
    with sm() as s, s.begin():
        n = s.scalar(select(func.count()).select_from(ObjectValue))
        assert n and n >= 1
        s.execute(delete(ObjectValue))
        assert vi.backfill(s, batch=1) == n
        assert s.scalar(select(func.count()).select_from(ObjectValue)) == n
    url = world.objects_url() + ind["id"] + "/"
    r = client.delete(url, headers=world.auth("cert-a"))
    assert r.status_code == 200, r.text
    with sm() as s:
        assert s.scalar(select(func.count()).select_from(ObjectValue)) == 0


@pytest.fixture
def empty_url(db_kind, tmp_path):
    name = f"hub_test_values_migration_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    yield fresh_database(db_kind, name, tmp_path)
    drop_database(db_kind, name)


def test_migration_0008_backfills_the_index_from_stored_versions_in_batches(empty_url, monkeypatch):
    import importlib

    upgrade(empty_url, "0007_benign")
    eng = make_engine(empty_url)
    bodies = [
        {"type": "ipv4-addr", "spec_version": "2.1", "id": f"ipv4-addr--{i:08d}-0000-4000-8000-000000000000",
         "value": f"192.0.2.{i}"}
        for i in range(5)
    ] + [{"type": "indicator", "spec_version": "2.1", "id": "indicator--00000000-0000-4000-8000-000000000009",
          "pattern": "[url:value = 'HTTP://Evil.Example/a'] OR [domain-name:value = 'x.example']",
          "pattern_type": "stix", "revoked": True},
        {"type": "identity", "id": "identity--x", "name": "n"}]  # fmt: skip
    with eng.begin() as conn:
        for i, b in enumerate(bodies):
            conn.execute(
                text(
                    "INSERT INTO object_versions (collection_id, stix_id, type, spec_version, version, "
                    "version_us, date_added_us, tlp, redact_tlp, producer_id, private_to, body) VALUES "
                    "('c', :id, :type, '2.1', 'v', 1, :added, 1, NULL, 1, 0, :body)"
                ),
                {"id": b["id"], "type": b["type"], "added": i + 1, "body": orjson.dumps(b)},
            )
    migration = importlib.import_module("hub.migrations.versions.0008_values")
    monkeypatch.setattr(migration, "BATCH", 2)  # several batches
    upgrade(empty_url)
    with eng.connect() as conn:
        rows = conn.execute(
            text("SELECT kind, value, revoked, simple FROM object_values ORDER BY seq, ord")
        ).all()
    eng.dispose()
    assert [(k, v) for k, v, _, _ in rows] == [("ip", f"192.0.2.{i}") for i in range(5)] + [
        ("url", "http://evil.example/a"),
        ("domain", "x.example"),
    ]
    assert [bool(r[2]) for r in rows] == [False] * 5 + [True, True] and all(bool(r[3]) for r in rows)


def test_migration_0010_keeps_the_index_rows_and_finds_them_by_its_remaining_indexes(empty_url):
    """0010 drops the separate value-key index, makes the range and host indexes partial and (SQLite)
    rebuilds the table WITHOUT ROWID: every row stays, and is found by key, range and host, both ways."""
    from alembic import command
    from sqlalchemy import inspect
    from sqlalchemy.orm import Session

    from hub.schema import alembic_config

    upgrade(empty_url, "0007_benign")
    eng = make_engine(empty_url)
    bodies = [
        {"type": "ipv4-addr", "spec_version": "2.1", "id": f"ipv4-addr--{i:08d}-0000-4000-8000-000000000000",
         "value": f"192.0.2.{i}"}
        for i in range(3)
    ] + [{"type": "indicator", "spec_version": "2.1", "id": "indicator--00000000-0000-4000-8000-000000000009",
          "pattern": "[url:value = 'http://evil.example/a'] OR [file:hashes.MD5 = '" + "ab" * 16 + "']",
          "pattern_type": "stix"}]  # fmt: skip
    with eng.begin() as conn:
        for i, b in enumerate(bodies):
            conn.execute(
                text(
                    "INSERT INTO object_versions (collection_id, stix_id, type, spec_version, version, "
                    "version_us, date_added_us, tlp, redact_tlp, producer_id, private_to, body) VALUES "
                    "('c', :id, :type, '2.1', 'v', 1, :added, 1, NULL, 1, 0, :body)"
                ),
                {"id": b["id"], "type": b["type"], "added": i + 1, "body": orjson.dumps(b)},
            )
    upgrade(empty_url, "0009_dlperf")
    every = text("SELECT * FROM object_values ORDER BY seq, ord")
    with eng.connect() as conn:
        before = [tuple(r) for r in conn.execute(every)]
    assert len(before) == 5

    def found(match: vi.Match) -> list[str]:
        with Session(eng) as s:
            return sorted(r.value for r in vi.find(s, vi.Scope(1, int(Tlp.RED), ("c",)), match))

    def check() -> None:
        with eng.connect() as conn:
            assert [tuple(r) for r in conn.execute(every)] == before
        assert found(vi.Match(keys=(value_key("hash", "ab" * 16),))) == ["ab" * 16]
        assert found(vi.Match.networks(["192.0.2.0/31"])) == ["192.0.2.0", "192.0.2.1"]
        assert found(vi.Match(under=("evil.example",))) == ["http://evil.example/a"]

    upgrade(empty_url)
    check()
    names = {ix["name"] for ix in inspect(eng).get_indexes("object_values")}
    assert "ix_object_values_key" not in names
    assert {"ix_object_values_kind_key", "ix_object_values_range", "ix_object_values_host"} <= names
    if eng.dialect.name == "sqlite":
        with eng.connect() as conn, pytest.raises(Exception, match="rowid"):
            conn.execute(text("SELECT rowid FROM object_values"))
    command.downgrade(alembic_config(empty_url), "0009_dlperf")
    check()
    eng.dispose()
