"""HTTP-level errors of the live hub through plain httpx: every error is a TAXII 2.1 error resource."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.factories import TAXII, indicator

pytestmark = pytest.mark.interop

MB = 1024 * 1024


def assert_taxii_error(r: httpx.Response, status: int) -> dict[str, Any]:
    """TAXII 2.1 section 3.6.1: an error message resource (`title` required, `http_status` a string)."""
    assert r.status_code == status, r.text[:300]
    assert r.headers["content-type"] == TAXII
    body = r.json()
    assert isinstance(body["title"], str)
    assert body["title"]
    assert body["http_status"] == str(status)
    return body


@pytest.fixture
def http(live: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base, timeout=60) as client:
        yield client


def chunks(total: int, size: int = MB) -> Iterator[bytes]:
    """`total` bytes of a would-be envelope, one `size` chunk at a time (never all in memory)."""
    head = b'{"objects": ["'
    yield head
    sent = len(head)
    block = b"x" * size
    while sent < total:
        piece = block[: min(size, total - sent)]
        sent += len(piece)
        yield piece


def assert_healthy(http: httpx.Client, live: Any) -> None:
    r = http.get("/taxii2/", headers=live.auth("cert-a"))
    assert r.status_code == 200
    r = http.post(
        live.objects_url(),
        headers=live.post_headers("cert-b"),
        content=orjson.dumps({"objects": [indicator(7000)]}),
    )
    assert r.status_code == 202
    assert r.json()["success_count"] == 1


def test_a_100mb_streamed_body_is_413_and_the_server_stays_healthy(live, http):
    limit = live.server.settings.max_content_length
    assert limit < 100 * MB
    try:
        r = http.post(live.objects_url(), headers=live.post_headers("cert-b"), content=chunks(100 * MB))
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError) as exc:  # pragma: no cover
        pytest.fail(f"the hub dropped the connection instead of answering 413: {exc!r}")
    body = assert_taxii_error(r, 413)
    assert str(limit) in body["description"]
    assert_healthy(http, live)


def test_a_declared_content_length_over_the_limit_is_413_before_the_body_is_read(live, http):
    headers = {**live.post_headers("cert-b"), "Content-Length": str(100 * MB)}
    r = http.post(live.objects_url(), headers=headers, content=chunks(100 * MB))
    assert_taxii_error(r, 413)
    assert_healthy(http, live)


@pytest.mark.parametrize(
    "accept",
    [
        "application/json",
        "application/stix+json;version=2.1",
        "application/taxii+json;version=2.0",
        "text/html",
    ],
)
def test_an_accept_header_without_the_taxii_21_media_type_is_406(live, http, accept):
    headers = {**live.auth("cert-a"), "Accept": accept}
    cid = live.collections["africa/indicators"]
    for path in (
        "/taxii2/",
        "/taxii2/africa/",
        "/taxii2/africa/collections/",
        f"/taxii2/africa/collections/{cid}/",
        live.objects_url(),
        f"/taxii2/africa/collections/{cid}/manifest/",
    ):
        assert_taxii_error(http.get(path, headers=headers), 406)
    r = http.post(live.objects_url(), headers={**headers, "Content-Type": TAXII}, content=b'{"objects": []}')
    assert_taxii_error(r, 406)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/stix+json;version=2.1",
        "application/taxii+json;version=2.0",
        "text/plain",
        None,
    ],
)
def test_a_content_type_other_than_the_taxii_21_media_type_is_415(live, http, content_type):
    headers = live.auth("cert-b")
    if content_type is not None:
        headers["Content-Type"] = content_type
    r = http.post(live.objects_url(), headers=headers, content=orjson.dumps({"objects": [indicator(7100)]}))
    assert_taxii_error(r, 415)
    assert http.get(
        live.objects_url(), headers=live.auth("cert-b"), params={"match[id]": indicator(7100)["id"]}
    ).json() == {"more": False}


def test_the_taxii_21_content_type_with_parameters_in_another_case_is_accepted(live, http):
    headers = {**live.auth("cert-b"), "Content-Type": "Application/TAXII+json; version=2.1"}
    r = http.post(live.objects_url(), headers=headers, content=orjson.dumps({"objects": [indicator(7200)]}))
    assert r.status_code == 202


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status"),
    [
        ("GET", "/taxii2/", {"Accept": TAXII}, None, 401),
        ("GET", "/taxii2/asia/", "cert-b", None, 403),
        ("GET", "/taxii2/nowhere/", "cert-b", None, 404),
        ("GET", "/no/such/path", "cert-b", None, 404),
        ("PUT", "objects", "cert-b", b"{}", 405),
        ("GET", "objects?added_after=yesterday", "cert-b", None, 400),
        ("GET", "objects?limit=0", "cert-b", None, 400),
        ("GET", "objects?next=forged", "cert-b", None, 400),
        ("POST", "objects", "cert-b", b"not json", 400),
        ("POST", "objects", "cert-b", b"[]", 400),
        # a reader (cert-c) may post feedback now (hub.feedback): an organisation outside the group may not
        ("POST", "objects", "outsider", b'{"objects": []}', 403),
    ],
)
def test_every_error_is_a_taxii_error_resource(live, http, method, path, headers, body, status):
    if path.startswith("objects"):
        path = live.objects_url() + path[len("objects/") if path.startswith("objects/") else len("objects") :]
    if isinstance(headers, str):
        headers = live.post_headers(headers)
    r = http.request(method, path, headers=headers, content=body)
    assert_taxii_error(r, status)
    if status == 401:
        assert "Bearer" in r.headers["www-authenticate"]
