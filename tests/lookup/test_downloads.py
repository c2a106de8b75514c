"""Exports: bundle, blocklist and CSV of what a member may read, with their filters."""

from __future__ import annotations

import csv
import io

import orjson
import pytest

from hub.errors import NotFound
from hub.lookup import downloads
from hub.lookup.downloads import DownloadFilters
from hub.policy.tlp import Tlp
from tests.factories import TLP
from tests.lookup.helpers import MD5, SHA256, file_sco, pattern_indicator, principal_of, sco
from tests.taxii_helpers import store


def _run(sm, world, org, fn, f, group="africa", collection=None):
    with sm() as s, s.begin():
        who = principal_of(sm, world, org)
        accs = downloads.scope(s, who, group, collection)
        return b"".join(fn(s, who, accs, f))


def _lines(body: bytes) -> list[str]:
    return body.decode().splitlines()


@pytest.fixture
def loaded(client, world):
    objs = {
        "ip_green": sco("ipv4-addr", "203.0.113.1"),
        "ip_clear": sco("ipv4-addr", "203.0.113.2", tlp="clear"),
        "ip_amber": sco("ipv4-addr", "203.0.113.3", tlp="amber"),
        "ip6": sco("ipv6-addr", "2001:db8::1"),
        "dom": sco("domain-name", "evil.example"),
        "url": sco("url", "http://evil.example/a"),
        "file": file_sco({"SHA-256": SHA256, "MD5": MD5.upper()}),
        "ind_ip": pattern_indicator("[ipv4-addr:value = '203.0.113.4']"),
        "ind_dup": pattern_indicator("[ipv4-addr:value = '203.0.113.1']"),
        "ind_or": pattern_indicator("[domain-name:value = 'a.example'] OR [domain-name:value = 'b.example']"),
        "ind_and": pattern_indicator("[ipv4-addr:value = '203.0.113.5' AND network-traffic:dst_port = 443]"),
        "ind_revoked": pattern_indicator("[ipv4-addr:value = '203.0.113.6']", revoked=True),
        "ind_expired": pattern_indicator(
            "[ipv4-addr:value = '203.0.113.7']", valid_until="2024-06-01T00:00:00Z"
        ),
    }
    store(client, world, list(objs.values()))
    return objs


def test_ip_blocklist_has_each_visible_value_once(sm, world, loaded):
    lines = _lines(_run(sm, world, "cert-c", downloads.blocklist, DownloadFilters(kind="ip")))
    assert sorted(lines) == sorted(
        [
            "203.0.113.1",
            "203.0.113.2",
            "203.0.113.3",
            "2001:db8::1",
            "203.0.113.4",
            "203.0.113.6",
            "203.0.113.7",
        ]
    )
    assert "203.0.113.5" not in lines  # one side of an AND is not blocked alone


def test_green_reader_gets_no_amber_value(sm, world, loaded):
    lines = _lines(_run(sm, world, "vendor", downloads.blocklist, DownloadFilters(kind="ip")))
    assert "203.0.113.3" not in lines and "203.0.113.1" in lines


def test_tlp_bounds_and_validity_filter_rows(sm, world, loaded):
    dmz = _lines(
        _run(sm, world, "cert-c", downloads.blocklist, DownloadFilters(kind="ip", tlp_max=Tlp.CLEAR))
    )
    assert dmz == ["203.0.113.2"]
    amber_only = DownloadFilters(kind="ip", tlp_min=Tlp.AMBER)
    assert _lines(_run(sm, world, "cert-c", downloads.blocklist, amber_only)) == ["203.0.113.3"]
    valid = _lines(_run(sm, world, "cert-c", downloads.blocklist, DownloadFilters(kind="ip", valid=True)))
    assert "203.0.113.6" not in valid and "203.0.113.7" not in valid and "203.0.113.4" in valid


def test_domain_url_and_hash_blocklists(sm, world, loaded):
    assert sorted(_lines(_run(sm, world, "cert-c", downloads.blocklist, DownloadFilters(kind="domain")))) == [
        "a.example", "b.example", "evil.example",
    ]  # fmt: skip
    assert _lines(_run(sm, world, "cert-c", downloads.blocklist, DownloadFilters(kind="url"))) == [
        "http://evil.example/a"
    ]
    # MD5 here is the empty file's hash, on the known-benign list: asked for with include_flagged
    hashes = _lines(_run(sm, world, "cert-c", downloads.blocklist, DownloadFilters(kind="hash")))
    assert hashes == [SHA256]
    everything = DownloadFilters(kind="hash", include_flagged=True)
    assert sorted(_lines(_run(sm, world, "cert-c", downloads.blocklist, everything))) == sorted([SHA256, MD5])
    md5 = DownloadFilters(kind="hash", algorithm="MD5", include_flagged=True)
    assert _lines(_run(sm, world, "cert-c", downloads.blocklist, md5)) == [MD5]


def test_added_after_keeps_only_later_rows(client, sm, world, loaded):
    with sm() as s:
        from sqlalchemy import func, select

        from hub.store.tables import ObjectVersion

        last = s.scalar(select(func.max(ObjectVersion.date_added_us)))
    store(client, world, [sco("ipv4-addr", "203.0.113.99")])
    f = DownloadFilters(kind="ip", added_after_us=last)
    assert _lines(_run(sm, world, "cert-c", downloads.blocklist, f)) == ["203.0.113.99"]


def test_csv_lists_value_type_tlp_first_seen_object_and_collection(sm, world, loaded):
    body = _run(sm, world, "cert-c", downloads.blocklist_csv, DownloadFilters())
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert rows[0] == list(downloads.CSV_HEADER)
    by_value = {r[0]: r for r in rows[1:]}
    assert by_value["203.0.113.3"][1:3] == ["ipv4-addr", "TLP:AMBER"]
    assert by_value[SHA256][1] == "file:hashes.SHA-256"
    assert by_value["203.0.113.4"][4] == loaded["ind_ip"]["id"] and by_value["203.0.113.4"][5] == "indicators"
    assert by_value["203.0.113.4"][3].endswith("Z")
    vendor = _run(sm, world, "vendor", downloads.blocklist_csv, DownloadFilters(kind="ip"))
    assert b"203.0.113.3" not in vendor and b"TLP:AMBER" not in vendor


def test_bundle_holds_latest_visible_versions_redacted(client, sm, world):
    v1 = pattern_indicator("[domain-name:value = 'v1.example']", seed="b1")
    v2 = pattern_indicator(
        "[domain-name:value = 'v2.example']", seed="b1", modified="2024-05-01T00:00:00.000Z"
    )
    f = file_sco(
        {"SHA-256": SHA256}, name="tool.exe",
        granular_markings=[{"marking_ref": TLP["amber"], "selectors": ["hashes"]}],
    )  # fmt: skip
    amber = sco("domain-name", "amber.example", tlp="amber")
    store(client, world, [v1, f, amber])
    store(client, world, [v2])
    doc = orjson.loads(_run(sm, world, "vendor", downloads.bundle, DownloadFilters()))
    assert doc["type"] == "bundle" and doc["id"].startswith("bundle--")
    by_id = {o["id"]: o for o in doc["objects"]}
    assert set(by_id) == {v1["id"], f["id"]}
    assert by_id[v1["id"]]["modified"] == v2["modified"]
    assert "hashes" not in by_id[f["id"]]
    full = orjson.loads(_run(sm, world, "cert-c", downloads.bundle, DownloadFilters()))
    assert {o["id"] for o in full["objects"]} == {v1["id"], f["id"], amber["id"]}


def test_device_ceiling_below_clearance_also_redacts(client, sm, world):
    f = file_sco(
        {"SHA-256": SHA256}, name="tool.exe",
        granular_markings=[{"marking_ref": TLP["amber"], "selectors": ["hashes"]}],
    )  # fmt: skip
    store(client, world, [f])
    body = _run(sm, world, "cert-c", downloads.bundle, DownloadFilters(tlp_max=Tlp.GREEN))
    assert SHA256.encode() not in body and f["id"].encode() in body
    assert (
        _run(sm, world, "cert-c", downloads.blocklist, DownloadFilters(kind="hash", tlp_max=Tlp.GREEN)) == b""
    )


def test_scope_of_a_collection_and_not_found_alike(sm, world, client):
    store(client, world, [sco("domain-name", "named.example", tlp="red")], alias="a-to-b")
    coll = world.collections["africa/a-to-b"]
    assert b"named.example" in _run(
        sm, world, "cert-b", downloads.blocklist, DownloadFilters(kind="domain"), collection=coll
    )
    with sm() as s, s.begin():
        c = principal_of(sm, world, "cert-c")
        errors = []
        for group, collection in (("africa", coll), ("africa", "nope"), ("asia-x", None), ("global", None)):
            with pytest.raises(NotFound) as exc:
                downloads.scope(s, c, group, collection)
            errors.append(str(exc.value).replace(group, "G"))
    assert len(set(errors)) == 1


def test_fingerprint_ignores_changes_the_reader_cannot_see(client, sm, world):
    store(client, world, [sco("ipv4-addr", "192.0.2.10")])

    def etag(org):
        with sm() as s, s.begin():
            who = principal_of(sm, world, org)
            return downloads.fingerprint(
                s, who, downloads.scope(s, who, "africa"), DownloadFilters(kind="ip"), "txt"
            ).etag

    before = {org: etag(org) for org in ("vendor", "cert-c")}
    store(client, world, [sco("ipv4-addr", "192.0.2.11", tlp="amber")])
    assert etag("vendor") == before["vendor"]
    assert etag("cert-c") != before["cert-c"]
    assert before["vendor"] != before["cert-c"]


def test_download_reads_in_short_transactions_and_returns_each_object_once(client, world, sm, monkeypatch):
    """A download spans many page transactions (none open while its rows go out), yet with writes
    landing between pages it returns each object once: the versions stored when it started."""
    monkeypatch.setattr(downloads, "PAGE_SIZE", 3)
    first = [pattern_indicator(f"[ipv4-addr:value = '198.51.100.{i}']") for i in range(10)]
    store(client, world, first)
    ids: list[str] = []
    open_between: list[bool] = []
    with sm() as s:  # no s.begin(): the download ends its own read transactions
        who = principal_of(sm, world, "cert-c")
        accs = downloads.scope(s, who, "africa")
        for n, row in enumerate(downloads.rows(s, who, accs, DownloadFilters(types=("indicator",)))):
            open_between.append(s.in_transaction())
            ids.append(row.stix_id)
            if n in (1, 4):
                # a new version of an object already sent, and of one not sent yet, plus a new object
                store(client, world, [
                    {**first[0], "modified": f"2024-02-0{n}T00:00:00.000Z"},
                    {**first[9], "modified": f"2024-02-0{n}T00:00:00.000Z"},
                    pattern_indicator(f"[ipv4-addr:value = '192.0.2.{n}']"),
                ])  # fmt: skip
    assert sorted(ids) == sorted(o["id"] for o in first)
    assert not any(open_between)
