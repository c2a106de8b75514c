"""Request limits and hostile input through HTTP: bounded work per request, no 500s, nothing lost."""

from __future__ import annotations

import asyncio
import json
import logging
from functools import partial
from typing import Any

import pytest

from hub.stix import MAX_DEPTH, MAX_PATTERN_LENGTH, MAX_PATTERN_TERMS
from tests.factories import TAXII, indicator
from tests.taxii_helpers import post as taxii_post


@pytest.fixture
def settings():
    from hub.settings import Settings

    return Settings(
        database_url="sqlite://",
        secret_key="test-secret",
        max_page_size=1000,
        max_content_length=2 * 1024 * 1024,
        max_objects_per_envelope=50,
    )


# the standard library's encoder: orjson refuses to write the over-deep objects some tests send
post = partial(taxii_post, dumps=json.dumps)


def stored(client, world) -> list[dict[str, Any]]:
    return client.get(world.objects_url(), headers=world.auth("cert-a")).json().get("objects", [])


def nested(levels: int) -> dict[str, Any]:
    top: dict[str, Any] = {}
    cur = top
    for _ in range(levels - 1):
        cur["x"] = {}
        cur = cur["x"]
    return top


# ------------------------------------------------------------------ objects per envelope


def test_envelope_over_the_object_limit_is_413_and_stores_nothing(client, world):
    r = post(client, world, [indicator(i) for i in range(51)])
    assert r.status_code == 413
    assert r.headers["content-type"] == TAXII
    assert "51 objects" in r.json()["description"] and "at most 50" in r.json()["description"]
    assert stored(client, world) == []


def test_envelope_of_junk_entries_over_the_limit_is_413_before_any_per_object_work(client, world):
    r = client.post(
        world.objects_url(), content=b'{"objects": [' + b",".join([b"1"] * 100_000) + b"]}",
        headers=world.post_headers("cert-a"),
    )  # fmt: skip
    assert r.status_code == 413


def test_envelope_at_the_object_limit_is_taken(client, world):
    assert post(client, world, [indicator(i) for i in range(50)]).json()["success_count"] == 50


def test_status_entries_are_bounded_whatever_the_junk(client, world):
    junk = [{"id": "x" * 100_000, "type": "y" * 10_000}] * 10
    r = post(client, world, [*junk, indicator(1)])
    st = r.json()
    assert st["failure_count"] == 10 and st["success_count"] == 1
    assert len(r.content) < 20_000
    again = client.get(f"/taxii2/africa/status/{st['id']}/", headers=world.auth("cert-a"))
    assert again.json() == st


# ------------------------------------------------------------------ authorisation before the body


# a reader (cert-c) may post feedback (hub.feedback), so its body is read: tests/feedback covers it
@pytest.mark.parametrize(("org", "code"), [("outsider", 403), ("nobody", 401)])
def test_post_that_may_not_write_is_refused_before_its_body_is_read(app, world, org, code):
    headers = world.post_headers(org) if org != "nobody" else {"Accept": TAXII, "Content-Type": TAXII}
    reads = []

    async def receive() -> dict[str, Any]:
        reads.append(1)
        return {"type": "http.request", "body": b"not json at all", "more_body": False}

    status, _body = asyncio.run(_call(app, world.objects_url(), headers, receive))
    assert status == code
    assert reads == []


def test_post_to_an_unknown_collection_is_404_before_its_body_is_read(app, world):
    reads = []

    async def receive() -> dict[str, Any]:
        reads.append(1)
        return {"type": "http.request", "body": b"{", "more_body": False}

    url = "/taxii2/africa/collections/00000000-0000-4000-8000-000000000000/objects/"
    status, _ = asyncio.run(_call(app, url, world.post_headers("cert-a"), receive))
    assert status == 404 and reads == []


def test_client_disconnecting_mid_upload_is_not_an_unhandled_error(app, world, caplog):
    sent = []

    async def receive() -> dict[str, Any]:
        sent.append(1)
        if len(sent) == 1:
            return {"type": "http.request", "body": b'{"objects": [', "more_body": True}
        return {"type": "http.disconnect"}

    with caplog.at_level(logging.INFO, logger="hub"):
        status, _ = asyncio.run(_call(app, world.objects_url(), world.post_headers("cert-a"), receive))
    assert status < 500
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("disconnected" in r.getMessage() for r in caplog.records)


async def _call(app, path: str, headers: dict[str, str], receive) -> tuple[int, bytes]:
    """One request straight through the ASGI interface, with a body the test controls."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in {**headers, "host": "hub.test"}.items()],
        "client": ("127.0.0.1", 50000), "server": ("hub.test", 80),
    }  # fmt: skip
    out: dict[str, Any] = {"body": b""}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return out["status"], out["body"]


# ------------------------------------------------------------------ per-object limits


def test_object_nested_300_deep_is_a_failure_and_its_neighbours_are_kept(client, world):
    deep = indicator(2, x_deep=nested(300))
    r = post(client, world, [indicator(1), deep, indicator(3)])
    assert r.status_code == 202
    st = r.json()
    assert st["success_count"] == 2 and st["failure_count"] == 1
    assert f"deeper than {MAX_DEPTH}" in st["failures"][0]["message"]
    assert len(stored(client, world)) == 2


def test_object_just_under_the_depth_limit_is_stored_and_served(client, world):
    obj = indicator(1, x_deep=nested(MAX_DEPTH - 1))
    assert post(client, world, [obj]).json()["success_count"] == 1
    assert stored(client, world) == [obj]
    assert post(client, world, [indicator(2, x_deep=nested(MAX_DEPTH))]).json()["failure_count"] == 1


def test_brackets_inside_strings_do_not_count_as_depth(client, world):
    obj = indicator(1, description="[{" * 500)
    assert post(client, world, [obj]).json()["success_count"] == 1


@pytest.mark.parametrize(
    "where",
    [
        {"name": "bad\u0000name"},
        {"x_list": ["ok", {"deep": "nul\u0000"}]},
        {"x_ext": {"key\u0000": 1}},
    ],
)
def test_object_holding_a_nul_is_a_failure_and_its_neighbours_are_kept(client, world, where):
    r = post(client, world, [indicator(1), indicator(2, **where), indicator(3)])
    st = r.json()
    assert st["success_count"] == 2 and st["failure_count"] == 1
    assert "NUL" in st["failures"][0]["message"]
    assert {o["id"] for o in stored(client, world)} == {indicator(1)["id"], indicator(3)["id"]}


def test_an_escaped_backslash_u0000_text_is_not_a_nul(client, world):
    obj = indicator(1, description="a literal \\u0000 in text")
    assert post(client, world, [obj]).json()["success_count"] == 1
    assert stored(client, world) == [obj]


def test_over_long_pattern_is_a_failure_with_the_limit(client, world):
    long = "[ipv4-addr:value = '" + "1" * MAX_PATTERN_LENGTH + "']"
    r = post(client, world, [indicator(1, pattern=long), indicator(2)])
    st = r.json()
    assert st["success_count"] == 1
    assert f"at most {MAX_PATTERN_LENGTH}" in st["failures"][0]["message"]


def test_pattern_with_too_many_comparisons_is_a_failure_with_the_limit(client, world):
    terms = "[" + " OR ".join(f"url:value='{i}'" for i in range(MAX_PATTERN_TERMS + 1)) + "]"
    assert len(terms) < MAX_PATTERN_LENGTH
    r = post(client, world, [indicator(1, pattern=terms), indicator(2)])
    st = r.json()
    assert st["success_count"] == 1
    assert f"at most {MAX_PATTERN_TERMS}" in st["failures"][0]["message"]


def test_pattern_at_the_comparison_limit_is_checked_and_stored(client, world):
    terms = " OR ".join(f"[ipv4-addr:value = '10.0.0.{i}']" for i in range(100))
    assert post(client, world, [indicator(1, pattern=terms)]).json()["success_count"] == 1


# ------------------------------------------------------------------ query strings


@pytest.mark.parametrize("limit", ["²", "١٢", "0", "-1", "1e3", "9" * 5000, " 5"])
@pytest.mark.parametrize("what", ["objects", "manifest", "versions"])
def test_limit_that_is_not_ascii_digits_is_400(client, world, limit, what):
    post(client, world, [indicator(1)])
    url = world.objects_url()
    if what == "manifest":
        url = url.replace("/objects/", "/manifest/")
    elif what == "versions":
        url += f"{indicator(1)['id']}/versions/"
    r = client.get(url, params={"limit": limit}, headers=world.auth("cert-a"))
    if limit == "9" * 5000:
        assert r.status_code == 200  # a huge limit is capped at max_page_size
    else:
        assert r.status_code == 400, r.text
        assert "limit" in r.json()["description"]


def test_absurd_content_length_is_413_not_an_error(app, world):
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    headers = {**world.post_headers("cert-a"), "Content-Length": "9" * 5000}
    status, _ = asyncio.run(_call(app, world.objects_url(), headers, receive))
    assert status == 413
