"""Several clients at once against one hub: concurrent pushes and reads all succeed, nothing is lost."""

from __future__ import annotations

import threading

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
