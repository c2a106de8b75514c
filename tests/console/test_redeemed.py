"""The page a new CIRT lands on after redeeming an invitation (observation 15)."""

from __future__ import annotations

import re

from tests.console.conftest import csrf_of


def test_redeemed_page_shows_the_key_once_and_no_repr_notice_or_cookie_holds_it(as_person, client):
    c = as_person("cert-a")
    made = c.post(
        "/console/groups/africa/invitations",
        data={"csrf": csrf_of(c.get("/console/groups/africa/invitations").text), "organisation": "cert-rd",
              "name": "CERT RD", "role": "reader", "clearance": "green", "expires_in_hours": "24"},
    )  # fmt: skip
    token = made.text.split('id="secret">')[1].split("<")[0]
    c.cookies.clear()
    password = "a brand new password"
    done = c.post(
        "/console/redeem",
        data={"csrf": csrf_of(c.get("/console/redeem").text), "token": token, "account": "lead",
              "password": password, "confirm": password},
    )  # fmt: skip
    assert done.status_code == 200
    key = re.search(r'id="secret"[^>]*>(hub_[^<]+)<', done.text)[1]
    secret = key.split("_", 2)[2]
    assert done.text.count(secret) == 1  # once, in its box
    assert "Redemption(" not in done.text and "key=" not in done.text
    assert 'role="status"' not in done.text  # no notice banner on this page at all
    assert all(secret not in v for v in done.cookies.values())
    assert all(secret not in v for v in c.cookies.values())
    assert all(secret not in h for h in done.headers.values())
    assert done.headers["cache-control"] == "no-store"
