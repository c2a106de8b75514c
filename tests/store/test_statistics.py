"""PostgreSQL: a hub keeps the planner's statistics of object_versions fresh itself (autovacuum may be off).

Without them a page is planned as "sort every row after the position" (a 10k collection's page took
30 ms instead of 20 through HTTP). PostgreSQL publishes a backend's row counts up to a second late, so a
fast load must count what it inserted itself, or it ends before the threshold is ever seen.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import Connection, text

import hub.store.objects as objects
from tests.factories import indicator


def test_a_fast_load_of_six_thousand_objects_is_analyzed_during_the_load(
    db_kind: str, client: Any, world: Any, connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    if db_kind != "postgresql":
        pytest.skip("planner statistics are PostgreSQL's")
    # a process that has inserted nothing yet (the module's watch is per process)
    monkeypatch.setattr(objects, "_watch", objects.StatisticsWatch())
    started = connection.execute(text("SELECT clock_timestamp()")).scalar_one()
    for e in range(6):
        objs = [indicator(900_000 + e * 1000 + i) for i in range(1000)]
        r = client.post(
            world.objects_url(), content=orjson.dumps({"objects": objs}), headers=world.post_headers("cert-a")
        )
        assert r.status_code == 202 and r.json()["success_count"] == 1000
    connection.execute(text("SELECT pg_stat_clear_snapshot()"))
    analyzed = connection.execute(
        text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'object_versions'")
    ).scalar_one()
    assert analyzed is not None and analyzed > started
