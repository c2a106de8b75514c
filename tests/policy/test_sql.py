"""The SQL visibility clause agrees with the Python rule, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Engine, Integer, MetaData, Table, create_engine, insert, select
from sqlalchemy.pool import StaticPool

from hub.policy.rules import visible_level
from hub.policy.sql import needs_redaction_clause, visible_clause
from hub.policy.tlp import Tlp

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

Rows = list[tuple[int | None, int | None, int | None]]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def visibility_table(request: pytest.FixtureRequest) -> Iterator[tuple[Engine, Table]]:
    """A throwaway (id, tlp, redact_tlp, producer_id) table; PostgreSQL unreachable fails, never skips."""
    if request.param == "sqlite":
        engine = create_engine("sqlite://", poolclass=StaticPool)
    else:
        url = os.environ.get("HUB_TEST_POSTGRES_URL", DEFAULT_PG)
        engine = create_engine(url, connect_args={"connect_timeout": 5})
    # a unique name, so a shared PostgreSQL is never touched beyond this table
    table = Table(
        f"policy_visibility_{uuid.uuid4().hex[:12]}",
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("tlp", Integer, nullable=True),
        Column("redact_tlp", Integer, nullable=True),
        Column("producer_id", Integer, nullable=True),
    )
    table.create(engine)
    try:
        yield engine, table
    finally:
        table.drop(engine)
        engine.dispose()


def _query(engine: Engine, table: Table, rows: Rows, where: object) -> set[int]:
    with engine.connect() as conn:
        tx = conn.begin()
        try:
            if rows:
                conn.execute(
                    insert(table),
                    [
                        {"id": i, "tlp": t, "redact_tlp": r, "producer_id": p}
                        for i, (t, r, p) in enumerate(rows)
                    ],
                )
            return set(conn.scalars(select(table.c.id).where(where)))  # type: ignore[arg-type]
        finally:
            tx.rollback()


_levels = st.one_of(st.none(), st.integers(min_value=0, max_value=4))
_rows = st.lists(st.tuples(_levels, _levels, st.one_of(st.none(), st.integers(1, 4))), max_size=25)
_db_settings = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_db_settings
@given(rows=_rows, reader=st.integers(1, 4), clearance=st.one_of(st.none(), st.sampled_from(list(Tlp))))
def test_visible_clause_agrees_with_the_python_rule(
    visibility_table: tuple[Engine, Table], rows: Rows, reader: int, clearance: Tlp | None
) -> None:
    engine, table = visibility_table
    where = visible_clause(
        reader_org_id=reader, clearance=clearance, tlp_col=table.c.tlp, producer_col=table.c.producer_id
    )
    expected = set()
    for i, (tlp, _, producer) in enumerate(rows):
        if clearance is None:
            continue  # no access to the collection: nothing, own objects included
        if tlp is None:
            visible = producer == reader  # default-deny: an unknown level is shown only to its producer
        else:
            visible = visible_level(
                reader_org_id=reader, clearance=clearance, level=Tlp(tlp), producer_org_id=producer
            )
        if visible:
            expected.add(i)
    assert _query(engine, table, rows, where) == expected


@_db_settings
@given(rows=_rows, clearance=st.sampled_from(list(Tlp)))
def test_needs_redaction_clause_picks_rows_marked_above_clearance(
    visibility_table: tuple[Engine, Table], rows: Rows, clearance: Tlp
) -> None:
    engine, table = visibility_table
    where = needs_redaction_clause(clearance=clearance, redact_tlp_col=table.c.redact_tlp)
    expected = {
        i for i, (_, redact_tlp, _) in enumerate(rows) if redact_tlp is not None and redact_tlp > clearance
    }
    assert _query(engine, table, rows, where) == expected
