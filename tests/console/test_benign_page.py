"""The console's known-benign page: a coordinator keeps the group's own list and its device-list settings."""

from __future__ import annotations

import orjson

from tests.console.conftest import csrf_of
from tests.lookup.helpers import sco

PAGE = "/console/groups/africa/benign"


def _ips(client, world) -> list[str]:
    r = client.get(
        "/console/downloads/africa/blocklist.txt?kind=ip",
        headers={"Authorization": f"Bearer {world.keys['vendor']}"},
    )
    assert r.status_code == 200, r.text
    return sorted(r.text.splitlines())


def test_a_coordinator_adds_and_removes_values_from_the_console(as_person, people):
    c = as_person("cert-a")
    page = c.get(PAGE)
    assert page.status_code == 200 and "africa own list" in page.text
    csrf = csrf_of(page.text)
    posted = c.post(
        people.objects_url(),
        content=orjson.dumps({"objects": [sco("ipv4-addr", "203.0.113.44", tlp="clear")]}),
        headers=people.post_headers("cert-a"),
    )
    assert posted.status_code == 202 and posted.json()["success_count"] == 1
    assert _ips(c, people) == ["203.0.113.44"]
    r = c.post(
        PAGE, data={"csrf": csrf, "value": "203.0.113.44", "note": "our resolver"}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    shown = c.get(r.headers["location"])
    assert "203.0.113.44" in shown.text and "our resolver" in shown.text and "was added" in shown.text
    assert _ips(c, people) == []
    bad = c.post(PAGE, data={"csrf": csrf, "value": "co.uk"})
    assert bad.status_code == 422 and "public suffix" in bad.text
    ask = c.post(f"{PAGE}/remove", data={"csrf": csrf, "value": "203.0.113.44"}, follow_redirects=False)
    assert ask.status_code == 200 and 'name="confirm" value="yes"' in ask.text  # asked first, nothing done
    assert 'name="value" value="203.0.113.44"' in ask.text and _ips(c, people) == []
    r = c.post(
        f"{PAGE}/remove",
        data={"csrf": csrf, "value": "203.0.113.44", "confirm": "yes"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "203.0.113.44" not in c.get(PAGE).text.split("<h2>")[0].split("<tbody>")[1]
    assert _ips(c, people) == ["203.0.113.44"]


def test_the_console_sets_the_groups_device_list_settings(as_person, people):
    c = as_person("cert-a")
    csrf = csrf_of(c.get(PAGE).text)
    data = {"csrf": csrf, "min_ipv4_prefix": "16", "min_ipv6_prefix": "", "benign_mode": "refuse"}
    r = c.post(f"{PAGE}/settings", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = c.get(PAGE).text
    assert 'value="16"' in page and 'value="refuse" selected' in page
    for bad in ({"min_ipv4_prefix": "8"}, {"min_ipv4_prefix": "x"}, {"benign_mode": "block"}):
        r = c.post(f"{PAGE}/settings", data={**data, **bad})
        assert r.status_code == 422, (bad, r.text)


def test_a_form_without_its_token_changes_nothing(as_person):
    c = as_person("cert-a")
    r = c.post(PAGE, data={"value": "203.0.113.45"})
    assert r.status_code == 403
    r = c.post(f"{PAGE}/settings", data={"csrf": "forged", "benign_mode": "refuse"})
    assert r.status_code == 403
    assert "203.0.113.45" not in c.get(PAGE).text and 'value="refuse" selected' not in c.get(PAGE).text


def test_only_the_groups_coordinators_have_the_page(as_person):
    absent_text = None
    for org in ("cert-b", "cert-c", "vendor", "outsider"):
        c = as_person(org)
        absent = c.get("/console/groups/no-such-group/benign")
        absent_text = absent.text.replace("no-such-group", "X")
        r = c.get(PAGE)
        assert r.status_code == absent.status_code == 404, (org, r.text)
        assert r.text.replace("africa", "X") == absent_text, org
        csrf = csrf_of(c.get("/console/keys").text)
        for path, data in ((PAGE, {"value": "203.0.113.46"}), (f"{PAGE}/remove", {"value": "203.0.113.46"}),
                           (f"{PAGE}/settings", {"benign_mode": "refuse"})):  # fmt: skip
            r = c.post(path, data={"csrf": csrf, **data})
            assert r.status_code == 404, (org, path, r.text)
