"""The OASIS STIX 2.1 examples, every `created_by_ref` rewritten to the poster: all accepted, served back.

A module of its own so that its hub has never seen these ids (`test_oasis_examples.py` posts them as
published; the first organisation to publish an id in a hub owns it).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.interop.conftest import hub_collection
from tests.interop.test_oasis_examples import is_red, key, load_examples, served

pytestmark = pytest.mark.interop


def test_oasis_examples_with_the_posters_identity_are_all_accepted_and_served_back_equal(live, shared_data):
    examples = load_examples(shared_data)
    me = live.identities["cert-a"]
    group, named = hub_collection(live, "cert-a"), hub_collection(live, "cert-a", "africa", "a-to-b")
    posted: dict[str, dict[tuple[str, str | None], dict[str, Any]]] = {"group": {}, "named": {}}
    for name, objs in examples.items():
        mine = copy.deepcopy(objs)
        for obj in mine:
            if "created_by_ref" in obj:
                obj["created_by_ref"] = me
        for where, coll in (("group", group), ("named", named)):
            batch = [o for o in mine if is_red(o) == (where == "named")]
            if not batch:
                continue
            status = coll.add_objects({"objects": batch})
            assert status.failures == [], (name, status.failures)
            assert (status.success_count, status.total_count) == (len(batch), len(batch)), name
            posted[where].update({key(o): o for o in batch})
    assert len(posted["named"]) == 1
    assert served(group) == posted["group"]
    assert served(named) == posted["named"]
    # the named recipient reads the RED object too, unchanged
    assert served(hub_collection(live, "cert-b", "africa", "a-to-b")) == posted["named"]
