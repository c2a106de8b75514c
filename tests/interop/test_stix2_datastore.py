"""The stix2 library's TAXII data store (TAXIICollectionSource / Sink, stix2 3.0) over taxii2-client."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stix2
from stix2 import Filter, TAXIICollectionSink, TAXIICollectionSource
from stix2.datastore import DataSourceError

from tests.factories import TLP, indicator
from tests.interop.conftest import hub_collection

pytestmark = pytest.mark.interop

T0 = "2024-01-01T00:00:00.000Z"


def stix_indicator(n: int, modified: str = T0, tlp: str = "green") -> stix2.v21.Indicator:
    return stix2.v21.Indicator(**indicator(n, modified=modified, tlp=tlp))


def stix_malware(n: int) -> stix2.v21.Malware:
    return stix2.v21.Malware(
        id=f"malware--00000000-0000-4000-9000-{n:012d}",
        created=T0,
        modified=T0,
        name=f"family {n}",
        is_family=True,
        object_marking_refs=[TLP["green"]],
    )


def post(live: Any, org: str, objs: list[Any]) -> None:
    """Store stix2 objects through taxii2-client, as a TAXII envelope."""
    status = hub_collection(live, org).add_objects({"objects": [json.loads(o.serialize()) for o in objs]})
    assert status.success_count == len(objs), status.failures


def test_source_get_returns_the_latest_version_as_a_stix2_object(live):
    versions = [stix_indicator(1, modified=f"2024-02-0{d}T00:00:00.000Z") for d in (1, 2, 3)]
    post(live, "cert-b", versions)
    got = TAXIICollectionSource(hub_collection(live, "cert-c")).get(versions[0].id)
    assert isinstance(got, stix2.v21.Indicator)
    assert got == versions[-1]


def test_source_get_of_an_unknown_id_is_none(live):
    assert TAXIICollectionSource(hub_collection(live, "cert-c")).get(stix_indicator(999).id) is None


def test_source_all_versions_returns_every_version(live):
    versions = [stix_indicator(10, modified=f"2024-03-0{d}T00:00:00.000Z") for d in (1, 2, 3, 4)]
    post(live, "cert-b", versions)
    got = TAXIICollectionSource(hub_collection(live, "cert-c")).all_versions(versions[0].id)
    assert sorted(got, key=lambda o: o.modified) == versions


def test_source_query_type_filter_pages_through_the_hub(live):
    families = [stix_malware(n) for n in range(20, 27)]
    post(live, "cert-b", [*families, *(stix_indicator(n) for n in range(20, 25))])
    source = TAXIICollectionSource(hub_collection(live, "cert-c"), items_per_page=3)
    got = source.query([Filter("type", "=", "malware")])
    assert sorted(got, key=lambda o: o.id) == sorted(families, key=lambda o: o.id)
    named = source.query([Filter("type", "=", "malware"), Filter("name", "=", "family 22")])  # local filter
    assert [o.id for o in named] == [stix_malware(22).id]


def test_source_query_indicators_only_returns_indicators(live):
    post(live, "cert-b", [stix_indicator(n) for n in range(30, 33)])
    got = TAXIICollectionSource(hub_collection(live, "cert-c")).query([Filter("type", "=", "indicator")])
    assert got
    assert {o.type for o in got} == {"indicator"}
    assert {stix_indicator(n).id for n in range(30, 33)} <= {o.id for o in got}


def test_source_query_hides_objects_above_the_readers_clearance(live):
    green, amber = stix_indicator(40, tlp="green"), stix_indicator(41, tlp="amber")
    post(live, "cert-b", [green, amber])
    vendor = TAXIICollectionSource(hub_collection(live, "vendor"))  # reader, clearance green
    ids = {o.id for o in vendor.query([Filter("type", "=", "indicator")])}
    assert green.id in ids
    assert amber.id not in ids
    assert vendor.get(amber.id) is None
    assert TAXIICollectionSource(hub_collection(live, "cert-c")).get(amber.id) == amber


def test_sink_refuses_a_collection_the_caller_cannot_write(live):
    with pytest.raises(DataSourceError):
        TAXIICollectionSink(hub_collection(live, "vendor"))


@pytest.mark.parametrize("shape", ["object", "bundle", "list", "json"])
def test_sink_add_stores_stix2_content_in_every_shape_it_takes(live, shape):
    # the sink always POSTs a serialised STIX Bundle ({type: bundle, id, objects}), not a TAXII envelope;
    # the hub takes the bundle's objects as an envelope's (as medallion does)
    n = {"object": 50, "bundle": 60, "list": 70, "json": 80}[shape]
    objs = [stix_indicator(n), stix_malware(n)]
    data: Any = {
        "object": objs[0],
        "bundle": stix2.v21.Bundle(*objs),
        "list": objs,
        "json": stix2.v21.Bundle(*objs).serialize(),
    }[shape]
    sent = objs[:1] if shape == "object" else objs
    TAXIICollectionSink(hub_collection(live, "cert-b")).add(data)
    source = TAXIICollectionSource(hub_collection(live, "cert-c"))
    assert [source.get(o.id) for o in sent] == sent
