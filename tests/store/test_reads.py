"""The read door (hub.store.reads): who reads decides what comes back, once, for every reader."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import select

from hub.store import reads
from hub.store.models import PRIVATE_TLP
from hub.store.objects import NewVersion, insert_versions

RED, AMBER, GREEN = 4, 2, 1


def _v(cid, n, *, version=1, tlp=GREEN, producer, private=False, added=None, stype="indicator"):
    return NewVersion(
        collection_id=cid,
        stix_id=f"{stype}--00000000-0000-4000-8000-{n:012d}",
        type=stype,
        spec_version="2.1",
        version=f"v{version}",
        version_us=version,
        date_added_us=added if added is not None else 1000 + n * 10 + version,
        tlp=PRIVATE_TLP if private else tlp,
        redact_tlp=None,
        producer_id=producer,
        private_to=producer if private else 0,
        body=orjson.dumps({"n": n, "v": version}),
    )


@pytest.fixture
def orgs(session, world):
    from hub.trust.models import Organisation

    return {o.slug: o.id for o in session.scalars(select(Organisation))}


@pytest.fixture
def cid(world):
    return world.collections["africa/indicators"]


def _ids(rows):
    return sorted((r.stix_id[-2:], r.version_us) for r in rows)


def test_who_reads_decides(session, orgs, cid):
    a, b = orgs["cert-a"], orgs["cert-b"]
    insert_versions(
        session,
        [
            _v(cid, 1, producer=a),
            _v(cid, 1, version=2, producer=a, private=True),  # only cert-a ever reads this one
            _v(cid, 2, tlp=RED, producer=b),
            _v(cid, 3, tlp=AMBER, producer=b),
        ],
    )
    session.flush()
    every = reads.Filters(versions=("all",))

    def read(reader, filters=every):
        cols = ("stix_id", "version_us")
        return _ids(
            reads.visible_versions(session, reader=reader, collections=[cid], columns=cols, filters=filters)
        )

    member_a = reads.Reader(org_id=a, clearance=GREEN)
    assert read(member_a) == [("01", 1), ("01", 2)]
    # the latest version cert-a sees of object 1 is its private one
    assert read(member_a, reads.Filters()) == [("01", 2)]
    # the hub's own view: the whole shared record, never a private version
    assert read(None) == [("01", 1), ("02", 1), ("03", 1)]
    # a reader at AMBER who is not the publisher sees neither the RED object nor cert-a's private version
    assert read(reads.Reader(org_id=orgs["cert-c"], clearance=AMBER)) == [("01", 1), ("03", 1)]
    # no collection named, nothing read
    assert reads.visible_versions(session, reader=member_a, collections=[], columns=("stix_id",)) == []


def test_a_ceiling_withholds_what_its_publisher_reclassified(session, orgs, cid):
    a, b = orgs["cert-a"], orgs["cert-b"]
    insert_versions(
        session,
        [
            _v(cid, 1, producer=a),
            _v(cid, 1, version=2, tlp=RED, producer=a),  # reclassified by its publisher
            _v(cid, 2, producer=a),
            _v(cid, 2, version=2, producer=b, private=True),  # a private version reclassifies nothing
            _v(cid, 3, tlp=AMBER, producer=b),
        ],
    )
    session.flush()
    every = reads.Filters(versions=("all",))
    cols = ("stix_id", "version_us")
    out = reads.visible_versions(
        session, reader=None, collections=[cid], columns=cols, filters=every, ceiling=GREEN
    )
    assert _ids(out) == [("02", 1)]
    withdrawn = reads.reclassified(session, collection_id=cid, ceiling=GREEN)
    assert sorted(r.stix_id[-2:] for r in withdrawn) == ["01"]


def test_a_stream_reads_each_version_once_as_it_was_when_it_began(session, orgs, cid):
    a = orgs["cert-a"]
    insert_versions(session, [_v(cid, n, producer=a) for n in range(7)])
    session.flush()
    seen: list[tuple[str, int]] = []
    pages = reads.stream_versions(
        session,
        reader=reads.Reader(org_id=a, clearance=GREEN),
        collections=[cid],
        columns=("stix_id", "version_us"),
        with_page=lambda rows: [(r.stix_id[-2:], r.version_us) for r in rows],
        page=3,
    )
    first = next(pages)
    # a newer version of an object not yet read, stored after the read began: the stream neither
    # serves it nor drops the version it replaces
    insert_versions(session, [_v(cid, 6, version=2, producer=a, added=10**9)])
    session.flush()
    for page in [first, *pages]:
        assert len(page) <= 3
        seen.extend(page)
    assert seen == [(f"{n:02d}", 1) for n in range(7)]


def test_bad_questions_are_refused(session, cid):
    with pytest.raises(ValueError, match="no such column"):
        reads.select_versions(("body; DROP TABLE x",), reader=None, collections=[cid])
    with pytest.raises(ValueError, match="named collections"):
        reads.select_versions(("body",), reader=reads.Reader(org_id=1, clearance=RED), collections=None)
    with pytest.raises(ValueError, match="keyset"):
        reads.select_versions(("body",), reader=None, collections=[cid], after=(1, 1), order="newest")


def test_a_reused_statement_is_never_another_readers(session, orgs, cid):
    """The door reuses a statement built for the same arguments: asked alternately by readers that
    differ in one thing only (organisation, clearance, coordinator role, collections, a list where a
    tuple is meant), each still gets its own answer, the first time and every time after."""
    a, b = orgs["cert-a"], orgs["cert-b"]
    insert_versions(
        session,
        [
            _v(cid, 1, producer=a),
            _v(cid, 1, version=2, producer=a, private=True),
            _v(cid, 2, tlp=RED, producer=b),
            _v(cid, 3, tlp=AMBER, producer=b),
        ],
    )
    session.flush()
    cols = ("stix_id", "version_us")
    c = orgs["cert-c"]
    asks = [
        (reads.Reader(org_id=a, clearance=GREEN), [cid], reads.Filters(), [("01", 2)]),
        (reads.Reader(org_id=c, clearance=GREEN), [cid], reads.Filters(), [("01", 1)]),
        (reads.Reader(org_id=c, clearance=AMBER), [cid], reads.Filters(), [("01", 1), ("03", 1)]),
        (reads.Reader(org_id=b, clearance=GREEN), [cid], reads.Filters(), [("01", 1), ("02", 1), ("03", 1)]),
        (reads.Reader(org_id=c, clearance=AMBER, coordinator=True), [cid], reads.Filters(),
         [("01", 1), ("03", 1)]),
        (reads.Reader(org_id=b, clearance=GREEN), ["no-such-collection"], reads.Filters(), []),
        (reads.Reader(org_id=a, clearance=GREEN), [cid], reads.Filters(ids=[_v(cid, 1, producer=a).stix_id]),
         [("01", 2)]),  # a list: unhashable, built each time
    ]  # fmt: skip
    for _ in range(3):
        for reader, collections, filters, expected in asks:
            rows = reads.visible_versions(
                session, reader=reader, collections=collections, columns=cols, filters=filters
            )
            assert _ids(rows) == expected, (reader, collections, filters)
    same = {"reader": asks[0][0], "collections": [cid], "order": None}
    assert reads.select_versions(cols, **same) is reads.select_versions(list(cols), **same)
