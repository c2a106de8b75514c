"""Kept device lists (HUB_DEVICE_LIST_MAX_AGE): served again for a while, never to another reader, never
past a change of rights, bounded on disk, built once however many devices ask at the same time."""

from __future__ import annotations

import gzip
import shutil
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub import metrics
from hub.app import create_app
from hub.lookup import downloads
from hub.lookup.device_cache import Copy, DeviceListCache, Follower
from hub.lookup.routes import gzip_etag
from hub.settings import Settings
from hub.store.models import AuditEvent
from tests.lookup.helpers import sco
from tests.taxii_helpers import store

BASE = "/console/downloads"
DOMAINS = f"{BASE}/africa/blocklist.txt?kind=domain"
MAX_AGE = 60


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def key(world: Any, org: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.keys[org]}"}


def count(outcome: str) -> float:
    return metrics.REGISTRY.get_sample_value("hub_device_lists_total", {"outcome": outcome}) or 0.0


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url="sqlite://",
        secret_key="test-secret",
        max_page_size=1000,
        max_content_length=2 * 1024 * 1024,
        device_list_max_age=MAX_AGE,
        device_list_cache_dir=tmp_path / "lists",
    )


@pytest.fixture
def clock(app: Any) -> Clock:
    c = Clock()
    app.state.device_lists.clock = c
    return c


@pytest.fixture
def data(client: Any, world: Any) -> None:
    objs = [sco("domain-name", "green.example"), sco("domain-name", "amber.example", tlp="amber")]
    store(client, world, [*objs, sco("ipv4-addr", "203.0.113.1")])


def lines(r: Any) -> list[str]:
    assert r.status_code == 200, r.text
    return sorted(r.text.splitlines())


def test_a_kept_list_is_served_until_max_age_with_its_age_and_etag(client, world, data, clock, sm):
    first = client.get(DOMAINS, headers=key(world, "cert-c"))
    assert lines(first) == ["amber.example", "green.example"] and first.headers["age"] == "0"
    etag = first.headers["etag"]
    store(client, world, [sco("domain-name", "new.example")])
    clock.now += MAX_AGE - 1
    kept = client.get(DOMAINS, headers=key(world, "cert-c"))
    # the copy built a minute ago, said to be as old as it is, with the ETag it had then (its gzip
    # copy's: the client accepts gzip, as httpx does unless told otherwise)
    assert lines(kept) == ["amber.example", "green.example"]
    assert kept.headers["etag"] == gzip_etag(etag) and kept.headers["age"] == str(MAX_AGE - 1)
    assert kept.headers["content-encoding"] == "gzip"
    assert kept.headers["last-modified"] == first.headers["last-modified"]
    for held in (etag, gzip_etag(etag)):  # the device's copy, in either encoding
        again = client.get(DOMAINS, headers={**key(world, "cert-c"), "If-None-Match": held})
        assert again.status_code == 304 and again.headers["etag"] == gzip_etag(etag) and again.content == b""
    clock.now += 2
    fresh = client.get(DOMAINS, headers={**key(world, "cert-c"), "If-None-Match": etag})
    assert lines(fresh) == ["amber.example", "green.example", "new.example"]
    assert fresh.headers["etag"] != etag and fresh.headers["age"] == "0"
    # a kept download is audited as any other, with what it sent
    with sm() as s:
        sent = [e.count for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "download-txt"))
                if e.organisation_id is not None]  # fmt: skip
    assert sorted(sent) == [0, 0, 2, 2, 3]  # the two 304s sent nothing


def test_an_unchanged_list_is_served_whatever_its_age(client, world, data, clock):
    first = client.get(DOMAINS, headers=key(world, "cert-c"))
    built = count("built")
    clock.now += 10 * MAX_AGE
    store(client, world, [sco("domain-name", "hidden.example", tlp="red")], org="cert-a", alias="a-to-b")
    later = client.get(DOMAINS, headers=key(world, "cert-c"))  # nothing cert-c may see has changed
    assert later.content == first.content and later.headers["etag"] == gzip_etag(first.headers["etag"])
    assert count("built") == built and later.headers["age"] == str(10 * MAX_AGE)


def test_max_age_zero_serves_each_change_at_once(sm, world, tmp_path):
    off = Settings(database_url="sqlite://", secret_key="test-secret", device_list_cache_dir=tmp_path / "x")
    app = create_app(off, sessionmaker=sm)
    assert app.state.device_lists is None
    with TestClient(app, base_url="http://hub.test", raise_server_exceptions=False) as c:
        store(c, world, [sco("domain-name", "green.example")])
        first = c.get(DOMAINS, headers=key(world, "cert-c"))
        store(c, world, [sco("domain-name", "new.example")])
        second = c.get(DOMAINS, headers=key(world, "cert-c"))
    assert lines(first) == ["green.example"] and lines(second) == ["green.example", "new.example"]
    assert "age" not in second.headers and not (tmp_path / "x").exists()


def test_another_member_never_gets_a_list_kept_for_one_that_reads_more(client, world, data, clock):
    assert "amber.example" in lines(client.get(DOMAINS, headers=key(world, "cert-c")))
    vendor = client.get(DOMAINS, headers=key(world, "vendor"))  # cleared GREEN
    assert lines(vendor) == ["green.example"] and vendor.headers["age"] == "0"
    # and the other way round: the reader cleared higher does not get the GREEN reader's copy
    csv_vendor = client.get(f"{BASE}/africa/blocklist.csv", headers=key(world, "vendor"))
    csv_c = client.get(f"{BASE}/africa/blocklist.csv", headers=key(world, "cert-c"))
    assert "amber.example" not in csv_vendor.text and "amber.example" in csv_c.text
    # nor does a device of the same member that asks for a GREEN ceiling
    assert lines(client.get(f"{DOMAINS}&tlp_max=green", headers=key(world, "cert-c"))) == ["green.example"]


def test_other_parameters_and_formats_never_share_a_kept_list(client, world, data, clock):
    assert lines(client.get(DOMAINS, headers=key(world, "cert-c"))) == ["amber.example", "green.example"]
    assert lines(client.get(f"{BASE}/africa/blocklist.txt?kind=ip", headers=key(world, "cert-c"))) == [
        "203.0.113.1"
    ]
    zeek = client.get(f"{BASE}/africa/zeek.intel?kind=ip", headers=key(world, "cert-c"))
    assert zeek.status_code == 200 and "203.0.113.1" in zeek.text and "green.example" not in zeek.text
    other_group = client.get(f"{BASE}/asia/blocklist.txt?kind=domain", headers=key(world, "cert-c"))
    assert other_group.status_code == 200 and other_group.text == ""


def test_lower_clearance_gets_the_lower_list_not_the_kept_one(client, world, data, clock):
    assert "amber.example" in lines(client.get(DOMAINS, headers=key(world, "cert-c")))
    r = client.patch(
        "/admin/v1/groups/africa/members/cert-c", json={"clearance": "green"}, headers=key(world, "cert-a")
    )
    assert r.status_code == 200, r.text
    assert lines(client.get(DOMAINS, headers=key(world, "cert-c"))) == ["green.example"]


def test_a_recipient_taken_off_a_named_collection_gets_no_list_kept_while_it_was_one(
    client, world, data, clock
):
    """cert-a's named collection for cert-b: once cert-a takes cert-b off it, cert-b's next download,
    well within max-age, is built without the collection, not served from the copy that held it."""
    store(client, world, [sco("domain-name", "named.example")], alias="a-to-b")
    assert "named.example" in lines(client.get(DOMAINS, headers=key(world, "cert-b")))
    r = client.patch(
        "/admin/v1/groups/africa/collections/a-to-b", json={"recipients": []}, headers=key(world, "cert-a")
    )
    assert r.status_code == 200, r.text
    clock.now += 1
    after = client.get(DOMAINS, headers=key(world, "cert-b"))
    assert "named.example" not in lines(after) and after.headers["age"] == "0"


@pytest.mark.parametrize("stale", [False, True], ids=["fresh", "stale-window"])
def test_a_removed_member_or_revoked_key_gets_nothing_kept(client, app, world, data, clock, stale):
    assert "amber.example" in lines(client.get(DOMAINS, headers=key(world, "cert-c")))
    assert "green.example" in lines(client.get(DOMAINS, headers=key(world, "vendor")))
    if stale:  # their copies are past max-age but within the window a stale copy would be served in
        app.state.device_lists.stale_s = MAX_AGE
        store(client, world, [sco("domain-name", "later.example")])
        clock.now += MAX_AGE + 1
    gone = client.delete("/admin/v1/groups/africa/members/cert-c", headers=key(world, "cert-a"))
    assert gone.status_code == 204, gone.text
    assert client.get(DOMAINS, headers=key(world, "cert-c")).status_code == 404
    key_id = world.keys["vendor"].split("_")[1]
    revoked = client.post(
        f"/admin/v1/organisations/vendor/keys/{key_id}/revoke", headers=key(world, "vendor")
    )
    assert revoked.status_code == 200, revoked.text
    assert client.get(DOMAINS, headers=key(world, "vendor")).status_code == 401
    # a key its group's coordinator suspended
    assert "green.example" in lines(client.get(DOMAINS, headers=key(world, "cert-g")))
    g_id = world.keys["cert-g"].split("_")[1]
    suspend = f"/admin/v1/groups/africa/members/cert-g/keys/{g_id}/suspend"
    assert client.post(suspend, headers=key(world, "cert-a")).status_code == 200
    assert client.get(DOMAINS, headers=key(world, "cert-g")).status_code in (403, 404)


def test_lists_beyond_the_bound_evict_the_least_recently_used_in_a_private_directory(
    client, app, world, data, clock, tmp_path
):
    cache: DeviceListCache = app.state.device_lists
    cache.max_entries = 2
    ip, url = f"{BASE}/africa/blocklist.txt?kind=ip", f"{BASE}/africa/blocklist.txt?kind=url"
    for u in (ip, DOMAINS, ip):  # ip is now the most recently used
        assert client.get(u, headers=key(world, "cert-c")).status_code == 200
    built, kept = count("built"), count("kept")
    assert client.get(url, headers=key(world, "cert-c")).status_code == 200  # a third: DOMAINS goes
    assert len(cache.entries()) == 2
    assert client.get(ip, headers=key(world, "cert-c")).headers["etag"]
    assert (count("built"), count("kept")) == (built + 1, kept + 1)
    assert client.get(DOMAINS, headers=key(world, "cert-c")).status_code == 200
    assert count("built") == built + 2
    directory = cache.directory
    assert directory.parent == tmp_path / "lists"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    files = list(directory.iterdir())
    assert len(files) == 4 and len(cache.entries()) == 2  # each list and its gzip copy
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    # a byte bound too: a list larger than it is served, not kept
    cache.max_bytes = 1
    assert lines(client.get(f"{DOMAINS}&valid=false", headers=key(world, "cert-c"))) == [
        "amber.example", "green.example",
    ]  # fmt: skip
    assert cache.entries() == {} and list(directory.iterdir()) == []


IDENTITY = {"Accept-Encoding": "identity"}


def raw(client: Any, url: str, headers: dict[str, str]) -> httpx.Response:
    """A download as the bytes came, not decoded (httpx decodes gzip unless streamed raw)."""
    with client.stream("GET", url, headers=headers) as r:
        r.raw_bytes = b"".join(r.iter_raw())
    return r


def test_a_kept_list_is_served_gzip_to_a_client_that_accepts_it(client, app, world, data, clock):
    plain = client.get(DOMAINS, headers={**key(world, "cert-c"), **IDENTITY})  # the build, followed
    assert "content-encoding" not in plain.headers and plain.headers["age"] == "0"
    assert plain.headers["vary"] == "Authorization, Accept-Encoding"
    etag = plain.headers["etag"]
    for accept in ("gzip", "deflate, gzip;q=0.5", "x-gzip", "*", "br;q=1, *;q=0.1"):
        r = raw(client, DOMAINS, {**key(world, "cert-c"), "Accept-Encoding": accept})
        assert r.status_code == 200 and r.headers["content-encoding"] == "gzip", accept
        assert gzip.decompress(r.raw_bytes) == plain.content  # the same list, byte for byte
        assert int(r.headers["content-length"]) == len(r.raw_bytes) < len(plain.content) + 64
        assert r.headers["etag"] == gzip_etag(etag) and r.headers["vary"] == "Authorization, Accept-Encoding"
    for accept in ("identity", "gzip;q=0", "gzip;q=0, *", "*;q=0", "gzip;q=zero", "deflate, br", ""):
        r = raw(client, DOMAINS, {**key(world, "cert-c"), "Accept-Encoding": accept})
        assert "content-encoding" not in r.headers and r.raw_bytes == plain.content, accept
        assert r.headers["etag"] == etag and int(r.headers["content-length"]) == len(plain.content)
    # both copies count against the bytes bound, and leave with their entry
    cache: DeviceListCache = app.state.device_lists
    (k,) = cache.entries().values()
    assert k.gz_path is not None and k.gz_size > 0 and cache._bytes == k.size + k.gz_size
    cache.max_bytes = k.size  # the list alone would fit; with its gzip copy it does not
    clock.now += MAX_AGE + 1
    store(client, world, [sco("domain-name", "new.example")])
    assert "new.example" in lines(client.get(DOMAINS, headers=key(world, "cert-c")))
    assert cache.entries() == {} and list(cache.directory.iterdir()) == []


def test_a_gzip_copy_is_never_another_readers(client, world, data, clock):
    """The gzip copies follow their lists' lineage: a GREEN reader asking for gzip after an AMBER
    reader's list (and its gzip copy) is kept gets its own, and the other way round."""
    for _ in range(2):  # built, then kept: the second answer is the kept gzip copy
        c = client.get(DOMAINS, headers=key(world, "cert-c"))
    assert c.headers["content-encoding"] == "gzip" and lines(c) == ["amber.example", "green.example"]
    for _ in range(2):
        v = client.get(DOMAINS, headers=key(world, "vendor"))
        assert lines(v) == ["green.example"]
    assert v.headers["content-encoding"] == "gzip" and v.headers["etag"] != c.headers["etag"]
    again = client.get(DOMAINS, headers=key(world, "cert-c"))
    assert lines(again) == ["amber.example", "green.example"]
    # a GREEN reader holding the AMBER reader's gzip ETag learns nothing from it: no 304
    held = client.get(DOMAINS, headers={**key(world, "vendor"), "If-None-Match": c.headers["etag"]})
    assert held.status_code == 200 and lines(held) == ["green.example"]


def test_a_build_that_fails_leaves_no_gzip_copy(tmp_path):
    cache = _cache(tmp_path)

    def produce(counts: dict[str, int]) -> Iterator[bytes]:
        yield b"a.example\n" * 1000
        raise RuntimeError("the database went away")

    got = cache.follow("L", '"e"', None, produce, gzip=True)
    assert isinstance(got, Follower)  # a build is followed uncompressed
    with pytest.raises(RuntimeError):
        list(got.rest(got.first()))
    assert cache.entries() == {} and list(cache.directory.iterdir()) == []


def test_a_list_that_cannot_be_kept_is_built_for_the_request(client, app, world, data, clock, tmp_path):
    cache: DeviceListCache = app.state.device_lists
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    cache._parent, cache._dir = blocker, None  # no directory can be made there
    r = client.get(DOMAINS, headers=key(world, "cert-c"))
    assert lines(r) == ["amber.example", "green.example"] and "age" not in r.headers
    assert cache.entries() == {}


# ------------------------------------------------------------------ the cache itself


def _cache(tmp_path: Path) -> DeviceListCache:
    return DeviceListCache(max_age_s=60, max_entries=4, max_bytes=1 << 20, parent=tmp_path / "c")


def _read(got: Copy | Follower) -> bytes:
    if isinstance(got, Copy):
        return b"".join(got.chunks())
    return b"".join(got.rest(got.first()))


def test_a_build_that_fails_midway_leaves_no_entry_and_no_lock(tmp_path):
    cache = _cache(tmp_path)

    def broken(counts: dict[str, int]) -> Iterator[bytes]:
        yield b"first half\n"
        raise OSError("the disk went away")

    got = cache.follow("lineage", '"e1"', None, broken)
    assert isinstance(got, Follower)
    with pytest.raises(RuntimeError):
        _read(got)
    assert cache.entries() == {} and list(cache.directory.iterdir()) == []

    def refused(counts: dict[str, int]) -> Iterator[bytes]:
        raise LookupError("before any byte")
        yield b""

    got = cache.follow("lineage", '"e1"', None, refused)
    assert isinstance(got, Follower)
    with pytest.raises(LookupError):  # the build's own error, for the request to answer with
        got.first()
    assert cache.entries() == {} and list(cache.directory.iterdir()) == []

    def whole(counts: dict[str, int]) -> Iterator[bytes]:
        counts["c"] = 2
        yield b"a\n"
        yield b"b\n"

    got = cache.follow("lineage", '"e1"', None, whole)  # the lineage is not wedged
    assert _read(got) == b"a\nb\n"
    (entry,) = cache.entries().values()
    assert entry.counts == {"c": 2} and entry.path.read_bytes() == b"a\nb\n"
    again = cache.kept("lineage", '"e2"')
    assert again is not None and _read(again) == b"a\nb\n"
    # a cleaner of temporary files removes the directory: the copy is gone, a new build makes it again
    shutil.rmtree(cache.directory)
    assert cache.kept("lineage", '"e1"') is None
    assert _read(cache.follow("lineage", '"e1"', None, whole)) == b"a\nb\n"
    assert len(cache.entries()) == 1 and stat.S_IMODE(cache.directory.stat().st_mode) == 0o700
    cache.close()
    assert list((tmp_path / "c").iterdir()) == []


def race(target: Any, n: int, release: threading.Event) -> None:
    """`n` threads run `target` on a cold list whose build waits for `release`: once all but the first
    have joined that build (or 30 s have passed), the build is let go and the threads end."""
    joined = count("joined")
    threads = [threading.Thread(target=target) for _ in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while count("joined") < joined + n - 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    for t in threads:
        t.join(60)


def test_concurrent_followers_share_one_build(tmp_path):
    cache = _cache(tmp_path)
    release = threading.Event()
    calls: list[int] = []

    def slow(counts: dict[str, int]) -> Iterator[bytes]:
        calls.append(1)
        yield b"x" * 1000
        release.wait(30)
        yield b"y\n"

    results: list[bytes] = []

    def ask() -> None:
        results.append(_read(cache.follow("lin", '"e"', None, slow)))

    race(ask, 5, release)
    assert calls == [1] and results == [b"x" * 1000 + b"y\n"] * 5


# ------------------------------------------------------------------ a real server, real concurrency


@pytest.fixture(scope="module")
def live_overrides() -> dict[str, Any]:
    return {"device_list_max_age": MAX_AGE}


def test_concurrent_devices_on_a_cold_list_cause_one_build(live, monkeypatch):
    world = live
    with httpx.Client(base_url=world.base, timeout=60) as c:
        store(c, world, [sco("domain-name", f"d{i}.example") for i in range(50)])
    calls: list[int] = []
    release = threading.Event()
    real = downloads.blocklist

    def gated(*args: Any, **kw: Any) -> Iterator[bytes]:
        calls.append(1)
        release.wait(30)
        yield from real(*args, **kw)

    monkeypatch.setattr(downloads, "blocklist", gated)
    answers: list[httpx.Response] = []

    def device() -> None:
        with httpx.Client(base_url=world.base, timeout=60) as c:
            answers.append(c.get(DOMAINS, headers=key(world, "cert-c")))

    race(device, 6, release)
    assert calls == [1]
    assert [a.status_code for a in answers] == [200] * 6
    assert len({a.text for a in answers}) == 1
    assert sorted(answers[0].text.splitlines()) == sorted(f"d{i}.example" for i in range(50))


def test_past_max_age_a_copy_is_served_while_its_replacement_is_built(tmp_path):
    """stale-while-revalidate: a copy at most `stale_s` past max-age is the answer while the lineage's
    new build runs (one build, however many ask); past that, or with no copy, the build is followed."""
    clock = Clock()
    cache = DeviceListCache(
        max_age_s=60, stale_s=30, max_entries=4, max_bytes=1 << 20, parent=tmp_path / "c", clock=clock
    )
    assert _read(cache.follow("L", '"old"', None, lambda counts: iter([b"old\n"]))) == b"old\n"
    release = threading.Event()
    calls: list[int] = []

    def slow(counts: dict[str, int]) -> Iterator[bytes]:
        calls.append(1)
        release.wait(30)
        yield b"new\n"

    clock.now += 60 + 30  # past max-age, within the stale window: the old copy, at once, and one build
    stale = count("stale")
    answers = [cache.follow("L", '"new"', None, slow) for _ in range(3)]
    assert all(isinstance(a, Copy) and a.age_s == 90 for a in answers)
    assert [_read(a) for a in answers] == [b"old\n"] * 3
    deadline = time.monotonic() + 30
    while not calls and time.monotonic() < deadline:  # the build runs in a thread of its own
        time.sleep(0.01)
    assert calls == [1]
    assert count("stale") == stale + 3
    # the copy's own validators are served with it: a device holding the old ETag gets a 304 for it
    held = cache.kept("L", '"old"')
    assert held is not None
    held.close()
    release.set()
    deadline = time.monotonic() + 30
    while cache.entries()["L"].etag != '"new"' and time.monotonic() < deadline:
        time.sleep(0.01)
    got = cache.kept("L", '"new"')
    assert got is not None and _read(got) == b"new\n" and calls == [1]

    # past the stale window, the build is followed: the answer is today's list
    clock.now += 60 + 30 + 1
    release.clear()
    follower = cache.follow("L", '"newer"', None, lambda counts: iter([b"newer\n"]))
    assert isinstance(follower, Follower) and _read(follower) == b"newer\n"
    # and without a stale window (the default), past max-age is always a build followed
    plain = _cache(tmp_path / "plain")
    plain.clock = clock
    assert _read(plain.follow("L", '"a"', None, lambda counts: iter([b"a\n"]))) == b"a\n"
    clock.now += 61
    followed = plain.follow("L", '"b"', None, lambda counts: iter([b"b\n"]))
    assert isinstance(followed, Follower) and _read(followed) == b"b\n"


def test_a_stale_copy_is_served_over_http_only_to_its_own_lineage(live):
    """Through a real server: past max-age a device gets its previous list at once (`Age` says how old)
    while the new one is built, then the new one; another reader never gets that copy."""
    world = live
    app = world.server.server.config.app
    cache: DeviceListCache = app.state.device_lists
    c = Clock()
    urls = f"{BASE}/africa/blocklist.txt?kind=url"
    cache.clock, cache.stale_s = c, MAX_AGE
    try:
        with httpx.Client(base_url=world.base, timeout=60) as client:
            store(client, world, [sco("url", "http://stale.example/a"), sco("url", "http://stale.example/b")])
            first = client.get(urls, headers=key(world, "cert-c"))
            before = set(lines(first))
            assert {"http://stale.example/a", "http://stale.example/b"} <= before
            store(client, world, [sco("url", "http://stale.example/new")])
            c.now += MAX_AGE + 5
            stale = client.get(urls, headers=key(world, "cert-c"))
            assert set(lines(stale)) == before and stale.headers["age"] == str(MAX_AGE + 5)
            assert stale.headers["etag"] == gzip_etag(first.headers["etag"])
            # the vendor's lineage is its own: built for it, never cert-c's copy
            vendor = client.get(urls, headers=key(world, "vendor"))
            assert "http://stale.example/new" in lines(vendor) and vendor.headers["age"] == "0"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                fresh = client.get(urls, headers=key(world, "cert-c"))
                if fresh.headers["age"] == "0":
                    break
                time.sleep(0.05)
            assert set(lines(fresh)) == before | {"http://stale.example/new"}
    finally:
        cache.clock, cache.stale_s = time.monotonic, 0
