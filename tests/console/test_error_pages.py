"""Error pages under /console/ keep a signed-in person's navigation, and give away nothing more."""

from __future__ import annotations

import orjson

from tests.factories import indicator

ABSENT = "indicator--00000000-0000-4000-8000-000000000000"
NAV = '<nav aria-label="Main">'


def test_a_signed_in_persons_404_has_the_header_navigation_and_a_link_back(as_person):
    c = as_person("vendor")
    for path in ("/console/no-such-page", f"/console/objects/{ABSENT}", "/console/groups/nowhere/"):
        page = c.get(path)
        assert page.status_code == 404, path
        assert page.headers["content-type"].startswith("text/html")
        assert NAV in page.text and "person@vendor" in page.text and "Sign out" in page.text, path
        assert '<a href="/console/">Back to the console</a>' in page.text
        assert 'aria-label="Group' not in page.text  # no group's navigation: the page names none


def test_a_403_page_has_the_navigation_too(as_person):
    c = as_person("cert-b")  # a contributor of africa, not its coordinator
    page = c.get("/console/groups/africa/audit")
    assert page.status_code == 403
    assert NAV in page.text and "person@cert-b" in page.text
    assert 'aria-label="Group' not in page.text


def test_an_error_page_without_a_session_has_no_navigation(client, people):
    page = client.get("/console/no-such-page")
    assert page.status_code == 404 and NAV not in page.text and "Sign out" not in page.text
    assert '<a href="/console/sign-in">Sign in</a>' in page.text


def test_a_hidden_objects_404_is_byte_identical_to_an_absent_ones(client, people, as_person):
    amber = indicator(77, tlp="amber")
    r = client.post(people.objects_url(), content=orjson.dumps({"objects": [amber]}),
                    headers=people.post_headers("cert-b"))  # fmt: skip
    assert r.status_code == 202
    c = as_person("vendor")  # cleared GREEN in africa
    hidden = c.get(f"/console/objects/{amber['id']}")
    absent = c.get(f"/console/objects/{ABSENT}")
    assert hidden.status_code == absent.status_code == 404 and NAV in hidden.text
    assert hidden.content.replace(amber["id"].encode(), b"X") == absent.content.replace(ABSENT.encode(), b"X")
    assert hidden.headers.get("content-length") == absent.headers.get("content-length")
