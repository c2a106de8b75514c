"""The console's Downloads page gives the device formats' URLs (issue 24), and they answer a download key."""

from __future__ import annotations


def test_downloads_page_lists_the_device_formats_and_their_urls_work(as_person, client, world):
    c = as_person("vendor")
    page = c.get("/console/downloads").text
    paths = ["misp-feed", "suricata.rules", "zeek.intel", "rpz.zone"]
    for path in paths:
        assert f"/console/downloads/africa/{path}</code>" in page
    c.cookies.clear()
    key = {"Authorization": f"Bearer {world.keys['vendor']}"}
    for path in ["misp-feed/manifest.json", "suricata.rules", "zeek.intel", "rpz.zone"]:
        assert c.get(f"/console/downloads/africa/{path}", headers=key).status_code == 200
