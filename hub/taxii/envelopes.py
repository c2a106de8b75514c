"""TAXII responses built from stored bytes: envelopes, manifests, versions, date-added headers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from hub.store.objects import Page
from hub.tokens import encode_page_token
from hub.vocab.time import format_us


def page_headers(page: Page) -> dict[str, str]:
    """X-TAXII-Date-Added-First/-Last of a page; absent on an empty page, never an empty value."""
    if not page.rows:
        return {}
    return {
        "X-TAXII-Date-Added-First": format_us(page.first_added or 0),
        "X-TAXII-Date-Added-Last": format_us(page.last_added or 0),
    }


def _head(page: Page, key: bytes) -> bytes:
    # `more` is true only together with a `next` token: taxii2-client's as_pages relies on it
    if page.more and page.last_position is not None:
        return b'{"more":true,"next":' + orjson.dumps(encode_page_token(page.last_position, key)) + b","
    return b'{"more":false,'


def envelope(page: Page, key: bytes, render: Callable[[Any], bytes | None]) -> bytes:
    """A TAXII envelope concatenated from stored bytes; `render` may redact or drop a row."""
    bodies = [b for b in (render(row) for row in page.rows) if b is not None]
    if not bodies:
        return _head(page, key).rstrip(b",") + b"}"
    return _head(page, key) + b'"objects":[' + b",".join(bodies) + b"]}"


def manifest(page: Page, key: bytes, media_type: str) -> bytes:
    """A TAXII manifest resource."""
    if not page.rows:
        return b'{"more":false}'
    entries = [
        {
            "id": r.stix_id,
            "date_added": format_us(r.date_added_us),
            "version": r.version,
            "media_type": media_type,
        }
        for r in page.rows
    ]
    return _head(page, key) + b'"objects":' + orjson.dumps(entries) + b"}"


def versions(page: Page, key: bytes) -> bytes:
    """A TAXII versions resource."""
    if not page.rows:
        return b'{"more":false}'
    return _head(page, key) + b'"versions":' + orjson.dumps([r.version for r in page.rows]) + b"}"
