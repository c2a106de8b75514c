"""Generated hostile query strings, paths, headers and bodies at every TAXII endpoint: never a 5xx.

A canary object sits in a collection the attackers may read but not write; it must come out of the
barrage byte for byte.
"""

from __future__ import annotations

import json
import os
from urllib.parse import quote

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import TAXII, indicator

PARAMS = [
    "added_after", "limit", "next", "match[id]", "match[type]", "match[version]", "match[spec_version]",
    "match[other]", "", "limit[]",
]  # fmt: skip
NASTY = [
    "²", "١٢", "-1", "0", "9" * 5000, "1e9", "2024-01-01T00:00:00Z", "2024-13-45T99:99:99Z", "first", "last",
    "all", "\u0000", "%00", "' OR 1=1 --", "../../etc/passwd", "\ud7ff" * 50, ",,,,", "a," * 300,
    "indicator--00000000-0000-4000-8000-000000000000", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
]  # fmt: skip
text = st.one_of(st.sampled_from(NASTY), st.text(max_size=60))
query = st.lists(st.tuples(st.sampled_from(PARAMS), text), max_size=6)
segment = st.one_of(
    st.sampled_from(["africa", "asia", "nowhere", "..", "%2e%2e", "x" * 400, "\u0000", "²"]),
    st.text(min_size=1, max_size=40).filter(lambda s: "/" not in s and "?" not in s and "#" not in s),
)


def _dumps(value: object) -> bytes:
    # the standard library's encoder writes any integer; orjson stops at 64 bits
    return json.dumps(value).encode()


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=20,
)
stix_like = st.builds(
    lambda n, extra: {**indicator(n), **extra},
    st.integers(0, 50),
    st.dictionaries(
        st.sampled_from(["id", "type", "spec_version", "created", "modified", "pattern", "pattern_type",
                         "object_marking_refs", "granular_markings", "valid_from", "valid_until", "x_y"]),
        json_value,
        max_size=3,
    ),
)  # fmt: skip
body = st.one_of(
    st.binary(max_size=200),
    json_value.map(_dumps),
    st.lists(st.one_of(stix_like, json_value), max_size=8).map(lambda objs: _dumps({"objects": objs})),
    st.sampled_from([b'{"objects": [' + b"[" * 2000 + b"]" * 2000 + b"]}", b'{"objects": {}}', b"\xff\xfe"]),
)
header = st.one_of(
    st.none(),
    st.sampled_from(["Bearer ", "Bearer hub_0123456789abcdef_x", "Basic !!!", "Basic " + "A" * 5000]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80),  # what HTTP can carry
)
ENDPOINTS = ["discovery", "root", "status", "collections", "collection", "objects", "post", "object",
             "delete", "manifest", "versions"]  # fmt: skip


def _path(what: str, world, root: str, coll: str, obj: str) -> str:
    root, coll, obj = (quote(x, safe="") for x in (root, coll, obj))
    base = f"/taxii2/{root}/collections/{coll}/"
    return {
        "discovery": "/taxii2/",
        "root": f"/taxii2/{root}/",
        "status": f"/taxii2/{root}/status/{obj}/",
        "collections": f"/taxii2/{root}/collections/",
        "collection": base,
        "objects": base + "objects/",
        "post": base + "objects/",
        "object": base + f"objects/{obj}/",
        "delete": base + f"objects/{obj}/",
        "manifest": base + "manifest/",
        "versions": base + f"objects/{obj}/versions/",
    }[what]


@settings(
    max_examples=int(os.environ.get("HUB_HOSTILE_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    what=st.sampled_from(ENDPOINTS),
    who=st.sampled_from(["cert-a", "cert-b", "cert-c", "outsider"]),
    real_root=st.booleans(),
    root=segment,
    real_coll=st.booleans(),
    coll=segment,
    obj=st.one_of(segment, st.just(indicator(0)["id"])),
    params=query,
    payload=body,
    auth=header,
    content_type=st.sampled_from([TAXII, "application/json", "text/plain", "", TAXII + ";x=" + "y" * 300]),
)
def test_no_hostile_request_gets_a_5xx_and_the_canary_survives(
    client, world, what, who, real_root, root, real_coll, coll, obj, params, payload, auth, content_type
):
    canary_url = world.objects_url("asia", "indicators")
    canary = indicator(0, tlp="green")
    if not client.get(canary_url, headers=world.auth("cert-a")).json().get("objects"):
        r = client.post(
            canary_url, content=orjson.dumps({"objects": [canary]}), headers=world.post_headers("cert-c")
        )
        assert r.status_code == 202 and r.json()["success_count"] == 1
    if real_root:
        root = "africa"
    if real_coll:
        coll = world.collections["africa/indicators"]
    headers = world.auth(who) if auth is None else {"Authorization": auth, "Accept": TAXII}
    if content_type:
        headers["Content-Type"] = content_type
    path = _path(what, world, root, coll, obj)
    method = {"post": "POST", "delete": "DELETE"}.get(what, "GET")
    r = client.request(
        method, path, params=params, headers=headers, content=payload if method == "POST" else None
    )
    assert r.status_code < 500, (method, path, params, r.status_code, r.text[:300])
    assert r.headers.get("cache-control") == "no-store"
    if r.status_code >= 400 and r.content:
        assert r.json()["http_status"] == str(r.status_code)
    got = client.get(canary_url, headers=world.auth("cert-a"))
    assert got.status_code == 200 and got.json()["objects"] == [canary]
