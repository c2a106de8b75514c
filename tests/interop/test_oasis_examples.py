"""The OASIS CTI TC's STIX 2.1 example content through taxii2-client: accepted intact, served back equal.

Where the files are: `../shared/data/oasis-stix21-examples/` (the `shared_data` fixture skips with a
reason where it is absent). Seven are bundles; `interop-objectmarking-test.json` is one bare campaign,
taken as a one-object file.

Two facts of the hub decide how the content is posted:

* A CIRT publishes only as itself: an object whose `created_by_ref` is not the submitter's
  organisation identity is refused. The OASIS objects that carry a `created_by_ref` point at the
  examples' own identity objects, so as published they can only be refused. Hence two tests:
  `..._as_published` posts every file unchanged and pins that exactly the objects without a foreign
  `created_by_ref` are stored and come back equal, the rest being refused with a reason naming
  `created_by_ref`; `..._with_the_posters_identity` rewrites every `created_by_ref` to the poster's
  identity and pins that every object is then accepted and served back equal to what was posted.
* TLP:RED goes only to named-recipient collections. The one RED object (the bare campaign, marked
  with the TLP 1.0 RED id) is posted by cert-a into its named-recipient collection africa/a-to-b,
  everything else into a group collection.

Collections: the as-published run uses asia/indicators as cert-c (coordinator), the rewritten run
africa/indicators (and africa/a-to-b) as cert-a (coordinator and owner), so the two runs never see
each other's objects. The same object version appearing in two files (one identity does) is posted
twice; the second post is a success that stores nothing new, so each (id, version) is served once.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from taxii2client.v21 import as_pages

from tests.factories import TLP
from tests.interop.conftest import hub_collection

pytestmark = pytest.mark.interop

RED = {"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", TLP["red"]}  # TLP 1.0 and 2.0 RED


def load_examples(shared_data: Path) -> dict[str, list[dict[str, Any]]]:
    folder = shared_data / "oasis-stix21-examples"
    files = sorted(folder.glob("*.json"))
    if not files:
        pytest.skip(f"no OASIS example files in {folder}")
    out = {}
    for f in files:
        doc = json.loads(f.read_text(encoding="utf-8"))
        out[f.name] = doc["objects"] if doc.get("type") == "bundle" else [doc]
    return out


def key(obj: dict[str, Any]) -> tuple[str, str | None]:
    return obj["id"], obj.get("modified", obj.get("created"))


def is_red(obj: dict[str, Any]) -> bool:
    return bool(RED & set(obj.get("object_marking_refs") or ()))


def served(coll: Any) -> dict[tuple[str, str | None], dict[str, Any]]:
    """Every version in a collection, read through as_pages; each (id, version) exactly once."""
    objs = [o for page in as_pages(coll.get_objects, per_request=100, version="all") for o in page["objects"]]
    by_key = {key(o): o for o in objs}
    assert len(by_key) == len(objs), "a version was served twice"
    return by_key


def test_oasis_examples_as_published_store_exactly_the_objects_without_a_foreign_creator(live, shared_data):
    examples = load_examples(shared_data)
    me = live.identities["cert-c"]
    coll = hub_collection(live, "cert-c", "asia")
    expected: dict[tuple[str, str | None], dict[str, Any]] = {}
    for name, objs in examples.items():
        status = coll.add_objects({"objects": objs})
        assert status.total_count == len(objs), name
        refused = {f["id"]: f["message"] for f in status.failures}
        for obj in objs:
            foreign = obj.get("created_by_ref") not in (None, me)
            if foreign:
                assert "created_by_ref" in refused.get(obj["id"], ""), (name, obj["id"])
            elif is_red(obj):
                assert obj["id"] in refused, (name, obj["id"])
            else:
                assert obj["id"] not in refused, (name, obj["id"], refused.get(obj["id"]))
                expected[key(obj)] = obj
    assert len(expected) > 200  # most of the content has no created_by_ref
    assert served(coll) == expected


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
