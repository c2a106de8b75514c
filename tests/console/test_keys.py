"""The console's API keys page: scopes on issue, rotated keys shown as rotated until their grace ends."""

from __future__ import annotations

import re

from tests.console.conftest import csrf_of
from tests.factories import TAXII


def test_a_person_issues_a_download_key_for_a_device(as_person):
    c = as_person("cert-b")
    csrf = csrf_of(c.get("/console/keys").text)
    form = {"csrf": csrf, "label": "fw", "scopes_given": "1", "scope_download": "1"}
    r = c.post("/console/keys", data=form)
    assert r.status_code == 201
    secret = re.search(r'id="secret">([^<]+)<', r.text).group(1)
    c.cookies.clear()
    h = {"Authorization": f"Bearer {secret}"}
    assert c.get("/console/downloads/africa/blocklist.txt?kind=ip", headers=h).status_code == 200
    assert c.get("/taxii2/", headers={**h, "Accept": TAXII}).status_code == 403
    assert c.get("/admin/v1/me", headers=h).status_code == 403


def test_a_form_with_no_scope_ticked_is_refused(as_person):
    c = as_person("cert-b")
    csrf = csrf_of(c.get("/console/keys").text)
    r = c.post("/console/keys", data={"csrf": csrf, "label": "none", "scopes_given": "1"})
    assert r.status_code == 422


def test_a_rotated_key_says_until_when_it_works(as_person, world):
    c = as_person("cert-b")
    key_id = world.keys["cert-b"].split("_")[1]
    csrf = csrf_of(c.get("/console/keys").text)
    assert c.post(f"/console/keys/{key_id}/rotate", data={"csrf": csrf}).status_code == 200
    page = c.get("/console/keys").text
    row = page[page.index(f'id="key-{key_id}"') :].split("</tr>")[0]
    assert "rotated, works until" in row and "Revoke" in row and "Rotate</button>" not in row
