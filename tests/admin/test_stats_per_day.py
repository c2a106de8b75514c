"""Group statistics per day, by TLP and by type: what the caller may read, never more."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from tests.admin.conftest import push_red_and_green, set_clearance
from tests.factories import TLP, indicator

# the objects are added today, and the test names today's date: not across midnight
pytestmark = pytest.mark.usefixtures("clear_of_midnight")


def _stats(api, who: str, **params) -> dict:
    r = api(who, "GET", "/groups/africa/stats", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_per_day_by_tlp_and_type_count_only_what_the_coordinator_may_read(client, sm, api, admin_world):
    push_red_and_green(client, sm, admin_world)
    malware = {
        "type": "malware", "spec_version": "2.1", "id": "malware--6b6e2a5c-3b1f-4c7e-9d0a-6f1e2d3c4b5a",
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z", "name": "m",
        "is_family": False, "object_marking_refs": [TLP["amber"]],
    }  # fmt: skip
    amber = [indicator(940, tlp="amber"), malware]
    r = client.post(admin_world.objects_url(), content=orjson.dumps({"objects": amber}),
                    headers=admin_world.post_headers("cert-b"))  # fmt: skip
    assert r.status_code == 202, r.text
    today = datetime.now(UTC).date().isoformat()
    stats = _stats(api, "cert-a")
    assert stats["per_day_by_tlp"] == {today: {"green": 4, "amber": 2}}
    assert stats["per_day_by_type"] == {today: {"indicator": 5, "malware": 1}}
    assert stats["per_day"] == {today: 6}
    set_clearance(sm, "cert-a", "green")
    stats = _stats(api, "cert-a")
    assert stats["per_day_by_tlp"] == {today: {"green": 4}} and stats["per_day"] == {today: 4}
    assert stats["per_day_by_type"] == {today: {"indicator": 4}}
    stats = _stats(api, "admin", days=1)
    assert stats["per_day_by_tlp"] == {today: {"green": 4, "amber": 2, "red": 3}}
    assert sum(stats["per_day_by_tlp"][today].values()) == stats["per_day"][today] == stats["total"]


def test_per_day_by_tlp_is_empty_without_objects(api, admin_world):
    stats = _stats(api, "cert-a", days=7)
    assert stats["per_day"] == {} and stats["per_day_by_tlp"] == {} and stats["per_day_by_type"] == {}


def test_per_day_counts_cost_the_same_statements_for_one_day_as_for_many(
    client, sm, api, admin_world, connection
):
    """Costs as facts: the per-day counts are one GROUP BY per breakdown, not a query per day."""
    from sqlalchemy import event, update

    from hub.store import counts
    from hub.store.tables import ObjectVersion

    push_red_and_green(client, sm, admin_world)
    with sm() as session, session.begin():
        for back, seq in enumerate(session.scalars(ObjectVersion.__table__.select().with_only_columns(
            ObjectVersion.seq))):  # fmt: skip
            session.execute(
                update(ObjectVersion)
                .where(ObjectVersion.seq == seq)
                .values(date_added_us=ObjectVersion.date_added_us - back * 86_400_000_000)
            )
        counts.rebuild(session)  # the dates were changed behind the store's back
    grouped: list[str] = []

    def listen(*args) -> None:
        if "GROUP BY" in args[2].upper():
            grouped.append(args[2])

    event.listen(connection, "before_cursor_execute", listen)
    try:
        costs = []
        for days in (1, 30):
            grouped.clear()
            stats = _stats(api, "admin", days=days)
            costs.append(len(grouped))
        assert len(stats["per_day_by_tlp"]) == 7 and sum(stats["per_day"].values()) == stats["total"]
    finally:
        event.remove(connection, "before_cursor_execute", listen)
    assert costs[0] == costs[1]
