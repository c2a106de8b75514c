"""Authentication under attack, through HTTP: throttling of failures per key id and address; no argon2."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import hub.trust.service as svc
from hub.settings import Settings
from hub.store.models import AuditEvent
from tests.factories import TAXII


@pytest.fixture
def settings() -> Settings:
    return Settings(database_url="sqlite://", secret_key="test-secret", auth_failure_limit=3)


@pytest.fixture
def at(app) -> Iterator[Any]:
    """`at(address)`: a client calling from that address."""
    clients: list[TestClient] = []

    def make(address: str) -> TestClient:
        c = TestClient(app, base_url="http://hub.test", raise_server_exceptions=False, client=(address, 4000))
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


@pytest.fixture
def argon2_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = svc._hasher

    class Counting:
        def verify(self, *args: Any) -> Any:
            calls.append(1)
            return real.verify(*args)

    monkeypatch.setattr(svc, "_hasher", Counting())
    return calls


def wrong(key: str) -> str:
    return key.rsplit("_", 1)[0] + "_" + secrets.token_urlsafe(32)


def get(c: TestClient, key: str) -> Any:
    return c.get("/taxii2/", headers={"Authorization": f"Bearer {key}", "Accept": TAXII})


def test_wrong_secrets_for_one_key_id_are_throttled_from_any_address(world, at, argon2_calls):
    key = world.keys["cert-b"]
    for i in range(3):
        assert get(at(f"192.0.2.{i}"), wrong(key)).status_code == 401
    r = get(at("192.0.2.99"), wrong(key))
    assert r.status_code == 429
    assert r.headers["content-type"] == TAXII and r.json()["http_status"] == "429"
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert argon2_calls == []  # keys are checked against SHA-256 digests
    # the throttle is on the key id: another key from that address is unaffected
    assert get(at("192.0.2.99"), world.keys["cert-c"]).status_code == 200


def test_failures_from_one_address_are_throttled_whatever_the_key_id(world, at):
    c = at("198.51.100.7")
    for _ in range(3):
        assert get(c, f"hub_{secrets.token_hex(8)}_{secrets.token_urlsafe(8)}").status_code == 401
    assert get(c, "hub_" + secrets.token_hex(8) + "_x").status_code == 429
    # a right key costs a digest, not argon2: it passes even from a throttled address
    assert get(c, world.keys["cert-a"]).status_code == 200


def test_a_verified_key_keeps_working_while_its_key_id_is_attacked(world, at):
    key = world.keys["cert-a"]
    assert get(at("203.0.113.1"), key).status_code == 200
    for i in range(5):
        get(at(f"192.0.2.{i}"), wrong(key))
    assert get(at("192.0.2.200"), wrong(key)).status_code == 429
    assert get(at("203.0.113.1"), key).status_code == 200


def test_a_failed_authentication_is_logged_once_and_audited_without_the_secret(world, at, sm, caplog):
    bad = wrong(world.keys["cert-b"])
    key_id, secret = bad.split("_")[1], bad.split("_", 2)[2]
    with caplog.at_level(logging.WARNING, logger="hub"):
        assert get(at("192.0.2.50"), bad).status_code == 401
    lines = [r.getMessage() for r in caplog.records if "authentication failed" in r.getMessage()]
    assert len(lines) == 1
    assert key_id in lines[0] and "192.0.2.50" in lines[0] and secret not in lines[0]
    with sm() as s:
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "auth-failed")))
    assert len(events) == 1
    assert key_id in events[0].detail and "192.0.2.50" in events[0].detail
    assert secret not in events[0].detail
    assert events[0].organisation_id is not None  # the key id's owner, so its coordinator can see it


def test_malformed_keys_count_against_the_address(world, at):
    c = at("192.0.2.77")
    for _ in range(3):
        assert get(c, "nonsense").status_code == 401
    assert get(c, "nonsense").status_code == 429
