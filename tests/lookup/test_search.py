"""Search by value: what it finds, how it reads the query, and that hidden objects never show."""

from __future__ import annotations

import pytest

from hub.errors import NotFound
from hub.lookup.search import search
from hub.lookup.values import QueryError
from hub.policy.tlp import Tlp
from tests.factories import TLP
from tests.lookup.helpers import MD5, SHA256, file_sco, pattern_indicator, principal_of, sco
from tests.taxii_helpers import store


def _ids(result):
    return sorted(h.object_id for h in result.hits)


def test_search_finds_an_ip_in_an_observable_and_in_a_pattern(client, world, sm):
    ip = sco("ipv4-addr", "203.0.113.7")
    ind = pattern_indicator("[ipv4-addr:value = '203.0.113.7']", tlp="amber")
    store(client, world, [ip, ind])
    with sm() as s, s.begin():
        result = search(s, principal_of(sm, world, "cert-c"), "203.0.113.7")
    assert _ids(result) == sorted([ip["id"], ind["id"]])
    assert not result.more and result.kind == "ip"
    hit = next(h for h in result.hits if h.object_id == ind["id"])
    assert (hit.group, hit.collection, hit.type, hit.matched) == (
        "africa",
        "indicators",
        "indicator",
        "203.0.113.7",
    )
    assert hit.tlp == Tlp.AMBER and hit.publisher == "CERT-A" and hit.in_pattern
    assert hit.version == "2024-01-01T00:00:00.000Z" and hit.date_added.endswith("Z")


def test_amber_object_is_hidden_from_green_reader_and_not_counted(client, world, sm):
    store(client, world, [sco("ipv4-addr", "203.0.113.8", tlp="amber"), sco("ipv4-addr", "203.0.113.9")])
    with sm() as s, s.begin():
        vendor = principal_of(sm, world, "vendor")
        hidden = search(s, vendor, "203.0.113.8")
        absent = search(s, vendor, "203.0.113.10")
        seen = search(s, vendor, "203.0.113.9")
    assert hidden.hits == absent.hits == [] and not hidden.more and not absent.more
    assert len(seen.hits) == 1 and seen.hits[0].tlp == Tlp.GREEN


def test_query_is_refanged_and_normalised(client, world, sm):
    dom = sco("domain-name", "evil.example")
    url = sco("url", "http://evil.example/payload.bin")
    mail = sco("email-addr", "phish@evil.example")
    store(client, world, [dom, url, mail])
    with sm() as s, s.begin():
        who = principal_of(sm, world, "cert-b")
        by_domain = search(s, who, "  EVIL[.]Example ")
        by_url = search(s, who, "hxxp://evil[.]example/payload.bin")
        by_mail = search(s, who, "phish[at]evil[.]example")
    assert by_domain.query == "evil.example" and by_domain.kind == "domain"
    # a domain also finds the URLs on it
    assert _ids(by_domain) == sorted([dom["id"], url["id"]])
    assert _ids(by_url) == [url["id"]] and by_url.query == "http://evil.example/payload.bin"
    assert _ids(by_mail) == [mail["id"]]


def test_hash_found_in_file_and_pattern_whatever_its_case(client, world, sm):
    f = file_sco({"SHA-256": SHA256.upper(), "MD5": MD5})
    ind = pattern_indicator(f"[file:hashes.'SHA-256' = '{SHA256}']")
    md5_ind = pattern_indicator(f"[file:hashes.MD5 = '{MD5}' OR file:name = 'x.exe']")
    store(client, world, [f, ind, md5_ind])
    with sm() as s, s.begin():
        who = principal_of(sm, world, "cert-c")
        by_sha = search(s, who, SHA256.upper())
        by_md5 = search(s, who, MD5)
    assert _ids(by_sha) == sorted([f["id"], ind["id"]])
    assert {h.matched for h in by_sha.hits} == {SHA256}
    assert _ids(by_md5) == sorted([f["id"], md5_ind["id"]])


def test_ip_is_found_inside_a_cidr_value(client, world, sm):
    net = sco("ipv4-addr", "198.51.100.0/24")
    ind = pattern_indicator("[ipv4-addr:value ISSUBSET '198.51.0.0/16']")
    other = sco("ipv4-addr", "198.51.101.0/24")
    store(client, world, [net, ind, other])
    with sm() as s, s.begin():
        result = search(s, principal_of(sm, world, "cert-a"), "198.51.100.23")
    assert _ids(result) == sorted([net["id"], ind["id"]])


def test_a_network_starting_where_an_enclosing_one_does_holds_the_address_only_if_it_reaches_it(
    client, world, sm
):
    """Every network starting at 203.0.113.0 starts where some network enclosing 203.0.113.77 does; only
    those reaching .77 hold it (and IPv6 likewise)."""
    holding = [sco("ipv4-addr", n) for n in ("203.0.113.0/24", "203.0.113.0/25", "203.0.112.0/23",
                                             "203.0.113.64/26", "203.0.113.76/31", "203.0.113.77",
                                             "203.0.0.0/16")]  # fmt: skip
    short = [sco("ipv4-addr", n) for n in ("203.0.113.0/26", "203.0.113.0/30", "203.0.113.64/29",
                                           "203.0.113.78/31", "203.0.113.78", "203.0.112.0/24")]  # fmt: skip
    holding6 = [sco("ipv6-addr", n) for n in ("2001:db8::/32", "2001:db8::/64", "2001:db8::/120")]
    short6 = [sco("ipv6-addr", n) for n in ("2001:db8::/126", "2001:db8::80/121", "2001:db8::")]
    store(client, world, [*holding, *short, *holding6, *short6])
    who = principal_of(sm, world, "cert-a")
    with sm() as s, s.begin():
        assert _ids(search(s, who, "203.0.113.77")) == sorted(o["id"] for o in holding)
        assert _ids(search(s, who, "2001:db8::77")) == sorted(o["id"] for o in holding6)


def test_similar_values_do_not_match(client, world, sm):
    store(
        client, world, [sco("ipv4-addr", "10.1.1.10"), pattern_indicator("[ipv4-addr:value = '10.1.1.100']")]
    )
    with sm() as s, s.begin():
        assert search(s, principal_of(sm, world, "cert-a"), "10.1.1.1").hits == []


def test_only_the_latest_version_is_searched(client, world, sm):
    v1 = pattern_indicator("[domain-name:value = 'old.example']", seed="moving")
    v2 = pattern_indicator(
        "[domain-name:value = 'new.example']", seed="moving", modified="2024-02-01T00:00:00.000Z"
    )
    store(client, world, [v1])
    store(client, world, [v2])
    with sm() as s, s.begin():
        who = principal_of(sm, world, "cert-c")
        assert search(s, who, "old.example").hits == []
        assert _ids(search(s, who, "new.example")) == [v2["id"]]


def test_a_hidden_newer_version_leaves_the_visible_one_found(client, world, sm):
    v1 = pattern_indicator("[domain-name:value = 'kept.example']", seed="reclassified")
    v2 = pattern_indicator(
        "[domain-name:value = 'kept.example']", tlp="amber", seed="reclassified",
        modified="2024-02-01T00:00:00.000Z",
    )  # fmt: skip
    store(client, world, [v1])
    store(client, world, [v2])
    with sm() as s, s.begin():
        hits = search(s, principal_of(sm, world, "vendor"), "kept.example").hits
    assert [(h.object_id, h.version, h.tlp) for h in hits] == [(v1["id"], v1["modified"], Tlp.GREEN)]


def test_optional_content_marked_above_clearance_is_not_searched(client, world, sm):
    f = file_sco(
        {"SHA-256": SHA256}, name="tool.exe",
        granular_markings=[{"marking_ref": TLP["amber"], "selectors": ["hashes"]}],
    )  # fmt: skip
    store(client, world, [f])
    with sm() as s, s.begin():
        assert search(s, principal_of(sm, world, "vendor"), SHA256).hits == []
        assert _ids(search(s, principal_of(sm, world, "cert-c"), SHA256)) == [f["id"]]


def test_limit_bounds_hits_and_more_ignores_hidden_ones(client, world, sm):
    visible = [sco("url", f"http://many.example/{i}") for i in range(3)]
    hidden = [sco("url", f"http://many.example/h{i}", tlp="amber") for i in range(3)]
    store(client, world, hidden + visible)
    with sm() as s, s.begin():
        cert_c = search(s, principal_of(sm, world, "cert-c"), "many.example", limit=5)
        vendor = search(s, principal_of(sm, world, "vendor"), "many.example", limit=3)
        vendor2 = search(s, principal_of(sm, world, "vendor"), "many.example", limit=2)
    assert len(cert_c.hits) == 5 and cert_c.more
    assert _ids(vendor) == sorted(v["id"] for v in visible) and not vendor.more
    assert len(vendor2.hits) == 2 and vendor2.more


def test_search_spans_the_callers_groups_and_can_keep_to_one(client, world, sm):
    a = sco("domain-name", "spread.example")
    store(client, world, [a])
    store(client, world, [a], org="cert-c", group="asia")
    with sm() as s, s.begin():
        who = principal_of(sm, world, "cert-a")
        assert sorted(h.group for h in search(s, who, "spread.example").hits) == ["africa", "asia"]
        assert [h.group for h in search(s, who, "spread.example", group="asia").hits] == ["asia"]
        # cert-b is not in asia: not found, as for a group that does not exist
        b = principal_of(sm, world, "cert-b")
        with pytest.raises(NotFound) as foreign:
            search(s, b, "spread.example", group="asia")
        with pytest.raises(NotFound) as unknown:
            search(s, b, "spread.example", group="nowhere")
    assert str(foreign.value).replace("asia", "X") == str(unknown.value).replace("nowhere", "X")


def test_outsider_finds_nothing(client, world, sm):
    store(client, world, [sco("domain-name", "outside.example", tlp="clear")])
    with sm() as s, s.begin():
        assert search(s, principal_of(sm, world, "outsider"), "outside.example").hits == []


def test_named_collection_is_searched_only_by_its_recipients(client, world, sm):
    store(client, world, [sco("domain-name", "named.example", tlp="red")], alias="a-to-b")
    with sm() as s, s.begin():
        assert len(search(s, principal_of(sm, world, "cert-b"), "named.example").hits) == 1
        assert search(s, principal_of(sm, world, "cert-c"), "named.example").hits == []


@pytest.mark.parametrize("text", ["", "   ", "not a value", "x" * 3000, "12345"])
def test_text_that_is_no_value_is_a_clear_error(text, sm, world):
    with sm() as s, s.begin(), pytest.raises(QueryError, match=r"IP address|over|Type a value"):
        search(s, principal_of(sm, world, "cert-a"), text)
