"""One scenario against the hub and medallion 3.0 (the OASIS reference server), both through taxii2-client.

Where the two agree the test asserts equality of ids and versions (never of date_added values, which
are each server's own clock). Where medallion departs from TAXII 2.1 the test asserts both behaviours
side by side, medallion's as observed and the hub's as the specification asks, with the rule quoted.

Tests that write (re-post, delete, the stix2 sink) use ids outside the scenario and leave it as they
found it, so every comparison sees exactly the scenario.

Scenario (two envelopes, posted in order to each server):
  envelope 1: A v1 v2, B v1, M v1 (malware), C0..C3, E v2
  envelope 2: A v3, B v2, M v2, D, E v1 (an older version of E arriving after the newer one)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from taxii2client.v21 import Collection, Status, as_pages

from tests.factories import TAXII, indicator
from tests.interop.conftest import MEDALLION_PASSWORD, MEDALLION_USER, Medallion

pytestmark = pytest.mark.interop


def ts(day: int) -> str:
    return f"2024-09-{day:02d}T00:00:00.000Z"


def malware(modified: str) -> dict[str, Any]:
    return {
        "type": "malware",
        "spec_version": "2.1",
        "id": "malware--3c1c1f5e-2f55-4b8e-8f0c-5d1b9a0f4e11",
        "created": ts(1),
        "modified": modified,
        "name": "loader",
        "is_family": True,
        "object_marking_refs": [indicator(0)["object_marking_refs"][0]],
    }


A, B, C, D, E = 1, 2, 3, 10, 11
ENVELOPE_1 = [
    indicator(A, modified=ts(1)),
    indicator(A, modified=ts(2)),
    indicator(B, modified=ts(1)),
    malware(ts(1)),
    *(indicator(C + i, modified=ts(1)) for i in range(4)),
    indicator(E, modified=ts(5)),
]
ENVELOPE_2 = [
    indicator(A, modified=ts(3)),
    indicator(B, modified=ts(2)),
    malware(ts(2)),
    indicator(D, modified=ts(1)),
    indicator(E, modified=ts(4)),
]
ALL = ENVELOPE_1 + ENVELOPE_2


def iv(objs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Sorted (id, version) pairs of objects or manifest entries."""
    return sorted((o["id"], o.get("version") or o["modified"]) for o in objs)


def pick(objs: list[dict[str, Any]], rule: str) -> list[tuple[str, str]]:
    """The (id, version) pairs a spec-exact server serves for match[version]=rule."""
    by_id: dict[str, list[str]] = {}
    for o in objs:
        by_id.setdefault(o["id"], []).append(o["modified"])
    out = []
    for oid, versions in by_id.items():
        chosen = {"first": [min(versions)], "last": [max(versions)], "all": versions}[rule]
        out += [(oid, v) for v in chosen]
    return sorted(out)


@dataclass
class Peer:
    """One server under test: its taxii2-client Collection and what plain HTTP needs."""

    name: str
    collection_url: str
    auth: tuple[str, str]
    statuses: list[Status] = field(default_factory=list)

    def collection(self) -> Collection:
        return Collection(self.collection_url, user=self.auth[0], password=self.auth[1])

    def get(
        self, path: str = "objects/", params: Any = None, accept: str | None = TAXII
    ) -> requests.Response:
        headers = {} if accept is None else {"Accept": accept}
        return requests.get(
            self.collection_url + path, params=params, headers=headers, auth=self.auth, timeout=10
        )


@pytest.fixture(scope="module")
def peers(live: Any, medallion: Medallion) -> Iterator[dict[str, Peer]]:
    """The scenario posted to a fresh medallion collection and to the hub's africa/indicators (as cert-a)."""
    medallion.reset()
    hub_url = f"{live.base}/taxii2/africa/collections/{live.collections['africa/indicators']}/"
    both = {
        "hub": Peer("hub", hub_url, ("cert-a", live.keys["cert-a"])),
        "medallion": Peer("medallion", medallion.collection_url, (MEDALLION_USER, MEDALLION_PASSWORD)),
    }
    for peer in both.values():
        coll = peer.collection()
        peer.statuses = [coll.add_objects({"objects": ENVELOPE_1}), coll.add_objects({"objects": ENVELOPE_2})]
    yield both


def each(peers: dict[str, Peer]) -> Iterator[tuple[str, Collection]]:
    for name, peer in peers.items():
        yield name, peer.collection()


# ------------------------------------------------------------------ where they agree


def test_status_counts_agree_for_new_objects(peers):
    for name, peer in peers.items():
        counts = [
            (s.status, s.total_count, s.success_count, s.failure_count, s.pending_count)
            for s in peer.statuses
        ]
        assert counts == [("complete", 9, 9, 0, 0), ("complete", 5, 5, 0, 0)], name
        assert iv(peer.statuses[0].successes) == iv(ENVELOPE_1), name


def test_get_objects_default_is_the_latest_version_of_each_object(peers):
    for name, coll in each(peers):
        assert iv(coll.get_objects()["objects"]) == pick(ALL, "last"), name


@pytest.mark.parametrize("rule", ["all", "first", "last"])
def test_match_version_keyword_selects_the_same_versions(peers, rule):
    for name, coll in each(peers):
        assert iv(coll.get_objects(version=rule)["objects"]) == pick(ALL, rule), name


def test_match_version_exact_timestamp_selects_that_version(peers):
    want = sorted((o["id"], o["modified"]) for o in ALL if o["modified"] == ts(2))
    for name, coll in each(peers):
        assert iv(coll.get_objects(version=ts(2))["objects"]) == want, name


def test_match_type_selects_the_same_objects(peers):
    for name, coll in each(peers):
        got = coll.get_objects(type="malware", version="all")["objects"]
        assert iv(got) == [(malware(ts(1))["id"], ts(1)), (malware(ts(1))["id"], ts(2))], name


def test_manifest_lists_the_same_ids_and_versions(peers):
    for name, coll in each(peers):
        assert iv(coll.get_manifest(version="all")["objects"]) == pick(ALL, "all"), name
        assert iv(coll.get_manifest()["objects"]) == pick(ALL, "last"), name


def test_get_object_serves_the_latest_version_and_all_on_request(peers):
    a = indicator(A)["id"]
    for name, coll in each(peers):
        assert coll.get_object(a)["objects"] == [indicator(A, modified=ts(3))], name
        assert iv(coll.get_object(a, version="all")["objects"]) == [(a, ts(1)), (a, ts(2)), (a, ts(3))], name


def test_get_object_of_an_unknown_id_is_404_on_both(peers):
    for name, coll in each(peers):
        with pytest.raises(requests.HTTPError) as exc:
            coll.get_object(indicator(9999)["id"])
        assert exc.value.response.status_code == 404, name


def test_added_after_the_first_envelope_serves_exactly_the_second(peers):
    first = set(iv(ENVELOPE_1))
    for name, coll in each(peers):
        entries = coll.get_manifest(version="all")["objects"]
        last_of_first = max(e["date_added"] for e in entries if (e["id"], e["version"]) in first)
        got = coll.get_objects(added_after=last_of_first, version="all")["objects"]
        assert iv(got) == iv(ENVELOPE_2), name


def test_as_pages_with_a_small_page_serves_every_version_once(peers):
    for name, coll in each(peers):
        pages = list(as_pages(coll.get_objects, per_request=4, version="all"))
        assert [len(p["objects"]) for p in pages] == [4, 4, 4, 2], name
        assert [p["more"] for p in pages] == [True, True, True, False], name
        assert all(p.get("next") for p in pages[:-1]), name
        served = [o for p in pages for o in p["objects"]]
        assert iv(served) == iv(ALL), name
        manifest = [
            e for p in as_pages(coll.get_manifest, per_request=5, version="all") for e in p["objects"]
        ]
        assert iv(manifest) == iv(ALL), name


def test_wrong_accept_is_406_and_wrong_content_type_is_415_on_both(peers):
    for name, peer in peers.items():
        r = peer.get(accept="application/json")
        assert r.status_code == 406, name
        assert r.headers["content-type"].replace(" ", "") == TAXII, name
        assert r.json()["http_status"] == "406", name
        r = requests.post(
            peer.collection_url + "objects/",
            data=b'{"objects": []}',
            auth=peer.auth,
            timeout=10,
            headers={"Accept": TAXII, "Content-Type": "application/json"},
        )
        assert r.status_code == 415, name
        assert r.json()["http_status"] == "415", name


def test_date_added_headers_bound_each_page_on_both(peers):
    # TAXII 2.1 sections 5.3, 5.4, 5.6, 5.8 (manifest, objects, one object, versions): the
    # response carries X-TAXII-Date-Added-First / -Last, the date_added of the first and last item.
    a = indicator(A)["id"]
    for name, peer in peers.items():
        r = peer.get("manifest/", params={"match[version]": "all", "limit": 5})
        added = [e["date_added"] for e in r.json()["objects"]]
        assert (r.headers["X-TAXII-Date-Added-First"], r.headers["X-TAXII-Date-Added-Last"]) == (
            added[0],
            added[-1],
        )
        for path in ("objects/", f"objects/{a}/", f"objects/{a}/versions/"):
            h = peer.get(path).headers
            assert h["X-TAXII-Date-Added-First"] <= h["X-TAXII-Date-Added-Last"], (name, path)


# ------------------------------------------------------------------ where medallion departs from TAXII 2.1


def test_versions_are_listed_in_date_added_order_medallion_lists_newest_first(peers):
    # TAXII 2.1, Pagination: the paginated endpoints (5.8 Get Object Versions takes `limit` and
    # `next`) "return results sorted in ascending order by the date they were added to the collection".
    a = indicator(A)["id"]
    assert peers["hub"].collection().object_versions(a)["versions"] == [ts(1), ts(2), ts(3)]
    assert peers["medallion"].collection().object_versions(a)["versions"] == [ts(3), ts(2), ts(1)]


def test_resuming_from_date_added_last_loses_nothing_medallion_loses_objects_added_together(peers):
    # TAXII 2.1, Pagination (the CTI TC's text): "the client may paginate through the remaining
    # records by using the added_after filter parameter and the date/time value from the
    # X-TAXII-Date-Added-Last header". medallion gives every object of one POST the same date_added,
    # so resuming after a page boundary inside one envelope skips the rest of that envelope. The hub
    # gives each object its own date_added.
    def resume(peer: Peer) -> list[tuple[str, str]]:
        got, params = [], {"match[version]": "all", "limit": 3}
        while True:
            r = peer.get(params=params)
            objs = r.json().get("objects", [])
            if not objs:
                return sorted(got)
            got += iv(objs)
            params = {
                "match[version]": "all",
                "limit": 3,
                "added_after": r.headers["X-TAXII-Date-Added-Last"],
            }

    assert resume(peers["hub"]) == iv(ALL)
    lost = set(iv(ALL)) - set(resume(peers["medallion"]))
    assert len(lost) == 8  # 3 of envelope 1's 9 served, then 3 of envelope 2's 5, then nothing


def test_added_after_with_default_version_is_anded_medallion_chains_the_filters(peers):
    # TAXII 2.1, Filtering: filters are ANDed, and match[version] defaults to `last`, the
    # object's latest version. E's latest version (v2) was added in envelope 1 and its older v1 in
    # envelope 2: "added after envelope 1 AND latest version" matches no version of E. medallion
    # applies `last` only among the versions left after added_after and serves E v1 as if latest.
    first, e = set(iv(ENVELOPE_1)), indicator(E)["id"]
    served = {}
    for name, coll in each(peers):
        entries = coll.get_manifest(version="all")["objects"]
        after = max(x["date_added"] for x in entries if (x["id"], x["version"]) in first)
        served[name] = iv(coll.get_objects(added_after=after)["objects"])
    latest_of_envelope_2 = [p for p in iv(ENVELOPE_2) if p in pick(ALL, "last")]
    assert served["hub"] == latest_of_envelope_2
    assert served["medallion"] == sorted([*latest_of_envelope_2, (e, ts(4))])


def test_accept_without_version_or_wildcard_is_served_medallion_answers_406(peers):
    # TAXII 2.1, Media Types table: `application/taxii+json` without a version parameter names
    # the latest TAXII version the server supports; RFC 9110 section 12.5.1: `*/*` accepts any media type.
    for accept in ("application/taxii+json", "*/*", "application/*", None):
        assert peers["hub"].get(accept=accept).status_code == 200, accept
        assert peers["medallion"].get(accept=accept).status_code == 406, accept
    for peer in peers.values():  # both refuse a TAXII version they do not serve
        assert peer.get(accept="application/taxii+json;version=2.0").status_code == 406


def test_malformed_added_after_is_400_medallion_answers_500(peers):
    # TAXII 2.1, HTTP status codes: 400 "The server did not understand the request or
    # filter parameters". medallion's strptime ValueError escapes as a 500.
    assert peers["hub"].get(params={"added_after": "yesterday"}).status_code == 400
    assert peers["medallion"].get(params={"added_after": "yesterday"}).status_code == 500


def test_next_without_limit_is_served_medallion_answers_500(peers):
    # TAXII 2.1, URL parameters: `limit` is optional on every request, `next` included.
    # medallion's memory backend deletes filter_args["limit"] unconditionally (KeyError -> 500).
    for name, peer in peers.items():
        token = peer.get(params={"match[version]": "all", "limit": 2}).json()["next"]
        r = peer.get(params={"match[version]": "all", "next": token})
        if name == "hub":
            assert r.status_code == 200
            assert len(r.json()["objects"]) == len(ALL) - 2
        else:
            assert r.status_code == 500


def test_a_next_token_replayed_serves_the_same_page_medallion_moves_on(peers):
    # `next` is opaque (TAXII 2.1, URL parameters); the hub's is a signed position, so a retried
    # request (after a timeout, say) gets the same page. medallion's is a server-side cursor that
    # each use consumes.
    pages = {}
    for name, peer in peers.items():
        token = peer.get(params={"match[version]": "all", "limit": 2}).json()["next"]
        params = {"match[version]": "all", "limit": 2, "next": token}
        pages[name] = [iv(peer.get(params=params).json()["objects"]) for _ in range(2)]
    assert pages["hub"][0] == pages["hub"][1]
    assert pages["medallion"][0] != pages["medallion"][1]


def test_non_json_body_is_a_taxii_error_medallion_answers_html(peers):
    # TAXII 2.1, Error Message resource: errors carry the error resource in the TAXII media type.
    for name, peer in peers.items():
        r = requests.post(
            peer.collection_url + "objects/",
            data=b"not json",
            auth=peer.auth,
            timeout=10,
            headers={"Accept": TAXII, "Content-Type": TAXII},
        )
        assert r.status_code == 400, name
        if name == "hub":
            assert r.headers["content-type"] == TAXII
            assert r.json()["http_status"] == "400"
        else:
            assert r.headers["content-type"].startswith("text/html")


# ------------------------------------------------------------------ where the two differ by design


def test_reposting_a_stored_version_is_a_success_medallion_reports_a_failure(peers):
    # TAXII 2.1 does not say how a server reports a version it already holds. The hub reports success
    # (the object is there, as the client wanted: retries are safe); medallion reports a failure.
    again = ENVELOPE_2[:2]
    hub = peers["hub"].collection().add_objects({"objects": again})
    peer = peers["medallion"].collection().add_objects({"objects": again})
    assert (hub.success_count, hub.failure_count) == (2, 0)
    assert iv(hub.successes) == iv(again)
    assert (peer.success_count, peer.failure_count) == (0, 2)
    assert iv(peer.failures) == iv(again)


def test_delete_without_match_version_removes_every_version_medallion_only_the_latest(peers):
    # TAXII 2.1 section 5.7 (Delete An Object) deletes "an object"; match[version] narrows it. The hub
    # deletes every version when none is named; medallion applies the read default (`last`) and
    # leaves the older versions behind.
    objs = [indicator(50, modified=ts(1)), indicator(50, modified=ts(2))]
    oid = objs[0]["id"]
    for _name, coll in each(peers):
        coll.add_objects({"objects": objs})
        coll.delete_object(oid)
    with pytest.raises(requests.HTTPError) as exc:
        peers["hub"].collection().object_versions(oid)
    assert exc.value.response.status_code == 404
    assert peers["medallion"].collection().object_versions(oid)["versions"] == [ts(1)]
    peers["medallion"].collection().delete_object(oid, version=ts(1))  # leave the scenario as it was


# ------------------------------------------------------------------ where they agree off the TAXII path


def test_stix2_sink_adds_to_both_servers(peers):
    # stix2's TAXIICollectionSink POSTs a STIX bundle rather than an envelope; both take its objects
    import stix2

    obj = stix2.v21.Indicator(**indicator(60))
    try:
        for name in ("medallion", "hub"):
            stix2.TAXIICollectionSink(peers[name].collection()).add(obj)
            assert peers[name].collection().get_object(obj.id)["objects"][0]["id"] == obj.id, name
    finally:  # leave the scenario as it was
        for peer in peers.values():
            requests.delete(
                f"{peer.collection_url}objects/{obj.id}/",
                auth=peer.auth,
                headers={"Accept": TAXII},
                timeout=10,
            )
