"""Members' pages over hub.lookup: search, the object page and downloads."""

from __future__ import annotations

import orjson
import pytest

from tests.factories import indicator


@pytest.fixture
def shared(people, client):
    """Indicators at CLEAR, GREEN and AMBER in africa/indicators, published by cert-b."""
    objs = [indicator(i, tlp=t) for i, t in enumerate(["clear", "green", "amber"])]
    r = client.post(
        people.objects_url("africa", "indicators"),
        content=orjson.dumps({"objects": objs}),
        headers=people.post_headers("cert-b"),
    )
    assert r.status_code == 202
    return objs


def test_search_finds_a_value_in_a_pattern_and_refangs_it(as_person, shared):
    c = as_person("vendor")
    page = c.get("/console/search", params={"q": "10[.]0.0.1"})
    assert page.status_code == 200
    assert "1 result for <code>10.0.0.1</code>" in page.text and shared[1]["id"] in page.text
    assert "in a pattern" in page.text and "TLP:GREEN" in page.text


def test_search_of_no_value_says_what_it_takes(as_person):
    c = as_person("vendor")
    page = c.get("/console/search", params={"q": "!!"})
    assert page.status_code == 400 and 'role="alert"' in page.text


def test_the_object_page_shows_json_tlp_publisher_versions_and_audience(as_person, shared):
    c = as_person("cert-c")
    page = c.get(f"/console/objects/{shared[2]['id']}")
    assert page.status_code == 200
    text = page.text
    assert "TLP:AMBER" in text and "CERT-B" in text and "&#34;pattern&#34;" in text
    # a reader sees its own line and the publisher's; the group's members are its coordinators' to know
    assert "Who may see it, and why" in text and "VENDOR" not in text
    assert "VENDOR" in as_person("cert-a").get(f"/console/objects/{shared[2]['id']}").text


def test_an_object_above_clearance_is_the_absent_404(as_person, shared):
    c = as_person("vendor")
    hidden = c.get(f"/console/objects/{shared[2]['id']}")
    absent = c.get("/console/objects/indicator--00000000-0000-4000-8000-000000000000")
    assert hidden.status_code == absent.status_code == 404
    assert hidden.text.replace(shared[2]["id"], "X") == absent.text.replace(
        "indicator--00000000-0000-4000-8000-000000000000", "X"
    )


def test_downloads_in_the_browser_and_urls_for_devices(as_person, shared):
    c = as_person("vendor")
    page = c.get("/console/downloads")
    assert "/console/downloads/africa/blocklist.txt?kind=ip" in page.text
    # the test world's addresses are RFC 1918 ones, on a known-benign list: asked for with include_flagged
    got = c.get("/console/download/africa/blocklist.txt", params={"kind": "ip", "include_flagged": "true"})
    assert got.status_code == 200 and got.text.split() == ["10.0.0.0", "10.0.0.1"]
    assert c.get("/console/download/africa/blocklist.txt", params={"kind": "ip"}).text == ""
    csv = c.get("/console/download/africa/blocklist.csv")
    assert csv.headers["content-type"].startswith("text/csv") and "10.0.0.2" not in csv.text
    bundle = c.get("/console/download/africa/bundle.json").json()
    assert {o["id"] for o in bundle["objects"]} == {shared[0]["id"], shared[1]["id"]}
    bad = c.get("/console/download/africa/blocklist.txt")
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("text/html")
    assert c.get("/console/download/asia/blocklist.csv").status_code == 404
    assert c.get("/console/download/africa/passwords.txt").status_code == 404
