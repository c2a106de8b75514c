"""The console marks revoked and expired objects: device downloads leave them out."""

from __future__ import annotations

from tests.lookup.helpers import pattern_indicator
from tests.taxii_helpers import store


def test_console_shows_revoked_and_expired_badges_on_search_and_object_pages(client, world, as_person):
    past = "2024-06-01T00:00:00Z"
    revoked = pattern_indicator("[ipv4-addr:value = '203.0.113.31']", tlp="clear", revoked=True)
    expired = pattern_indicator("[ipv4-addr:value = '203.0.113.32']", tlp="clear", valid_until=past)
    live = pattern_indicator("[ipv4-addr:value = '203.0.113.33']", tlp="clear")
    store(client, world, [revoked, expired, live])
    c = as_person("cert-c")
    for obj, badge in ((revoked, "REVOKED"), (expired, "EXPIRED"), (live, None)):
        page = c.get(f"/console/objects/{obj['id']}").text
        found = c.get("/console/search", params={"q": obj["pattern"].split("'")[1]}).text
        for html in (page, found):
            if badge:
                assert f'class="badge {badge.lower()}">{badge}</span>' in html
            else:
                assert 'class="badge' not in html


def test_console_names_the_known_benign_list_on_search_and_object_pages(client, world, as_person):
    resolver = pattern_indicator("[ipv4-addr:value = '8.8.8.8']", tlp="clear")
    store(client, world, [resolver])
    c = as_person("cert-c")
    page = c.get(f"/console/objects/{resolver['id']}").text
    assert "On the known-benign list 'MISP warninglist public-dns-v4'" in page
    found = c.get("/console/search", params={"q": "8.8.8.8"}).text
    assert "KNOWN-BENIGN: MISP warninglist public-dns-v4" in found
