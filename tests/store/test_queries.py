"""The TAXII filters as Select -> Select functions, each alone; and the cost of a page, as a fact."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import event, select

from hub.stix import timestamp_us
from hub.store import queries as q
from hub.store.objects import Filters, NewVersion, Reader, get_objects, insert_versions
from hub.store.tables import ObjectVersion as OV

CID = ""  # africa/indicators in the test world (a random id): set by the `producers` fixture


def _row(i, *, version=1, tlp=1, producer=1, stype="indicator"):
    return NewVersion(
        collection_id=CID,
        stix_id=f"{stype}--00000000-0000-4000-8000-{i:012d}",
        type=stype,
        spec_version="2.1",
        version=f"v{version}",
        version_us=version,
        date_added_us=1000 + i * 10 + version,
        tlp=tlp,
        redact_tlp=None,
        producer_id=producer,
        private_to=0,
        body=orjson.dumps({"n": i, "v": version}),
    )


@pytest.fixture
def producers(session, world):
    from hub.trust.models import Organisation

    global CID
    CID = world.collections["africa/indicators"]

    return {o.slug: o.id for o in session.scalars(select(Organisation))}


@pytest.fixture
def rows(session, producers):
    a, b = producers["cert-a"], producers["cert-b"]
    data = [
        _row(0, producer=a),
        _row(0, version=2, producer=a),
        _row(1, tlp=3, producer=b),
        _row(2, stype="identity", producer=a),
        _row(3, tlp=0, producer=b),
    ]
    insert_versions(session, data)
    session.flush()
    return data


def _ids(session, stmt):
    return [r.stix_id for r in session.execute(stmt.order_by(OV.date_added_us, OV.seq))]


def base():
    return select(OV.stix_id, OV.date_added_us, OV.seq).where(OV.collection_id == CID)


def test_added_after_is_strict(session, rows):
    assert len(_ids(session, q.added_after(base(), 1001))) == 4
    assert _ids(session, q.added_after(base(), None)) == _ids(session, base())


def test_match_type_and_id(session, rows):
    assert _ids(session, q.match_type(base(), ["identity"])) == [rows[3].stix_id]
    assert set(_ids(session, q.match_id(base(), [rows[0].stix_id]))) == {rows[0].stix_id}


def test_match_version_first_last_exact(session, rows, producers):
    kw = {"reader_org_id": producers["cert-c"], "clearance": 4}
    last = list(
        session.execute(
            q.match_version(select(OV.stix_id, OV.version_us).where(OV.collection_id == CID), ["last"], **kw)
        )
    )
    assert (rows[0].stix_id, 2) in last and (rows[0].stix_id, 1) not in last
    first = list(
        session.execute(
            q.match_version(select(OV.stix_id, OV.version_us).where(OV.collection_id == CID), ["first"], **kw)
        )
    )
    assert (rows[0].stix_id, 1) in first and (rows[0].stix_id, 2) not in first
    exact = list(
        session.execute(
            q.match_version(select(OV.stix_id, OV.version_us).where(OV.collection_id == CID), [2], **kw)
        )
    )
    assert exact == [(rows[0].stix_id, 2)]


def test_last_is_judged_among_visible_versions(session, producers):
    a, c = producers["cert-a"], producers["cert-c"]
    insert_versions(session, [_row(7, version=1, tlp=1, producer=a), _row(7, version=2, tlp=3, producer=a)])
    stmt = select(OV.version_us).where(OV.collection_id == CID, q.visible(reader_org_id=c, clearance=1))
    assert list(session.scalars(q.match_version(stmt, ["last"], reader_org_id=c, clearance=1))) == [1]


def test_visible_hides_above_clearance_but_not_own(session, rows, producers):
    stmt = base().where(q.visible(reader_org_id=producers["cert-c"], clearance=1))
    assert rows[2].stix_id not in _ids(session, stmt)
    stmt = base().where(q.visible(reader_org_id=producers["cert-b"], clearance=1))
    assert rows[2].stix_id in _ids(session, stmt)


def test_after_token_continues_strictly_after(session, rows):
    everything = list(session.execute(base().order_by(OV.date_added_us, OV.seq)))
    pos = (everything[1].date_added_us, everything[1].seq)
    assert _ids(session, q.after_token(base(), pos)) == [r.stix_id for r in everything[2:]]


def test_one_page_costs_the_same_statements_whatever_its_size(connection, session, producers):
    """Costs as facts: a page is one SELECT, for 10 rows as for 1,000 and over 1,000 or 5,000 stored."""
    statements: list[str] = []
    event.listen(connection, "before_cursor_execute", lambda *a: statements.append(a[2]))
    reader = Reader(org_id=producers["cert-c"], clearance=2)
    counts = []
    for stored in (1000, 5000):
        insert_versions(
            session, [_row(10_000 * stored + i, producer=producers["cert-a"]) for i in range(stored)]
        )
        for limit in (10, 1000):
            statements.clear()
            page = get_objects(session, collection_id=CID, reader=reader, filters=Filters(limit=limit))
            assert len(page.rows) == limit
            counts.append(len(statements))
    assert set(counts) == {1}


def test_timestamps_compare_at_microseconds():
    assert timestamp_us("2024-01-01T00:00:00.1Z", "t") == timestamp_us("2024-01-01T00:00:00.100000Z", "t")
    assert timestamp_us("2024-01-01T00:00:00.123456789Z", "t") == timestamp_us(
        "2024-01-01T00:00:00.123456Z", "t"
    )


def test_claim_owners_says_whether_every_id_was_new(session, producers):
    from hub.store.objects import claim_owners, owners
    from hub.store.tables import ObjectOwner

    a, b = producers["cert-a"], producers["cert-b"]
    ids = [f"indicator--00000000-0000-4000-8000-{i:012d}" for i in range(900_001, 900_004)]
    assert claim_owners(session, ids=ids[:2], org_id=a, collection_id=CID) is True
    # one id owned already: not all claimed, and the first owner keeps it
    assert claim_owners(session, ids=ids[1:], org_id=b, collection_id=CID) is False
    found = owners(session, ids=ids)
    assert found[ids[0]][0] == a and found[ids[1]][0] == a and found[ids[2]][0] == b
    assert session.query(ObjectOwner).filter(ObjectOwner.stix_id.in_(ids)).count() == 3
