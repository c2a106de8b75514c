"""Edge cases of the lookups: private versions, IPv6, several collections, values written oddly."""

from __future__ import annotations

import orjson

from hub.lookup import downloads
from hub.lookup.downloads import DownloadFilters
from hub.lookup.objects import object_view
from hub.lookup.search import search
from hub.lookup.values import parse_query, pattern_values, refang, values_of
from tests.lookup.helpers import pattern_indicator, principal_of, sco
from tests.taxii_helpers import store


def test_private_version_shows_only_to_its_publisher(client, world, sm):
    # cert-g (cleared to GREEN) posts an id cert-a holds at AMBER: refusing it would reveal the hidden
    # object, so ingest keeps it as a version only cert-g reads
    hidden = pattern_indicator("[domain-name:value = 'first.example']", tlp="amber", seed="taken")
    store(client, world, [hidden])
    mine = pattern_indicator(
        "[domain-name:value = 'mine.example']", tlp="green", seed="taken", modified="2024-02-01T00:00:00.000Z"
    )
    store(client, world, [mine], org="cert-g")
    with sm() as s, s.begin():
        g = principal_of(sm, world, "cert-g")
        c = principal_of(sm, world, "cert-c")
        own = object_view(s, g, hidden["id"])
        other = object_view(s, c, hidden["id"])
        g_hits = search(s, g, "mine.example").hits
        assert search(s, c, "mine.example").hits == []
        assert search(s, g, "first.example").hits == []
        vendor_view = object_view(s, principal_of(sm, world, "vendor"), hidden["id"])
    assert own is not None and own.private and own.version == mine["modified"]
    assert [d.organisation for d in own.audience[0].decisions] == ["cert-g"]
    assert [h.private for h in g_hits] == [True]
    assert other is not None and not other.private and other.version == hidden["modified"]
    assert [v.version for v in other.versions] == [hidden["modified"]]
    assert vendor_view is None


def test_ipv6_values_are_compared_in_canonical_form(client, world, sm):
    obj = sco("ipv6-addr", "2001:db8::7")
    net = sco("ipv6-addr", "2001:db8:1::/48")
    store(client, world, [obj, net])
    with sm() as s, s.begin():
        who = principal_of(sm, world, "cert-c")
        assert [h.object_id for h in search(s, who, "2001:0DB8:0000::7").hits] == [obj["id"]]
        assert [h.object_id for h in search(s, who, "2001:db8:1:2::1").hits] == [net["id"]]


def test_group_bundle_spans_every_collection_the_reader_may_read(client, world, sm):
    store(client, world, [sco("domain-name", "group.example")])
    store(client, world, [sco("domain-name", "named.example", tlp="red")], alias="a-to-b")
    r = client.get(
        "/console/downloads/africa/bundle.json", headers={"Authorization": f"Bearer {world.keys['cert-b']}"}
    )
    values = {o.get("value") for o in orjson.loads(r.content)["objects"]}
    assert {"group.example", "named.example"} <= values
    r = client.get(
        "/console/downloads/africa/bundle.json", headers={"Authorization": f"Bearer {world.keys['cert-c']}"}
    )
    assert b"named.example" not in r.content
    with sm() as s, s.begin():
        who = principal_of(sm, world, "cert-b")
        accs = downloads.scope(s, who, "africa", "a-to-b")  # by alias too
        assert (
            b"".join(downloads.blocklist(s, who, accs, DownloadFilters(kind="domain"))) == b"named.example\n"
        )


def test_csv_cells_never_start_a_formula(client, world, sm):
    # a URL must start with its scheme now (hub.lookup.values.problem); an email's local part may not
    store(client, world, [sco("email-addr", "=cmd|'/c calc'!A1@evil.example")])
    with sm() as s, s.begin():
        who = principal_of(sm, world, "cert-c")
        body = b"".join(downloads.blocklist_csv(s, who, downloads.scope(s, who, "africa"), DownloadFilters()))
    assert b"\n'=cmd" in body or b"\n\"'=cmd" in body


def test_refang_and_query_kinds():
    assert refang(" hxxps://evil[.]example[/]x ") == "https://evil.example/x"
    assert refang("user[@]evil(.)example") == "user@evil.example"
    assert parse_query("10.0.0.0/8").kind == "ip" and parse_query("10.0.0.0/8").text == "10.0.0.0/8"
    assert parse_query("Evil.Example.").text == "evil.example"
    assert parse_query("A" * 40).algorithm == "SHA-1"
    assert parse_query("HTTP://Evil.Example/Path").text == "http://evil.example/Path"


def test_blocklist_takes_only_patterns_it_can_block_on():
    simple = "[ipv4-addr:value = '1.2.3.4'] OR [ipv4-addr:value = '5.6.7.8']"
    assert [v.value for v in pattern_values(simple, simple_only=True)] == ["1.2.3.4", "5.6.7.8"]
    for pattern in (
        "[ipv4-addr:value = '1.2.3.4' AND network-traffic:dst_port = 443]",
        "[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [domain-name:value = 'x.example']",
        "[ipv4-addr:value = '1.2.3.4'] WITHIN 5 SECONDS",
        "[ipv4-addr:value != '1.2.3.4']",
        "[ipv4-addr:value ISSUBSET '10.0.0.0/8']",
        "[file:name = 'x.exe' OR file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']",
        "not a pattern",
    ):
        assert pattern_values(pattern, simple_only=True) == (), pattern
    # a search still finds values in any pattern
    assert [v.value for v in pattern_values("[ipv4-addr:value ISSUBSET '10.0.0.0/8']")] == ["10.0.0.0/8"]
    quoted = pattern_indicator("[url:value = 'http://x.example/it\\'s']")
    assert [v.value for v in values_of(quoted, simple_only=True)] == ["http://x.example/it's"]
    assert values_of({"type": "indicator", "pattern_type": "sigma", "pattern": "x"}) == []
