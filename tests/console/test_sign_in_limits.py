"""Console sign-in: strangers cannot lock an owner out, and every failure answers alike (observation 12)."""

from __future__ import annotations

import time
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient

from hub.console import accounts
from hub.db import begin_write
from hub.trust.models import Account, Organisation
from tests.console.conftest import PASSWORD, csrf_of, sign_in
from tests.console.test_auth import freeze_totp

WRONG = "wrong wrong wrong"


@pytest.fixture
def browsers(client: Any, app: Any, people: Any) -> Any:
    """New browsers (TestClients with their own cookies) on the one app, which `client` started."""

    def new() -> TestClient:
        return TestClient(app, base_url="http://hub.test", raise_server_exceptions=False)

    return new


def turn_on_totp(sm: Any, org: str = "cert-a") -> str:
    """Two-step verification for person@<org>; the enrolment code's step is used up, as in the console."""
    return enrol_totp(sm, org)[0]


def enrol_totp(sm: Any, org: str = "cert-a") -> tuple[str, str]:
    """`turn_on_totp`, and the code it used."""
    with sm() as session, session.begin():
        begin_write(session)
        o = session.query(Organisation).filter_by(slug=org).one()
        acct = session.query(Account).filter_by(organisation_id=o.id, name="person").one()
        secret, _uri = accounts.begin_totp(session, account=acct, org=o)
        code = pyotp.TOTP(secret).now()
        assert accounts.confirm_totp(session, account=acct, code=code)
    return secret, code


def answer(r: Any) -> tuple[int, str]:
    """Status and page, without the form's per-browser token."""
    return r.status_code, r.text.replace(csrf_of(r.text), "CSRF")


def test_strangers_failures_do_not_lock_out_a_browser_that_signed_in_before(browsers):
    owner, stranger = browsers(), browsers()
    assert sign_in(owner, "person@cert-a").status_code == 303
    owner.cookies.delete("hub_console")  # signed out; the browser stays known
    for _ in range(5):
        assert sign_in(stranger, "person@cert-a", password=WRONG).status_code == 401
    assert sign_in(stranger, "person@cert-a", password=WRONG).status_code == 429
    assert sign_in(stranger, "person@cert-a").status_code == 429  # a stranger stays locked out
    assert sign_in(browsers(), "person@cert-a").status_code == 429  # and so does any new browser
    assert sign_in(owner, "person@cert-a").status_code == 303  # the owner's browser is not


def test_a_known_browser_is_limited_on_its_own(browsers):
    owner = browsers()
    assert sign_in(owner, "person@cert-a").status_code == 303
    owner.cookies.delete("hub_console")
    for _ in range(5):
        assert sign_in(owner, "person@cert-a", password=WRONG).status_code == 401
    assert sign_in(owner, "person@cert-a").status_code == 429
    # its cookie names no one: it is no key to another account
    assert sign_in(owner, "person@cert-b").status_code == 303


def test_with_totp_a_right_password_and_code_pass_a_strangers_lock(browsers, sm):
    secret = turn_on_totp(sm)
    stranger = browsers()
    for _ in range(5):
        assert sign_in(stranger, "person@cert-a", password=WRONG).status_code == 401
    owner = browsers()  # a new browser: a stranger to the hub too
    with freeze_totp(30):
        code = pyotp.TOTP(secret).at(time.time() + 30)
        assert sign_in(owner, "person@cert-a").status_code == 429  # the password alone does not
        assert sign_in(owner, "person@cert-a", code="000000").status_code == 429
        assert sign_in(stranger, "person@cert-a", password=WRONG, code=code).status_code == 429
        assert sign_in(owner, "person@cert-a", code=code).status_code == 303


def test_a_wrong_password_and_a_wrong_code_answer_alike(browsers, sm):
    _secret, used = enrol_totp(sm)
    c = browsers()
    wrong_password = answer(sign_in(c, "person@cert-a", password=WRONG))
    wrong_password_with_code = answer(sign_in(c, "person@cert-a", password=WRONG, code="123456"))
    wrong_code = answer(sign_in(c, "person@cert-a", code="123456"))
    no_code = answer(sign_in(c, "person@cert-a"))
    assert wrong_password[0] == 401
    assert wrong_password == wrong_password_with_code == wrong_code == no_code
    # a code already used (here: the one that turned two-step verification on) is a wrong code too; the
    # very code, not the clock's current one, which is a new and valid code once a 30 s step has passed
    replayed = answer(sign_in(browsers(), "person@cert-a", code=used))
    assert replayed == wrong_password
    assert "is wrong" in wrong_password[1] and "asks for a code" not in wrong_password[1]


def test_the_device_cookie_is_signed_httponly_strict_and_names_no_one(browsers):
    c = browsers()
    r = sign_in(c, "person@cert-a")
    header = next(h for h in r.headers.get_list("set-cookie") if h.startswith("hub_console_device="))
    assert "HttpOnly" in header and "SameSite=strict" in header and "Path=/console/" in header
    value = c.cookies["hub_console_device"]
    assert "cert-a" not in value and "person" not in value
    forged = browsers()
    forged.cookies.set("hub_console_device", value[:-2] + "xx", domain="hub.test", path="/console/")
    for _ in range(5):
        sign_in(browsers(), "person@cert-a", password=WRONG)
    assert sign_in(forged, "person@cert-a").status_code == 429  # a forged cookie is a stranger's


def test_every_failure_costs_the_same_work(browsers, sm, monkeypatch):
    """Same timing class: one argon2 verification and one audit event, whatever part was wrong."""
    from sqlalchemy import func, select

    from hub.store.models import AuditEvent

    secret = turn_on_totp(sm)
    with sm() as session:
        from hub.console.models import ConsoleCredential

        q = select(ConsoleCredential.totp_last_step).where(ConsoleCredential.totp_last_step.is_not(None))
        used = session.scalars(q).one()
    replay = pyotp.TOTP(secret).generate_otp(used)  # the enrolment code: right, but used already
    verifies: list[int] = []
    real = accounts._verify
    monkeypatch.setattr(accounts, "_verify", lambda h, p: verifies.append(1) or real(h, p))

    def failed_events() -> int:
        with sm() as session:
            q = select(func.count()).where(AuditEvent.action == "console.sign-in-failed")
            return int(session.scalar(q) or 0)

    for user, password, code in [
        ("nobody@cert-a", WRONG, ""),
        ("person@cert-a", WRONG, ""),
        ("person@cert-a", WRONG, "123456"),
        ("person@cert-a", PASSWORD, "123456"),
        ("person@cert-a", PASSWORD, replay),
    ]:
        before_verify, before_events = len(verifies), failed_events()
        assert sign_in(browsers(), user, password=password, code=code).status_code == 401
        assert (len(verifies) - before_verify, failed_events() - before_events) == (1, 1), (user, code)
