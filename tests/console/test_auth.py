"""Console sign-in: passwords, TOTP, throttling, CSRF, cookies and server-side sessions."""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from unittest import mock

import pyotp
from sqlalchemy import select, update

from hub.console import accounts
from hub.console.models import ConsoleSession
from tests.console.conftest import PASSWORD, csrf_of, sign_in


@contextmanager
def freeze_totp(ahead: int):
    """The console's clock `ahead` seconds in the future (TOTP steps are 30 s)."""
    real = accounts._now
    with mock.patch.object(accounts, "_now", lambda: real() + timedelta(seconds=ahead)):
        yield


def test_sign_in_opens_a_session_and_sign_out_ends_it(client, people):
    assert client.get("/console/", follow_redirects=False).headers["location"].startswith("/console/sign-in")
    r = sign_in(client, "person@cert-a")
    assert r.status_code == 303
    home = client.get("/console/")
    assert home.status_code == 200 and "person@cert-a" in home.text
    client.post("/console/sign-out", data={"csrf": csrf_of(home.text)}, follow_redirects=False)
    assert client.get("/console/", follow_redirects=False).status_code == 303


def test_the_session_cookie_is_signed_httponly_and_strict(client, people):
    r = sign_in(client, "person@cert-a")
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console/" in cookie
    assert "Secure" not in cookie  # plain http in tests; https public URLs get Secure


def test_only_a_digest_of_the_session_token_is_stored(client, people, sm):
    r = sign_in(client, "person@cert-a")
    value = r.cookies.get("hub_console") or client.cookies.get("hub_console")
    token = value.rpartition(".")[0]
    with sm() as session:
        digests = list(session.scalars(select(ConsoleSession.token_digest)))
    assert accounts.digest(token) in digests and token not in digests


def test_a_forged_or_altered_cookie_is_no_session(client, people):
    sign_in(client, "person@cert-a")
    value = client.cookies.get("hub_console")
    client.cookies.clear()
    token, _, mac = value.rpartition(".")
    for forged in (token + ".AAAA", token[:-2] + "xy." + mac, "x"):
        client.cookies.set("hub_console", forged, domain="hub.test", path="/console/")
        assert client.get("/console/", follow_redirects=False).status_code == 303
        client.cookies.clear()


def test_a_wrong_password_fails_and_is_throttled(client, people):
    for _ in range(5):
        r = sign_in(client, "person@cert-a", password="wrong wrong wrong")
        assert r.status_code == 401
        assert "wrong" in r.text and "person@cert-a" in r.text
    r = sign_in(client, "person@cert-a", password="wrong wrong wrong")
    assert r.status_code == 429 and "Too many failed sign-ins" in r.text
    # throttled means throttled: the right password waits too
    assert sign_in(client, "person@cert-a").status_code == 429
    # another account from the same address is not locked out by it
    assert sign_in(client, "person@cert-b").status_code == 303


def test_an_unknown_account_fails_as_a_wrong_password_does(client, people):
    unknown = sign_in(client, "nobody@cert-a", password="wrong wrong wrong")
    wrong = sign_in(client, "person@cert-a", password="wrong wrong wrong")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.text.replace("nobody", "person") == wrong.text.replace("nobody", "person").replace(
        csrf_of(wrong.text), csrf_of(unknown.text)
    )


def test_sign_in_without_its_form_token_is_refused(client, people):
    client.get("/console/sign-in")
    r = client.post(
        "/console/sign-in", data={"user": "person@cert-a", "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 403 and "security token" in r.text
    assert r.headers["content-type"].startswith("text/html")


def test_a_form_without_its_csrf_token_is_refused(as_person, sm):
    c = as_person("cert-a")
    r = c.post("/console/groups/africa/members/cert-c", data={"clearance": "green"})
    assert r.status_code == 403 and "security token" in r.text
    r = c.post("/console/groups/africa/members/cert-c", data={"clearance": "green", "csrf": "forged"})
    assert r.status_code == 403
    page = c.get("/console/groups/africa/members")
    assert "TLP:AMBER+STRICT</option>" in page.text  # nothing changed


def test_a_form_from_another_origin_is_refused(as_person):
    c = as_person("cert-a")
    csrf = csrf_of(c.get("/console/keys").text)
    r = c.post("/console/keys", data={"csrf": csrf, "label": "x"}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "another site" in r.text
    ok = c.post("/console/keys", data={"csrf": csrf, "label": "x"}, headers={"Origin": "http://hub.test"})
    assert ok.status_code == 201


def test_a_csrf_token_of_another_session_is_refused(client, people):
    sign_in(client, "person@cert-a")
    other = csrf_of(client.get("/console/keys").text)
    client.cookies.clear()
    sign_in(client, "person@cert-a")
    assert client.post("/console/keys", data={"csrf": other}).status_code == 403


def test_totp_enrolment_then_sign_in_needs_the_code(as_person, client):
    c = as_person("cert-a")
    csrf = csrf_of(c.get("/console/account").text)
    page = c.post("/console/account/totp", data={"csrf": csrf})
    assert page.status_code == 200 and "otpauth://totp/" in page.text
    secret = page.text.split('id="totp-secret">')[1].split("<")[0]
    assert c.post("/console/account/totp/confirm", data={"csrf": csrf, "code": "000000"}).status_code == 422
    code = pyotp.TOTP(secret).now()
    r = c.post("/console/account/totp/confirm", data={"csrf": csrf, "code": code})
    assert r.status_code == 200 and "Two-step verification is on" in r.text
    c.cookies.clear()
    assert sign_in(c, "person@cert-a").status_code == 401
    assert sign_in(c, "person@cert-a", code="123456").status_code == 401
    # the code that turned it on was just used: the same code (not the clock's current one, a new code
    # once a 30 s step has passed) does not open a session
    replay = sign_in(c, "person@cert-a", code=code)
    assert replay.status_code == 401
    with freeze_totp(30):
        assert sign_in(c, "person@cert-a", code=pyotp.TOTP(secret).at(time.time() + 30)).status_code == 303
        c.cookies.clear()
        again = sign_in(c, "person@cert-a", code=pyotp.TOTP(secret).at(time.time() + 30))
        assert again.status_code == 401


def test_sign_out_everywhere_ends_every_session(client, people, app):
    from fastapi.testclient import TestClient

    other = TestClient(app, base_url="http://hub.test")
    sign_in(other, "person@cert-a")
    sign_in(client, "person@cert-a")
    assert other.get("/console/", follow_redirects=False).status_code == 200
    csrf = csrf_of(client.get("/console/account").text)
    client.post("/console/sign-out-everywhere", data={"csrf": csrf}, follow_redirects=False)
    assert other.get("/console/", follow_redirects=False).status_code == 303
    assert client.get("/console/", follow_redirects=False).status_code == 303


def test_an_idle_or_expired_session_ends(as_person, sm):
    c = as_person("cert-a")
    long_ago = datetime.now(UTC) - accounts.SESSION_IDLE - timedelta(minutes=1)
    with sm() as session, session.begin():
        session.execute(update(ConsoleSession).values(last_seen_at=long_ago))
    assert c.get("/console/", follow_redirects=False).status_code == 303


def test_changing_the_password_signs_other_browsers_out(as_person, app):
    from fastapi.testclient import TestClient

    other = TestClient(app, base_url="http://hub.test")
    sign_in(other, "person@cert-a")
    c = as_person("cert-a")
    csrf = csrf_of(c.get("/console/account").text)
    new = "another long password"
    r = c.post(
        "/console/account/password",
        data={"csrf": csrf, "password": PASSWORD, "new_password": new, "confirm": new},
    )
    assert r.status_code == 200 and "password was changed" in r.text
    assert other.get("/console/", follow_redirects=False).status_code == 303
    c.cookies.clear()
    assert sign_in(c, "person@cert-a", password=new).status_code == 303


def test_a_short_password_is_refused_with_the_rule(as_person):
    c = as_person("cert-a")
    csrf = csrf_of(c.get("/console/account").text)
    r = c.post(
        "/console/account/password",
        data={"csrf": csrf, "password": PASSWORD, "new_password": "short", "confirm": "short"},
    )
    assert r.status_code == 422 and "at least 12 characters" in r.text


def test_the_next_page_after_sign_in_stays_in_the_console(client, people):
    page = client.get("/console/sign-in?next=https://evil.example/")
    r = client.post(
        "/console/sign-in",
        data={"csrf": csrf_of(page.text), "user": "person@cert-a", "password": PASSWORD,
              "next": "//evil.example/"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.headers["location"] == "/console/"
