"""The OASIS CTI TC's STIX 2.1 example content through taxii2-client: accepted intact, served back equal.

Where the files are: `../shared/data/oasis-stix21-examples/` (the `shared_data` fixture skips with a
reason where it is absent). Seven are bundles; `interop-objectmarking-test.json` is one bare campaign,
taken as a one-object file.

Two facts of the hub decide how the content is posted:

* `created_by_ref` is the author: the OASIS objects point at the examples' own identity objects, which
  are no member of the hub, so as published they are third-party content the poster publishes (the
  poster is recorded as publisher, the author stays). A member's identity as author is refused unless
  the member publishes: `test_oasis_examples_rewritten.py` rewrites every `created_by_ref` to the
  poster's identity and pins that every object is then accepted too (a module of its own, so its hub
  has not seen these ids: the first publisher of an id owns it).
* TLP:RED goes only to named-recipient collections. The one RED object (the bare campaign, marked
  with the TLP 1.0 RED id) is posted by cert-a into its named-recipient collection africa/a-to-b,
  everything else into a group collection.

Collections: the as-published run uses asia/indicators as cert-c (coordinator), the rewritten run
africa/indicators (and africa/a-to-b) as cert-a (coordinator and owner), so the two runs never see
each other's objects. The same object version appearing in two files (one identity does) is posted
twice; the second post is a success that stores nothing new, so each (id, version) is served once.
"""

from __future__ import annotations

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


def test_oasis_examples_as_published_are_stored_with_their_authors_but_red(live, shared_data):
    examples = load_examples(shared_data)
    coll = hub_collection(live, "cert-c", "asia")
    expected: dict[tuple[str, str | None], dict[str, Any]] = {}
    for name, objs in examples.items():
        status = coll.add_objects({"objects": objs})
        assert status.total_count == len(objs), name
        refused = {f["id"]: f["message"] for f in status.failures}
        for obj in objs:
            if is_red(obj):
                assert "TLP:RED" in refused.get(obj["id"], ""), (name, obj["id"])
            else:
                assert obj["id"] not in refused, (name, obj["id"], refused.get(obj["id"]))
                expected[key(obj)] = obj
    assert len(expected) > 250
    assert any("created_by_ref" in o for o in expected.values())  # third-party authors kept
    assert served(coll) == expected
