"""`hub import` of C2 lists, then the device download: what a feed's rows put on members' firewalls."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from hub.lookup.search import search
from tests.lookup.helpers import principal_of

FEODO = Path(__file__).parents[1] / "connectors" / "fixtures" / "feodo_ipblocklist.csv"


def _get(client, world, path: str, org: str = "vendor") -> str:
    r = client.get(
        f"/console/downloads/africa/{path}", headers={"Authorization": f"Bearer {world.keys[org]}"}
    )
    assert r.status_code == 200, r.text
    return r.text


def test_observation_4_feodo_addresses_reach_the_ip_blocklist_search_and_csv_ports(cli, client, sm, world):
    r = cli("import", str(FEODO), "--format", "feodo-csv", "--group", "africa", "--collection", "indicators",
            "--as", "cert-b", "--tlp", "clear")  # fmt: skip
    assert r.exit_code == 0, r.output
    lines = _get(client, world, "blocklist.txt?kind=ip").splitlines()
    assert {"192.0.2.10", "198.51.100.23", "2001:db8::dead:beef"} <= set(lines)
    assert len(lines) == len(set(lines))
    rows = list(csv.DictReader(io.StringIO(_get(client, world, "blocklist.csv?kind=ip"))))
    ports = {(row["value"], row["port"]) for row in rows}
    assert ("192.0.2.10", "443") in ports and ("198.51.100.23", "8080") in ports
    with sm() as s:
        found = search(s, principal_of(sm, world, "vendor"), "198.51.100.23")
    assert [h.matched for h in found.hits] == ["198.51.100.23"] and found.hits[0].in_pattern


def _load(sm, *feeds) -> None:
    from hub.db import begin_write
    from hub.sync.feeds import FeedsConfig, apply_feeds

    with sm() as s, s.begin():
        begin_write(s)
        apply_feeds(s, FeedsConfig.model_validate({"feeds": list(feeds)}), now_us=0)


def _stored(sm, world) -> dict[str, dict]:
    import orjson
    from sqlalchemy import select

    from hub.store.tables import ObjectVersion as OV

    with sm() as s:
        bodies = s.scalars(select(OV.body).where(OV.collection_id == world.collections["africa/indicators"]))
        objs = [orjson.loads(b) for b in bodies]
    latest: dict[str, dict] = {}
    for o in sorted((o for o in objs if o["type"] == "indicator"), key=lambda o: o["modified"]):
        latest[o["pattern"]] = o  # the latest version of each
    return latest


def test_feed_lifetime_sets_valid_until_from_last_seen_and_reimports_are_identical(
    cli, client, sm, world, web
):
    folder, base = web
    (folder / "feodo.csv").write_bytes(FEODO.read_bytes())
    (folder / "list.txt").write_bytes(b"203.0.113.40\nlisted.example\n")
    common = {"group": "africa", "collection": "indicators", "publish_as": "cert-b", "tlp": "clear"}
    _load(
        sm,
        {
            "name": "feodo",
            "format": "feodo-csv",
            "url": f"{base}/feodo.csv",
            "connector": {"lifetime": "7d"},
            **common,
        },
        {
            "name": "plain",
            "format": "text",
            "url": f"{base}/list.txt",
            "connector": {"lifetime": "7d"},
            **common,
        },
    )
    r = cli("sync", "run-once")
    assert r.exit_code == 0, r.output
    stored = _stored(sm, world)
    qakbot = next(o for p, o in stored.items() if "'192.0.2.10'" in p)
    assert qakbot["valid_until"] == "2024-03-11T00:00:00.000Z"  # last_online 2024-03-04 + 7 days
    plain = next(o for p, o in stored.items() if "'203.0.113.40'" in p)
    assert "valid_until" in plain and plain["valid_until"] > plain["modified"]
    # the same sources again: nothing new, byte for byte
    for name in ("feodo", "plain"):
        assert cli("sync", "reset-cursor", name).exit_code == 0
        r = cli("sync", "run-once", "--feed", name)
        assert "new 0" in r.output, r.output
    # Feodo's rows were last seen in March 2024: expired, off the default device list; the plain
    # list's entries were seen now and stay on it
    lines = _get(client, world, "blocklist.txt?kind=ip").splitlines()
    assert "203.0.113.40" in lines and "192.0.2.10" not in lines
    assert "192.0.2.10" in _get(client, world, "blocklist.txt?kind=ip&valid=false").splitlines()


def test_snapshot_feed_revokes_what_the_source_stops_listing(cli, client, sm, world, web):
    folder, base = web
    (folder / "list.txt").write_bytes(b"203.0.113.50\n203.0.113.51\n")
    _load(sm, {"name": "snap", "format": "text", "url": f"{base}/list.txt", "group": "africa",
               "collection": "indicators", "publish_as": "cert-b", "tlp": "clear",
               "connector": {"snapshot": True}})  # fmt: skip
    assert cli("sync", "run-once").exit_code == 0
    assert sorted(_get(client, world, "blocklist.txt?kind=ip").splitlines()) == [
        "203.0.113.50",
        "203.0.113.51",
    ]
    (folder / "list.txt").write_bytes(b"203.0.113.50\n")
    assert cli("sync", "reset-cursor", "snap").exit_code == 0
    r = cli("sync", "run-once", "--feed", "snap")
    assert (
        r.exit_code == 0 and "snapshot: 1 indicator(s) no longer listed by the source revoked" in r.output
    ), r.output
    assert _get(client, world, "blocklist.txt?kind=ip").splitlines() == ["203.0.113.50"]
    gone = next(o for p, o in _stored(sm, world).items() if "'203.0.113.51'" in p)
    assert gone["revoked"] is True and gone["created_by_ref"] == world.identities["cert-b"]
    # the same shorter source again: nothing more is revoked or stored
    assert cli("sync", "reset-cursor", "snap").exit_code == 0
    r = cli("sync", "run-once", "--feed", "snap")
    assert "new 0" in r.output and "snapshot" not in r.output, r.output
    # an unchanged source answered 304 revokes nothing
    r = cli("sync", "run-once", "--feed", "snap")
    assert "not modified" in r.output and "snapshot" not in r.output


def test_feed_run_notes_count_known_benign_values(cli, sm, world, web):
    folder, base = web
    (folder / "list.txt").write_bytes(b"8.8.8.8\n1.1.1.1\ngoogle.com\n203.0.113.70\n")
    _load(sm, {"name": "noisy", "format": "text", "url": f"{base}/list.txt", "group": "africa",
               "collection": "indicators", "publish_as": "cert-b", "tlp": "clear"})  # fmt: skip
    r = cli("sync", "run-once")
    assert r.exit_code == 0, r.output
    assert "known-benign: 3 value(s) flagged" in r.output, r.output
    assert "MISP warninglist public-dns-v4: 2" in r.output and "MISP warninglist google: 1" in r.output


def test_the_dashboard_counts_what_the_feeds_flagged_and_withholds_it_as_feed_counts(
    cli, client, sm, world, web
):
    from hub.trust.keys import bootstrap_admin_key

    folder, base = web
    (folder / "list.txt").write_bytes(b"8.8.8.8\n1.1.1.1\ngoogle.com\n203.0.113.70\n")
    _load(sm, {"name": "noisy", "format": "text", "url": f"{base}/list.txt", "group": "africa",
               "collection": "indicators", "publish_as": "cert-b", "tlp": "clear"})  # fmt: skip
    assert cli("sync", "run-once").exit_code == 0
    with sm() as s, s.begin():
        _info, admin = bootstrap_admin_key(s)

    def flagged(key: str) -> int:
        r = client.get("/admin/v1/groups/africa/stats", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200, r.text
        return int(r.json()["benign_flagged"])

    assert flagged(admin) == 3
    # cert-a coordinates africa below TLP:RED: another member's feed counts are withheld, this one too
    assert flagged(world.keys["cert-a"]) == 0
    # every run counts what it flagged, as its notes say (an unchanged source answers 304 and flags none)
    (folder / "list.txt").write_bytes(b"8.8.8.8\n203.0.113.71\n")
    later = (folder / "list.txt").stat().st_mtime + 60  # Last-Modified has whole seconds: no 304 by chance
    os.utime(folder / "list.txt", (later, later))
    assert cli("sync", "run-once", "--feed", "noisy").exit_code == 0
    assert flagged(admin) == 4


def test_hub_import_applies_the_groups_refuse_mode_and_own_and_operator_lists(
    cli, client, sm, world, tmp_path, monkeypatch
):
    from hub.db import begin_write
    from hub.lookup.benign import use_operator_lists
    from hub.trust.models import BenignEntry, TrustGroup

    (tmp_path / "national.txt").write_text("# operator\n203.0.113.53\n", encoding="utf-8")
    monkeypatch.setenv("HUB_BENIGN_LISTS", str(tmp_path / "national.txt"))
    with sm() as s, s.begin():
        begin_write(s)
        g = s.query(TrustGroup).filter_by(slug="africa").one()
        g.benign_mode, g.min_ipv4_prefix = "refuse", 24
        import datetime as dt

        s.add(
            BenignEntry(
                group_id=g.id, value="203.0.113.55", kind="ip", note="", created_at=dt.datetime.now(dt.UTC)
            )
        )
    src = tmp_path / "list.txt"
    src.write_text(
        "203.0.113.53\n203.0.113.54\n203.0.113.55\n198.51.0.0/20\n198.51.100.0/24\n", encoding="utf-8"
    )
    try:
        r = cli("import", str(src), "--format", "text", "--group", "africa", "--collection", "indicators",
                "--as", "cert-b", "--tlp", "clear")  # fmt: skip
    finally:
        use_operator_lists([])
    assert r.exit_code == 0, r.output
    assert "operator list national.txt" in r.output and "africa own list" in r.output, r.output
    assert "broader than /24" in r.output
    assert "refused by validation or policy: 3" in r.output and "stored new: 2" in r.output, r.output
    stored = _get(client, world, "blocklist.txt?kind=ip&include_flagged=true", org="cert-a")
    assert sorted(stored.splitlines()) == ["198.51.100.0/24", "203.0.113.54"]


def test_feed_run_notes_count_values_on_the_groups_own_list(cli, sm, world, web):
    import datetime as dt

    from hub.db import begin_write
    from hub.trust.models import BenignEntry, TrustGroup

    with sm() as s, s.begin():
        begin_write(s)
        g = s.query(TrustGroup).filter_by(slug="africa").one()
        s.add(
            BenignEntry(
                group_id=g.id, value="203.0.113.70", kind="ip", note="", created_at=dt.datetime.now(dt.UTC)
            )
        )
    folder, base = web
    (folder / "list.txt").write_bytes(b"8.8.8.8\n203.0.113.70\n203.0.113.71\n")
    _load(sm, {"name": "own", "format": "text", "url": f"{base}/list.txt", "group": "africa",
               "collection": "indicators", "publish_as": "cert-b", "tlp": "clear"})  # fmt: skip
    r = cli("sync", "run-once")
    assert r.exit_code == 0, r.output
    assert "known-benign: 2 value(s) flagged" in r.output, r.output
    assert "africa own list: 1" in r.output and "MISP warninglist public-dns-v4: 1" in r.output
