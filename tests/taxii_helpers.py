"""Posting TAXII envelopes in tests, one way: `post` sends, `post_ok` also expects the 202, and `store`
also expects every object stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from tests.factories import World


def post(
    client: Any,
    world: World,
    objs: list[dict[str, Any]],
    org: str = "cert-a",
    group: str = "africa",
    alias: str = "indicators",
    *,
    coll_id: str | None = None,
    dumps: Callable[[Any], bytes | str] = orjson.dumps,
) -> Any:
    """POST `objs` as one envelope to a collection (`group`/`alias`, or `coll_id` in `group`) as `org`.

    The response as it came. `dumps` encodes the envelope (the standard library's `json.dumps` writes
    objects nested deeper than orjson will).
    """
    url = f"/taxii2/{group}/collections/{coll_id}/objects/" if coll_id else world.objects_url(group, alias)
    return client.post(url, content=dumps({"objects": objs}), headers=world.post_headers(org))


def post_ok(
    client: Any,
    world: World,
    objs: list[dict[str, Any]],
    org: str = "cert-a",
    group: str = "africa",
    alias: str = "indicators",
    *,
    coll_id: str | None = None,
) -> dict[str, Any]:
    """`post`, answered 202: the status resource (objects may have failed; the caller looks)."""
    r = post(client, world, objs, org, group, alias, coll_id=coll_id)
    assert r.status_code == 202, r.text
    status: dict[str, Any] = r.json()
    return status


def store(
    client: Any,
    world: World,
    objs: list[dict[str, Any]],
    org: str = "cert-a",
    group: str = "africa",
    alias: str = "indicators",
    *,
    coll_id: str | None = None,
) -> dict[str, Any]:
    """`post_ok` with every object stored: the status resource."""
    status = post_ok(client, world, objs, org, group, alias, coll_id=coll_id)
    assert status["failure_count"] == 0, status
    return status
