"""Several clients at once against one hub: concurrent pushes and reads all succeed, nothing is lost."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import orjson
import pytest

from tests.factories import indicator

pytestmark = pytest.mark.interop


def test_concurrent_pushes_and_reads_all_succeed(live):
    url = live.base + live.objects_url("africa", "indicators")
    errors: list[str] = []
    statuses: list[int] = []
    lock = threading.Lock()

    def push(worker: int) -> None:
        with httpx.Client(timeout=60) as http:
            for batch in range(5):
                objs = [
                    indicator(500_000 + worker * 10_000 + batch * 100 + i, tlp="green") for i in range(100)
                ]
                r = http.post(
                    url, content=orjson.dumps({"objects": objs}), headers=live.post_headers("cert-b")
                )
                with lock:
                    statuses.append(r.status_code)
                    if r.status_code != 202 or r.json()["success_count"] != 100:
                        errors.append(r.text[:300])

    def read() -> None:
        with httpx.Client(timeout=60) as http:
            for _ in range(10):
                r = http.get(url, params={"limit": 50}, headers=live.auth("cert-c"))
                with lock:
                    statuses.append(r.status_code)
                    if r.status_code != 200:
                        errors.append(r.text[:300])

    threads = [threading.Thread(target=push, args=(w,)) for w in range(4)]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert statuses.count(202) == 20
    ids = set()
    params = {"limit": 1000, "match[type]": "indicator"}
    while True:
        body = httpx.get(url, params=params, headers=live.auth("cert-b")).json()
        ids |= {o["id"] for o in body.get("objects", [])}
        if not body.get("more"):
            break
        params["next"] = body["next"]
    want = {
        indicator(500_000 + w * 10_000 + b * 100 + i)["id"]
        for w in range(4)
        for b in range(5)
        for i in range(100)
    }
    assert want <= ids


def _pull_all(
    http: httpx.Client, url: str, headers: dict[str, str], params: dict[str, Any]
) -> tuple[list[str], str | None]:
    """Follow `next` to the end: the ids served, in order, and the last date added."""
    seen: list[str] = []
    last = None
    params = dict(params)
    while True:
        r = http.get(url, params=params, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        seen += [o["id"] for o in body.get("objects", [])]
        last = r.headers.get("X-TAXII-Date-Added-Last", last)
        if not body.get("more"):
            return seen, last
        params["next"] = body["next"]


def test_incremental_readers_never_skip_an_object_while_many_writers_commit(live):
    """DESIGN "The record's order is safe": with writers committing at once, a reader resuming with
    added_after = the last X-TAXII-Date-Added-Last it saw, and one following `next`, each see every
    committed object exactly once."""
    url = live.base + live.objects_url("africa", "indicators")
    writers, envelopes, size = 12, 4, 200
    done = threading.Event()
    errors: list[str] = []
    views: dict[str, list[str]] = {"added_after": [], "next": []}

    def write(w: int) -> None:
        with httpx.Client(timeout=60) as http:
            for e in range(envelopes):
                objs = [indicator(700_000 + w * 10_000 + e * 100 + i, tlp="green") for i in range(size)]
                r = http.post(
                    url, content=orjson.dumps({"objects": objs}), headers=live.post_headers("cert-b")
                )
                if r.status_code != 202 or r.json()["success_count"] != size:
                    errors.append(r.text[:300])

    def read(how: str) -> None:
        cursor: str | None = None
        with httpx.Client(timeout=60) as http:
            while True:
                finished = done.is_set()  # read once more after the last writer finished
                params: dict[str, Any] = {"limit": 10 if how == "next" else 25, "match[type]": "indicator"}
                if cursor:
                    params["added_after"] = cursor
                if how == "next":
                    seen, last = _pull_all(http, url, live.auth("cert-c"), params)
                else:
                    r = http.get(url, params=params, headers=live.auth("cert-c"))
                    seen = [o["id"] for o in r.json().get("objects", [])]
                    last = r.headers.get("X-TAXII-Date-Added-Last")
                views[how] += seen
                cursor = last or cursor
                if finished and not seen:
                    return

    readers = [threading.Thread(target=read, args=(how,)) for how in views]
    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in readers + threads:
        t.start()
    for t in threads:
        t.join(300)
    done.set()
    for t in readers:
        t.join(300)
    assert not errors, errors
    want = {
        indicator(700_000 + w * 10_000 + e * 100 + i)["id"]
        for w in range(writers)
        for e in range(envelopes)
        for i in range(size)
    }
    for how, seen in views.items():
        mine = [i for i in seen if i in want]
        assert len(mine) == len(set(mine)), f"{how}: an object was served twice"
        assert set(mine) == want, f"{how}: {len(want - set(mine))} of {len(want)} objects were never served"
