"""The members form without script: a refused change answers with the members page, its reason and the
stored values; your own row offers nothing that would be refused."""

from __future__ import annotations

import re

from tests.console.conftest import csrf_of


def _selected(html: str, select_id: str) -> str:
    select = html.split(f'id="{select_id}"')[1].split("</select>")[0]
    found = re.search(r"<option(?: value=\"([^\"]+)\")? selected>([^<]+)</option>", select)
    assert found, select
    return found.group(1) or found.group(2)


def test_a_refused_change_shows_the_reason_and_the_stored_values(as_person):
    c = as_person("cert-a")
    page = c.get("/console/groups/africa/members").text
    stored = _selected(page, "role-cert-b")
    r = c.post("/console/groups/africa/members/cert-b", data={"csrf": csrf_of(page), "role": "boss"})
    assert r.status_code == 422
    assert '<p class="error" role="alert">' in r.text and "&#39;boss&#39; is not a role" in r.text
    assert _selected(r.text, "role-cert-b") == stored
    assert 'role="status"' not in r.text


def test_a_saved_change_is_confirmed(as_person):
    c = as_person("cert-a")
    csrf = csrf_of(c.get("/console/groups/africa/members").text)
    r = c.post("/console/groups/africa/members/cert-c", data={"csrf": csrf, "role": "contributor"})
    assert r.status_code == 200 and '<p class="notice" role="status">The member was changed.</p>' in r.text
    assert _selected(r.text, "role-cert-c") == "contributor"


def test_your_own_row_has_no_form_and_a_forged_one_is_refused_on_the_page(as_person):
    c = as_person("cert-a")
    page = c.get("/console/groups/africa/members").text
    own = page.split('id="member-cert-a"')[1].split("</tr>")[0]
    assert "<form" not in own and "<button" not in own and "its own organisation" in own
    r = c.post("/console/groups/africa/members/cert-a", data={"csrf": csrf_of(page), "role": "reader"})
    assert r.status_code == 403 and "its own organisation&#39;s membership" in r.text
    remove = c.post(
        "/console/groups/africa/members/cert-a/remove", data={"csrf": csrf_of(page), "confirm": "yes"}
    )
    assert remove.status_code == 403
    assert 'id="member-cert-a"' in c.get("/console/groups/africa/members").text


def test_nothing_is_asked_about_what_would_be_refused(as_person):
    c = as_person("cert-a")
    csrf = csrf_of(c.get("/console/groups/africa/members").text)
    own = c.post("/console/groups/africa/members/cert-a/remove", data={"csrf": csrf})
    assert own.status_code == 403 and 'name="confirm"' not in own.text
    absent = c.post("/console/groups/africa/members/nobody/remove", data={"csrf": csrf})
    assert absent.status_code == 404 and 'name="confirm"' not in absent.text
    inv = c.post("/console/groups/africa/invitations/0123456789abcdef/revoke", data={"csrf": csrf})
    assert inv.status_code == 404 and 'name="confirm"' not in inv.text
    coll = c.post("/console/groups/africa/collections/no-such/archive", data={"csrf": csrf})
    assert coll.status_code == 404 and 'name="confirm"' not in coll.text
    key = c.post("/console/keys/0123456789abcdef/revoke", data={"csrf": csrf})
    assert key.status_code == 404 and 'name="confirm"' not in key.text
    # a reader is refused before any question too
    reader = as_person("cert-c")
    csrf = csrf_of(reader.get("/console/keys").text)
    r = reader.post("/console/groups/africa/members/cert-b/remove", data={"csrf": csrf})
    assert r.status_code == 403 and 'name="confirm"' not in r.text
