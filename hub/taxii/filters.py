"""Parse and check TAXII 2.1 URL filter parameters into store Filters."""

from __future__ import annotations

from starlette.datastructures import QueryParams

from hub.errors import BadRequest
from hub.stix import InvalidObject, timestamp_us
from hub.store.objects import Filters
from hub.tokens import decode_page_token

MAX_LIST = 100  # values in one match[] list: plenty for clients, bounded for the database


def _list(params: QueryParams, name: str) -> tuple[str, ...]:
    values: list[str] = []
    for raw in params.getlist(name):
        values.extend(v.strip() for v in raw.split(",") if v.strip())
    if len(values) > MAX_LIST:
        raise BadRequest(f"'{name}' lists {len(values)} values; at most {MAX_LIST} are allowed.")
    return tuple(values)


def _timestamp(value: str, name: str) -> int:
    try:
        return timestamp_us(value, name)
    except InvalidObject as exc:
        raise BadRequest(str(exc)) from None


def parse_filters(
    params: QueryParams,
    *,
    default_limit: int,
    max_limit: int,
    signing_key: bytes,
    allow: frozenset[str],
    default_version: str = "last",
    object_id: str | None = None,
) -> Filters:
    """Read `added_after`, `match[...]`, `limit` and `next` as the given endpoint allows them."""
    after = params.get("added_after")
    added_after_us = _timestamp(after, "added_after") if after and "added_after" in allow else None

    limit = default_limit
    if "limit" in params:
        raw = params["limit"]
        # isdigit() alone takes '²', which int() refuses; only ASCII digits are a TAXII limit
        if not (raw.isascii() and raw.isdigit()) or int(raw[:12]) < 1:
            raise BadRequest(f"'limit' must be a positive whole number, not {raw[:40]!r}.")
        limit = min(int(raw[:12]), max_limit)

    versions: tuple[str | int, ...] = (default_version,)
    if "match[version]" in allow and "match[version]" in params:
        items: list[str | int] = []
        for v in _list(params, "match[version]"):
            items.append(v if v in ("first", "last", "all") else _timestamp(v, "match[version]"))
        versions = tuple(items) or (default_version,)

    spec_versions = _list(params, "match[spec_version]") if "match[spec_version]" in allow else ()
    for sv in spec_versions:
        if sv not in ("2.0", "2.1"):
            raise BadRequest(f"'match[spec_version]' {sv[:20]!r} is not a STIX version (2.0 or 2.1).")

    ids = (object_id,) if object_id else (_list(params, "match[id]") if "match[id]" in allow else ())
    types = _list(params, "match[type]") if "match[type]" in allow else ()

    position = None
    token = params.get("next")
    if token:
        position = decode_page_token(token[:200], signing_key)
    return Filters(
        added_after_us=added_after_us,
        ids=ids,
        types=types,
        versions=versions,
        spec_versions=spec_versions,
        limit=limit,
        position=position,
    )
