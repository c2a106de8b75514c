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


def push_red_and_green(client: Any, sm: Any, world: Any) -> None:
    """africa allows RED; cert-b pushes 3 RED and 2 GREEN indicators, cert-a 2 GREEN, cert-c pulls.

    cert-a coordinates africa with clearance AMBER+STRICT: cert-b's push and cert-c's pull count objects
    it may not read.
    """
    import orjson
    from sqlalchemy import update

    from hub.policy.tlp import Tlp
    from hub.trust.models import TrustGroup
    from tests.factories import indicator

    with sm() as session, session.begin():
        session.execute(update(TrustGroup).where(TrustGroup.slug == "africa").values(max_tlp=int(Tlp.RED)))
    objs = [indicator(900 + i, tlp="red") for i in range(3)] + [indicator(910 + i) for i in range(2)]
    for who, batch in (("cert-b", objs), ("cert-a", [indicator(920), indicator(921)])):
        r = client.post(
            world.objects_url(), content=orjson.dumps({"objects": batch}), headers=world.post_headers(who)
        )
        assert r.status_code == 202 and r.json()["success_count"] == len(batch), r.text
    assert client.get(world.objects_url(), headers=world.auth("cert-c")).status_code == 200


def set_clearance(sm: Any, org: str, level: str, group: str = "africa") -> None:
    """Set an organisation's clearance in a group directly (the admin API is tested on its own)."""
    from sqlalchemy import select

    from hub.policy.tlp import Tlp
    from hub.trust.models import Membership, Organisation, TrustGroup

    with sm() as session, session.begin():
        m = session.scalar(
            select(Membership)
            .join(Organisation, Organisation.id == Membership.organisation_id)
            .join(TrustGroup, TrustGroup.id == Membership.group_id)
            .where(Organisation.slug == org, TrustGroup.slug == group)
        )
        assert m is not None
        m.clearance = int(Tlp[level.upper().replace("+", "_")])
