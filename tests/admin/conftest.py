"""Fixtures of the admin API tests: the test world plus a platform-admin key."""

from __future__ import annotations

from typing import Any

import pytest

from hub.trust.keys import bootstrap_admin_key


@pytest.fixture
def admin_world(world: Any, sm: Any) -> Any:
    """The test world (cert-a coordinates africa, cert-c coordinates asia) and `world.keys['admin']`."""
    with sm() as session, session.begin():
        _info, secret = bootstrap_admin_key(session)
    world.keys["admin"] = secret
    return world


@pytest.fixture
def api(client: Any, admin_world: Any) -> Any:
    """Call the admin API as an organisation of the test world: api("cert-a", "GET", "/groups")."""

    def call(who: str | None, method: str, path: str, **kw: Any) -> Any:
        headers = kw.pop("headers", {})
        if who:
            headers["Authorization"] = f"Bearer {admin_world.keys[who]}"
        return client.request(method, "/admin/v1" + path, headers=headers, **kw)

    return call
