"""Page tokens when HUB_SECRET_KEY is unset: signed with a random secret kept in the database."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from hub.app import create_app
from hub.settings import Settings
from hub.store.models import HubSecret
from hub.tokens import decode_page_token, encode_page_token
from tests.factories import indicator


@pytest.fixture
def settings() -> Settings:
    return Settings(database_url="postgresql+psycopg://hub@db.example/hub")  # no HUB_SECRET_KEY


def replica(sm: Any, **overrides: Any) -> TestClient:
    return TestClient(
        create_app(Settings(database_url="sqlite://", **overrides), sessionmaker=sm),
        base_url="http://hub.test",
        raise_server_exceptions=False,
    )


@pytest.fixture
def pages(client, world) -> Iterator[str]:
    """The `next` token of a first page of one object out of three."""
    r = client.post(
        world.objects_url(),
        content=orjson.dumps({"objects": [indicator(i) for i in range(3)]}),
        headers=world.post_headers("cert-a"),
    )
    assert r.status_code == 202
    first = client.get(world.objects_url(), params={"limit": 1}, headers=world.auth("cert-a")).json()
    yield first["next"]


def test_unset_secret_key_signs_tokens_with_the_databases_secret(client, world, sm, pages):
    with sm() as s:
        stored = s.scalar(select(HubSecret.value).where(HubSecret.name == "page-token"))
    assert stored and len(stored) >= 40
    assert decode_page_token(pages, stored.encode())
    r = client.get(world.objects_url(), params={"limit": 1, "next": pages}, headers=world.auth("cert-a"))
    assert r.status_code == 200 and len(r.json()["objects"]) == 1


def test_a_token_forged_with_the_database_url_is_400(client, world, settings, pages):
    # what earlier releases signed with when HUB_SECRET_KEY was unset: anyone knowing the URL could forge
    derived = hashlib.sha256(b"hub-page-token:" + settings.database_url.encode()).digest()
    forged = encode_page_token((0, 0), derived)
    r = client.get(world.objects_url(), params={"next": forged}, headers=world.auth("cert-a"))
    assert r.status_code == 400


def test_every_replica_of_the_database_accepts_the_token(sm, world, pages):
    with replica(sm) as other:
        r = other.get(world.objects_url(), params={"limit": 1, "next": pages}, headers=world.auth("cert-a"))
    assert r.status_code == 200


def test_hub_secret_key_still_overrides(sm, world, pages):
    with replica(sm, secret_key="configured") as other:
        r = other.get(world.objects_url(), params={"next": pages}, headers=world.auth("cert-a"))
        assert r.status_code == 400
        token = other.get(world.objects_url(), params={"limit": 1}, headers=world.auth("cert-a")).json()[
            "next"
        ]
    assert decode_page_token(token, b"configured")


def test_a_database_without_a_secret_gets_one_at_first_use(sm, world):
    with sm() as s, s.begin():
        s.execute(delete(HubSecret))
    with replica(sm) as hub:
        for i in range(2):
            hub.post(
                world.objects_url(),
                content=orjson.dumps({"objects": [indicator(i)]}),
                headers=world.post_headers("cert-a"),
            )
        token = hub.get(world.objects_url(), params={"limit": 1}, headers=world.auth("cert-a")).json()["next"]
    with sm() as s:
        stored = s.scalar(select(HubSecret.value).where(HubSecret.name == "page-token"))
    assert stored and decode_page_token(token, stored.encode())
