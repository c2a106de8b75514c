"""Fixtures of the console tests: people with console passwords in the test world, and a signed-in client."""

from __future__ import annotations

import re
from typing import Any

import pytest
from argon2 import PasswordHasher

from hub.console import accounts
from hub.db import begin_write
from hub.trust.models import Account, Organisation

PASSWORD = "correct horse battery"
PEOPLE = ("cert-a", "cert-b", "cert-c", "vendor", "cert-g", "outsider")


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at production cost would dominate the suite; the scheme is unchanged."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def give_passwords(sm: Any, orgs: tuple[str, ...] = PEOPLE, password: str = PASSWORD) -> None:
    """A `person` account with a console password in each organisation."""
    with sm() as session, session.begin():
        begin_write(session)
        for slug in orgs:
            org = session.query(Organisation).filter_by(slug=slug).one()
            acct = Account(organisation_id=org.id, name="person", is_admin=False)
            session.add(acct)
            session.flush()
            accounts.set_password(session, account=acct, password=password)


@pytest.fixture
def people(world: Any, sm: Any) -> Any:
    """The test world, with person@<org> able to sign in to the console with PASSWORD."""
    give_passwords(sm)
    return world


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: Any, user: str, password: str = PASSWORD, code: str = "") -> Any:
    """Sign a TestClient in; returns the POST's response (303 on success)."""
    page = client.get("/console/sign-in")
    return client.post(
        "/console/sign-in",
        data={"csrf": csrf_of(page.text), "user": user, "password": password, "code": code},
        follow_redirects=False,
    )


@pytest.fixture
def as_person(client: Any, people: Any) -> Any:
    """Sign the client in as person@<org>; returns the client."""

    def login(org: str) -> Any:
        client.cookies.clear()
        r = sign_in(client, f"person@{org}")
        assert r.status_code == 303, r.text
        return client

    return login
