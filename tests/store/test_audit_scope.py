"""A coordinator's audit log filtered to one group reads exactly the events of that group its scope
allows, whichever form the query takes (hub.store.audit.events narrows the scope to a plain condition
when one group is asked for, so that the database can use the (group_id, action, id) index)."""

from __future__ import annotations

import itertools
import random

from hub.db import begin_write
from hub.store.audit import events, record

GROUPS = (1, 2, 3)
ORGS = (11, 12, 13)
ACTIONS = ("push", "push-refused", "pull-objects", "collection.update", "collection.create", "key.issue")


def _fill(sm) -> None:
    rng = random.Random(22)
    with sm() as session, session.begin():
        begin_write(session)
        for i in range(400):
            group = rng.choice((*GROUPS, None))
            action = rng.choice(ACTIONS)
            org = rng.choice((*ORGS, None))
            target = rng.choice((*ORGS, None))
            record(
                session, action=action, organisation_id=org, group_id=group, target_org_id=target,
                collection_id=None if group is None else f"c{group}", count=i, at_us=1_000_000 + i,
            )  # fmt: skip


def test_one_group_reads_what_the_whole_scope_holds_of_that_group(sm):
    _fill(sm)
    scopes = [None, (), (1,), (1, 2)]
    with sm() as session:
        for within, own, action in itertools.product(scopes, (None, *ORGS), (None, *ACTIONS)):
            if within is None and own is not None:
                continue  # a platform admin's scope has no organisation
            everything = events(session, within_groups=within, own_org_id=own, action=action, limit=10_000)
            for group in GROUPS:
                want = [e.id for e in everything if e.group_id == group]
                got = events(
                    session, within_groups=within, own_org_id=own, group_id=group, action=action, limit=10_000
                )
                assert [e.id for e in got] == want, (within, own, group, action)
                # and page by page through the keyset cursor
                paged: list[int] = []
                before = None
                while True:
                    page = events(
                        session, within_groups=within, own_org_id=own, group_id=group, action=action,
                        before_id=before, limit=7,
                    )  # fmt: skip
                    paged += [e.id for e in page]
                    if len(page) < 7:
                        break
                    before = page[-1].id
                assert paged == want
    # the test can fail: a non-coordinator of a group reads only the collection changes made to its own
    # organisation there, and there are such events and others
    with sm() as session:
        other = events(session, within_groups=(1,), own_org_id=11, group_id=2, limit=10_000)
        assert other and all(e.target_org_id == 11 and e.action.startswith("collection.") for e in other)
        assert len(events(session, within_groups=None, group_id=2, limit=10_000)) > len(other)
