"""Objects shaped to break storage or the policy layer get a status failure, never a 500."""

from __future__ import annotations

import uuid

import pytest

from tests.factories import TLP, indicator
from tests.taxii_helpers import post


def test_longest_legal_type_is_stored(client, world):
    stype = "x-" + "a" * 248  # STIX allows 250 characters
    obj = {
        "type": stype,
        "spec_version": "2.1",
        "id": f"{stype}--{uuid.uuid4()}",
        "created": "2024-01-01T00:00:00Z",
        "modified": "2024-01-01T00:00:00Z",
        "object_marking_refs": [TLP["green"]],
    }
    r = post(client, world, [obj, indicator(1)])
    assert r.status_code == 202, r.text
    assert r.json()["success_count"] == 2
    got = client.get(world.objects_url() + obj["id"] + "/", headers=world.auth("cert-b"))
    assert got.status_code == 200 and got.json()["objects"] == [obj]


def test_over_long_type_is_a_failure(client, world):
    stype = "x-" + "a" * 260
    obj = {
        "type": stype,
        "spec_version": "2.1",
        "id": f"{stype}--{uuid.uuid4()}",
        "created": "2024-01-01T00:00:00Z",
        "modified": "2024-01-01T00:00:00Z",
    }
    r = post(client, world, [obj, indicator(1)])
    assert r.status_code == 202 and r.json()["success_count"] == 1
    assert "'type'" in r.json()["failures"][0]["message"]


def test_timestamp_with_absurd_precision_is_a_failure(client, world):
    r = post(client, world, [indicator(1, modified="2024-01-01T00:00:00." + "1" * 30 + "Z"), indicator(2)])
    assert r.status_code == 202 and r.json()["success_count"] == 1
    assert "modified" in r.json()["failures"][0]["message"]


def test_nanosecond_timestamps_are_kept_as_sent(client, world):
    obj = indicator(1, modified="2024-01-01T00:00:00.123456789Z")
    assert post(client, world, [obj]).json()["success_count"] == 1
    got = client.get(world.objects_url(), headers=world.auth("cert-a")).json()["objects"]
    assert got == [obj]


@pytest.mark.parametrize(
    "granular",
    [
        "not a list",
        ["a string"],
        [{"selectors": ["description"]}],
        [{"marking_ref": TLP["amber"], "selectors": "description"}],
        [{"marking_ref": TLP["amber"], "selectors": []}],
        [{"marking_ref": 7, "selectors": ["description"]}],
        [{"marking_ref": TLP["amber"], "selectors": [3]}],
    ],
)
def test_malformed_granular_markings_are_a_failure(client, world, granular):
    r = post(client, world, [indicator(1, description="x", granular_markings=granular), indicator(2)])
    assert r.status_code == 202, r.text
    assert r.json()["success_count"] == 1
    assert "granular_markings" in r.json()["failures"][0]["message"]


def test_very_long_id_in_paths_and_filters_is_not_an_error(client, world):
    long_id = "indicator--" + "a" * 5000
    assert client.get(world.objects_url() + long_id + "/", headers=world.auth("cert-a")).status_code == 404
    r = client.get(world.objects_url(), params={"match[id]": long_id}, headers=world.auth("cert-a"))
    assert r.status_code == 200
