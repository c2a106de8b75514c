"""The console's Inside page: a member declares its constituency, a coordinator confirms it, and the
page lists what it may read inside it, never more."""

from __future__ import annotations

import re

from tests.console.conftest import csrf_of
from tests.watch_helpers import admin, ip_indicator, post

PAGE = "/console/inside"


def test_a_member_declares_in_the_console_and_sees_only_what_it_may_read(as_person, people):
    c = as_person("vendor")  # a reader of africa cleared for GREEN
    page = c.get(PAGE)
    assert page.status_code == 200 and "no confirmed entry" in page.text
    r = c.post(
        PAGE + "/constituency",
        data={"csrf": csrf_of(page.text), "networks": "41.90.0.0/16\n", "asns": "", "domains": ".ke"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    shown = c.get(r.headers["location"])
    assert "waiting for confirmation" in shown.text and "41.90.0.0/16" in shown.text
    post(c, people, "cert-b", [ip_indicator("41.90.1.1"), ip_indicator("41.90.6.6", tlp="amber")])
    assert "41.90.1.1" not in c.get(PAGE).text  # not confirmed yet
    assert admin(c, people, "cert-a", "POST", "/organisations/vendor/constituency/confirm").status_code == 200
    text = c.get(PAGE).text
    assert "41.90.1.1" in text and re.search(r"<td>network <code[^>]*>41\.90\.0\.0/16</code>", text)
    assert "41.90.6.6" not in text  # AMBER, above the vendor's clearance
    # in the browser's language: the page's words and the rule's kind, never the values
    fr = c.get(PAGE, headers={"Accept-Language": "fr"}).text
    assert "Dans votre périmètre" in fr and "Inside your constituency" not in fr
    assert re.search(r"<td>réseau <code[^>]*>41\.90\.0\.0/16</code>", fr) and "41.90.1.1" in fr
    assert "confirmé" in fr and "Networks (CIDR)" not in fr


def test_the_declaration_form_needs_its_token(as_person):
    c = as_person("vendor")
    r = c.post(PAGE + "/constituency", data={"networks": "41.90.0.0/16"}, follow_redirects=False)
    assert r.status_code == 403
    assert "41.90.0.0/16" not in c.get(PAGE).text


def test_a_bad_entry_is_shown_as_an_error_page(as_person):
    c = as_person("vendor")
    page = c.get(PAGE)
    r = c.post(PAGE + "/constituency", data={"csrf": csrf_of(page.text), "networks": "0.0.0.0/0"})
    assert r.status_code == 422 and "0.0.0.0/0" in r.text
