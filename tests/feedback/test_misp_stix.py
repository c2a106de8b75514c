"""misp-stix (MISP's STIX 2.1 import) reads the hub's feedback back: a sighting as a MISP sighting of
the indicator's attribute, by the reporting organisation; a false positive (opinion strongly-disagree)
as MISP's "strongly disagree" opinion on that attribute."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from stix2.parsing import parse

from connectors.misp import _load_misp_stix
from tests.factories import World
from tests.feedback.helpers import false_positive, sighting
from tests.feedback.test_reports import _post, ip_indicator
from tests.taxii_helpers import store as post


def test_misp_stix_reads_the_hubs_sightings_and_opinions(client: Any, world: World) -> None:
    ind = ip_indicator(41, tlp="green")
    post(client, world, [ind], org="cert-b")
    vendor = world.identities["vendor"]
    reports = [sighting(ind["id"], identity=vendor, count=2), false_positive(ind["id"], identity=vendor)]
    assert _post(client, world, "vendor", reports).json()["success_count"] == 2
    # what the publisher reads over TAXII, with the reporter's identity (the hub's record of the member)
    got = client.get(world.objects_url(), headers=world.auth("cert-b")).json()["objects"]
    assert {o["type"] for o in got} == {"indicator", "sighting", "opinion"}
    identity = {
        "type": "identity", "spec_version": "2.1", "id": vendor, "name": "VENDOR",
        "identity_class": "organization", "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z",
    }  # fmt: skip
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [identity, *got]}
    _load_misp_stix()  # misp-stix imported as the MISP connector does (its six importer adapted)
    from misp_stix_converter import ExternalSTIX2toMISPParser

    parser = ExternalSTIX2toMISPParser()
    parser.load_stix_bundle(parse(orjson.dumps(bundle).decode(), allow_custom=True))
    parser.parse_stix_bundle()
    [attribute] = parser.misp_event.attributes
    assert (attribute.type, attribute.value) == ("ip-dst", "203.0.113.41")
    [seen] = attribute.sightings
    assert seen.type == "0" and seen.Organisation["name"] == "VENDOR"
    [opinion] = attribute.opinions
    assert int(opinion.opinion) == 0  # MISP's "strongly disagree"
