"""Device lists read from the value index: each value once across short transactions, reporters and
consensus lists, through the download URLs."""

from __future__ import annotations

import csv
import io

from hub.lookup import downloads
from hub.lookup.downloads import DownloadFilters
from tests.lookup.helpers import pattern_indicator, principal_of, sco
from tests.taxii_helpers import store as post


def test_a_download_spanning_many_short_transactions_returns_each_value_once(client, world, sm, monkeypatch):
    """Pages of 3 index rows, duplicates spread over objects, publishers and two collections, and
    writes landing between pages: each value exactly once, no transaction open between pages."""
    monkeypatch.setattr(downloads, "PAGE_SIZE", 3)
    values = [f"198.51.100.{i}" for i in range(12)]
    post(client, world, [pattern_indicator(f"[ipv4-addr:value = '{v}']", seed=f"a{v}") for v in values])
    # the same values again: from another publisher, in another object shape, in a second collection
    post(client, world, [sco("ipv4-addr", v) for v in values[::2]], org="cert-b")
    post(client, world, [pattern_indicator(f"[ipv4-addr:value = '{v}']", seed=f"n{v}") for v in values[1::3]],
         alias="a-to-b")  # fmt: skip
    got: list[str] = []
    open_between: list[bool] = []
    with sm() as s:  # no s.begin(): the download ends its own read transactions
        who = principal_of(sm, world, "cert-b")
        accs = downloads.scope(s, who, "africa")
        assert len(accs) == 2
        for n, line in enumerate(downloads.lines(s, who, accs, DownloadFilters(kind="ip"), first_only=True)):
            open_between.append(s.in_transaction())
            got.append(line.value.value)
            if n == 2:  # a value written meanwhile is not in this download (its snapshot began earlier)
                post(client, world, [sco("ipv4-addr", "192.0.2.200")])
    assert sorted(got) == sorted(values)
    assert not any(open_between)


def test_csv_carries_reporters_and_min_reporters_gives_a_consensus_list(client, world):
    post(client, world, [sco("ipv4-addr", "203.0.113.50"), sco("ipv4-addr", "203.0.113.51")])
    post(client, world, [sco("ipv4-addr", "203.0.113.50")], org="cert-b")
    # cert-g's AMBER report of .51 is hidden from the vendor (GREEN clearance): it never counts for it
    post(client, world, [sco("ipv4-addr", "203.0.113.51", tlp="amber")], org="cert-b")
    h = {"Authorization": f"Bearer {world.keys['vendor']}"}
    base = "/console/downloads/africa"
    r = client.get(f"{base}/blocklist.csv", params={"kind": "ip"}, headers=h)
    assert r.status_code == 200, r.text
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0])[-3:] == ["reporters", "sightings", "false_positives"]
    by_value = {}
    for row in rows:
        by_value.setdefault(row["value"], set()).add(row["reporters"])
    assert by_value == {"203.0.113.50": {"2"}, "203.0.113.51": {"1"}}
    consensus = client.get(f"{base}/blocklist.txt", params={"kind": "ip", "min_reporters": "2"}, headers=h)
    assert consensus.text.splitlines() == ["203.0.113.50"]
    h_c = {"Authorization": f"Bearer {world.keys['cert-c']}"}
    wider = client.get(f"{base}/blocklist.txt", params={"kind": "ip", "min_reporters": "2"}, headers=h_c)
    assert sorted(wider.text.splitlines()) == ["203.0.113.50", "203.0.113.51"]
    for bad in ("-1", "two", "1001"):
        r = client.get(f"{base}/blocklist.txt", params={"kind": "ip", "min_reporters": bad}, headers=h)
        assert r.status_code == 400 and "min_reporters" in r.text


def test_revoked_reports_do_not_count_towards_a_consensus(client, world):
    ind = pattern_indicator("[domain-name:value = 'agreed.example']", seed="rev")
    post(client, world, [ind])
    post(
        client,
        world,
        [pattern_indicator("[domain-name:value = 'agreed.example']", seed="other")],
        org="cert-b",
    )
    h = {"Authorization": f"Bearer {world.keys['cert-c']}"}
    url = "/console/downloads/africa/blocklist.txt"
    assert client.get(url, params={"kind": "domain", "min_reporters": "2"}, headers=h).text.split() == [
        "agreed.example"
    ]
    post(client, world, [{**ind, "modified": "2024-03-01T00:00:00.000Z", "revoked": True}])
    assert client.get(url, params={"kind": "domain", "min_reporters": "2"}, headers=h).text.split() == []


def test_a_blocklist_comes_in_value_key_order_each_value_once_even_when_one_fills_pages(
    client, world, sm, monkeypatch
):
    """Pages of 3 index rows; one value held by more objects than a page, from two publishers and two
    collections: each value once, in the index's key order (not the order added), counted for the
    first collection read that holds it."""
    from hub.vocab.values import value_key

    monkeypatch.setattr(downloads, "PAGE_SIZE", 3)
    values = [f"198.51.100.{i}" for i in range(7)]
    crowded = "203.0.113.99"
    post(client, world, [pattern_indicator(f"[ipv4-addr:value = '{v}']", seed=f"o{v}") for v in values])
    post(
        client, world, [pattern_indicator(f"[ipv4-addr:value = '{crowded}']", seed=f"c{i}") for i in range(5)]
    )
    post(client, world, [sco("ipv4-addr", crowded)], org="cert-b")
    post(client, world, [sco("ipv4-addr", crowded), sco("ipv4-addr", "192.0.2.77")], alias="a-to-b")
    with sm() as s:
        who = principal_of(sm, world, "cert-b")
        accs = downloads.scope(s, who, "africa")
        got = list(downloads.lines(s, who, accs, DownloadFilters(kind="ip"), first_only=True))
    written = [line.value.value for line in got]
    assert sorted(written) == sorted([*values, crowded, "192.0.2.77"])
    assert written == sorted(written, key=lambda v: value_key("ip", v))
    first_coll = {line.value.value: line.access.collection.alias for line in got}
    assert first_coll[crowded] == accs[0].collection.alias
    assert first_coll["192.0.2.77"] == "a-to-b"


def test_csv_reporters_of_values_one_version_holds(client, world):
    """A value held by one version only counts its publisher unless that version is revoked; a value
    two publishers hold counts both (the grouped count through the read door)."""
    live = pattern_indicator("[domain-name:value = 'alone.example.org']", seed="alone")
    gone = {**pattern_indicator("[domain-name:value = 'gone.example.org']", seed="gone"), "revoked": True}
    post(client, world, [live, gone, sco("domain-name", "twice.example.org")])
    post(client, world, [sco("domain-name", "twice.example.org")], org="cert-b")
    h = {"Authorization": f"Bearer {world.keys['cert-c']}"}
    r = client.get(
        "/console/downloads/africa/blocklist.csv", params={"kind": "domain", "valid": "false"}, headers=h
    )
    assert r.status_code == 200, r.text
    got = {(row["value"], row["reporters"]) for row in csv.DictReader(io.StringIO(r.text))}
    assert got == {("alone.example.org", "1"), ("gone.example.org", "0"), ("twice.example.org", "2")}
