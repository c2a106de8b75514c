"""A coordinator's feed reaches only the public internet (issue 17, observation 3).

Every target here is a real HTTP server on 127.0.0.1 that records what it is asked: a refused feed
must have sent it nothing. Host names are resolved by a resolver the test sets on the guard
(`hub.net.system_resolver`), so a name can resolve to a loopback or private address.
"""

from __future__ import annotations

import http.server
import re
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from hub import net
from hub.net import UNREACHABLE
from hub.settings import Settings
from hub.sync.worker import run_named
from tests.conftest import free_port
from tests.sync.conftest import cli  # noqa: F401  (the `hub` command on the test database)

BLOCKLIST = b"198.51.100.7\nevil.example\n"


class Target:
    """A recording HTTP server on 127.0.0.1: `routes` maps a path to (status, headers, body)."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        target = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                target.seen.append(self.path)
                status, headers, body = target.routes.get(self.path.split("?")[0], (404, {}, b"not here"))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_a: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.daemon = True
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def target() -> Iterator[Target]:
    t = Target()
    t.routes["/list.txt"] = (200, {}, BLOCKLIST)
    yield t
    t.close()


@pytest.fixture
def second() -> Iterator[Target]:
    t = Target()
    t.routes["/secret"] = (200, {}, b"internal.example\n")
    yield t
    t.close()


def declare(api: Any, url: str, name: str = "a-list", who: str = "cert-a", **extra: Any) -> Any:
    body = {"name": name, "format": "text", "url": url, "collection": "indicators",
            "publish_as": who, "tlp": "green", **extra}  # fmt: skip
    return api(who, "POST", "/groups/africa/feeds", json={k: v for k, v in body.items() if v is not None})


def resolve_to(monkeypatch: pytest.MonkeyPatch, table: dict[str, list[str]]) -> list[str]:
    """Make the guard resolve names from `table` (others do not resolve); returns the names asked."""
    asked: list[str] = []

    def resolver(host: str, _port: int) -> list[str]:
        asked.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    monkeypatch.setattr(net, "system_resolver", resolver)
    return asked


def notes_of(sm: Any, name: str) -> str:
    """The notes of a feed's last run (shown on the console's feed page)."""
    from sqlalchemy import select

    from hub.sync.models import Feed, FeedRun

    with sm() as session:
        run = session.scalars(
            select(FeedRun).join(Feed, Feed.id == FeedRun.feed_id).where(Feed.name == name)
        ).first()
        return (run.notes or "") if run else ""


def without_url(error: str | None) -> str:
    return re.sub(r"https?://\S+?: ", "", error or "", flags=re.IGNORECASE)


LOOPBACK_SPELLINGS = [
    "127.0.0.1", "127.1", "0x7f000001", "2130706433", "0177.0.0.1", "[::1]", "localhost", "LOCALHOST",
    "feeds.localhost", "0.0.0.0",  # noqa: S104 "[::]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[2002:7f00:1::]",
    "[64:ff9b::7f00:1]",
]  # fmt: skip
INTERNAL = [
    "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "224.0.0.1",
    "240.0.0.1", "255.255.255.255", "198.18.0.1", "192.0.2.1", "[fe80::1]", "[fc00::1]", "[fd12::1]",
    "[ff02::1]", "[::ffff:10.0.0.1]", "[::ffff:169.254.169.254]",
]  # fmt: skip


def test_a_coordinator_feed_to_loopback_in_any_spelling_is_refused_and_sends_nothing(api, sm, target):
    for i, host in enumerate(LOOPBACK_SPELLINGS):
        for scheme in ("http", "HTTP", "hTTpS"):
            r = declare(api, f"{scheme}://{host}:{target.port}/list.txt", name=f"lo-{i}")
            assert r.status_code == 422, (host, scheme, r.text)
            assert (
                "public internet" in r.json()["description"]
                and "HUB_OUTBOUND_ALLOW" in r.json()["description"]
            )
    assert api("cert-a", "GET", "/groups/africa/feeds").json() == []
    assert target.seen == []


def test_a_coordinator_feed_to_private_link_local_cgnat_multicast_or_reserved_space_is_refused(api):
    for i, host in enumerate(INTERNAL):
        r = declare(api, f"http://{host}/feed.txt", name=f"in-{i}")
        assert r.status_code == 422, (host, r.text)
    assert api("cert-a", "GET", "/groups/africa/feeds").json() == []


def test_a_coordinator_cannot_change_a_feed_to_an_internal_address(api, monkeypatch):
    resolve_to(monkeypatch, {})
    assert declare(api, "https://feeds.example/list.txt").status_code == 201
    r = api("cert-a", "PATCH", "/groups/africa/feeds/a-list", json={"url": "http://169.254.169.254/latest"})
    assert r.status_code == 422
    assert (
        api("cert-a", "GET", "/groups/africa/feeds/a-list").json()["url"] == "https://feeds.example/list.txt"
    )


def test_a_name_resolving_to_loopback_when_the_feed_runs_is_refused_and_sends_nothing(
    api, sm, target, monkeypatch
):
    # the name is judged when the feed connects, not when it is declared: a name that resolves to a
    # public address at declaration and to 127.0.0.1 at run time (DNS rebinding) gets nothing
    asked = resolve_to(monkeypatch, {"feeds.rebind.test": ["127.0.0.1"]})
    assert declare(api, f"http://feeds.rebind.test:{target.port}/list.txt").status_code == 201
    done = run_named(sm, "a-list", worker_id="w1")
    assert not done.outcome.ok and without_url(done.outcome.error) == UNREACHABLE
    assert asked == ["feeds.rebind.test"] and target.seen == []
    # one internal address among public ones refuses the host: every address is checked
    resolve_to(monkeypatch, {"feeds.rebind.test": ["8.8.8.8", "127.0.0.1"]})
    done = run_named(sm, "a-list", worker_id="w1")
    assert not done.outcome.ok and without_url(done.outcome.error) == UNREACHABLE
    assert target.seen == []
    stats = api("cert-a", "GET", "/groups/africa/stats").json()["feeds"][0]
    assert without_url(stats["last_error"]) == UNREACHABLE  # no indicator made of anything internal
    objects = api("cert-a", "GET", "/groups/africa/feeds/a-list/runs").json()
    assert [x["created"] for x in objects] == [0, 0]


def test_every_redirect_hop_is_checked(api, sm, target, second, monkeypatch):
    # upstream.test is an internal upstream the operator allows by name; it redirects to a loopback
    # address nobody allowed
    monkeypatch.setenv("HUB_OUTBOUND_ALLOW", "upstream.test")
    resolve_to(monkeypatch, {"upstream.test": ["127.0.0.1"]})
    target.routes["/go"] = (302, {"Location": f"http://127.0.0.1:{second.port}/secret"}, b"")
    assert declare(api, f"http://upstream.test:{target.port}/go").status_code == 201
    done = run_named(sm, "a-list", worker_id="w1")
    assert not done.outcome.ok and without_url(done.outcome.error) == UNREACHABLE
    assert target.seen == ["/go"] and second.seen == []


def test_errors_never_echo_the_target_nor_tell_one_unreachable_target_from_another(
    api, sm, target, monkeypatch
):
    monkeypatch.setenv("HUB_OUTBOUND_ALLOW", "127.0.0.1")
    target.routes["/oops"] = (500, {}, b"SECRET-INTERNAL-PAGE " * 20)
    target.routes["/page"] = (200, {}, b"root:x:0:0:SECRET-LINE:/root:/bin/bash\n" * 3)
    resolve_to(monkeypatch, {"private.test": ["10.1.2.3"]})
    closed = free_port()
    cases = {
        "oops": f"http://127.0.0.1:{target.port}/oops",  # a status code may be shown, never the body
        "page": f"http://127.0.0.1:{target.port}/page",  # lines that are no indicator are not quoted
        "closed": f"http://127.0.0.1:{closed}/list.txt",  # nothing listens
        "private": f"http://private.test:{target.port}/list.txt",  # resolves to a private address
        "nxdomain": f"http://nowhere.test:{target.port}/list.txt",  # does not resolve
    }
    for name, url in cases.items():
        assert declare(api, url, name=name).status_code == 201, name
        run_named(sm, name, worker_id="w1")
    shown = {name: api("cert-a", "GET", f"/groups/africa/feeds/{name}/runs").json()[0] for name in cases}
    for name, run in shown.items():
        assert run["status"] == "failed", name
        text = (run["error"] or "") + notes_of(sm, name)
        assert "SECRET" not in text, (name, text)
        feed = api("cert-a", "GET", f"/groups/africa/feeds/{name}").json()
        assert "SECRET" not in (feed["last_error"] or ""), name
    assert without_url(shown["oops"]["error"]) == "HTTP 500"
    unreachable = {without_url(shown[n]["error"]) for n in ("closed", "private", "nxdomain")}
    assert unreachable == {UNREACHABLE}


def test_the_operator_allows_internal_upstreams_with_HUB_OUTBOUND_ALLOW(api, sm, target, monkeypatch):
    url = f"http://127.0.0.1:{target.port}/list.txt"
    assert declare(api, url).status_code == 422
    monkeypatch.setenv("HUB_OUTBOUND_ALLOW", "feeds.internal.example, 127.0.0.0/8")
    assert declare(api, url).status_code == 201
    done = run_named(sm, "a-list", worker_id="w1")
    assert done.outcome.ok, done.outcome.error
    assert done.outcome.created == 2 and target.seen == ["/list.txt"]
    # an upper-case scheme is a URL, fetched over HTTP (it used to be opened as a file path)
    r = api("cert-a", "PATCH", "/groups/africa/feeds/a-list", json={"url": url.replace("http", "HTTP")})
    assert r.status_code == 200
    done = run_named(sm, "a-list", worker_id="w1")
    assert done.outcome.ok, done.outcome.error
    assert target.seen == ["/list.txt", "/list.txt"]
    # the hub's own listeners stay refused even inside an allowed network
    monkeypatch.setenv("HUB_PORT", str(target.port))
    done = run_named(sm, "a-list", worker_id="w1")
    assert not done.outcome.ok and without_url(done.outcome.error) == UNREACHABLE
    assert len(target.seen) == 2
    r = declare(api, f"http://127.0.0.1:{target.port}/other.txt", name="own")
    assert r.status_code == 422


def test_a_coordinator_feed_is_read_with_a_size_cap(api, sm, target, monkeypatch):
    monkeypatch.setenv("HUB_OUTBOUND_ALLOW", "127.0.0.1")
    monkeypatch.setattr("hub.sync.fetch.GUARDED_MAX_FEED_BYTES", 16)
    assert declare(api, f"http://127.0.0.1:{target.port}/list.txt").status_code == 201
    done = run_named(sm, "a-list", worker_id="w1")
    assert not done.outcome.ok and "16-byte limit" in done.outcome.error


def test_feeds_the_operator_declares_keep_reaching_internal_hosts(api, sm, cli, target, tmp_path):  # noqa: F811
    # through the admin API as platform admin, and through `hub sync load` / `hub sync run`
    r = declare(api, f"http://127.0.0.1:{target.port}/list.txt", who="admin", publish_as="cert-a")
    assert r.status_code == 201
    assert run_named(sm, "a-list", worker_id="w1").outcome.ok
    (tmp_path / "feeds.yaml").write_text(
        "feeds:\n"
        f"  - {{name: ops, format: text, url: 'http://localhost:{target.port}/list.txt', group: africa,"
        " collection: indicators, publish_as: cert-b, tlp: green}\n"
    )
    assert cli("sync", "load", str(tmp_path / "feeds.yaml")).exit_code == 0
    result = cli("sync", "run-once", "--feed", "ops")
    assert result.exit_code == 0, result.output
    assert target.seen == ["/list.txt", "/list.txt"]


def test_a_bad_HUB_OUTBOUND_ALLOW_is_refused_at_startup():
    with pytest.raises(ValueError, match="neither a host name nor an address"):
        Settings(outbound_allow="10.0.0.0/8, http://x.example/")
    assert Settings(outbound_allow="feeds.internal, 10.0.0.0/8, ::1").outbound_allow


def test_a_coordinator_taxii_feed_is_guarded_too(api, sm, target, monkeypatch):
    # taxii2-client speaks through requests/urllib3: its connections go through the same guard
    resolve_to(monkeypatch, {"hub.rebind.test": ["127.0.0.1"]})
    path = "/taxii2/api/collections/c1/"
    body = {"format": "taxii", "peer_community": "south", "tlp": None}
    assert declare(api, f"http://hub.rebind.test:{target.port}{path}", name="up", **body).status_code == 201
    done = run_named(sm, "up", worker_id="w1")
    assert not done.outcome.ok and without_url(done.outcome.error) == UNREACHABLE
    assert target.seen == []
    monkeypatch.setenv("HUB_OUTBOUND_ALLOW", "127.0.0.1")
    for p in (path, path + "objects/"):
        target.routes[p] = (500, {}, b'{"title": "SECRET-UPSTREAM-DETAIL"}')
    r = api(
        "cert-a", "PATCH", "/groups/africa/feeds/up", json={"url": f"http://127.0.0.1:{target.port}{path}"}
    )
    assert r.status_code == 200
    done = run_named(sm, "up", worker_id="w1")
    assert not done.outcome.ok and without_url(done.outcome.error) == "HTTP 500", done.outcome.error
    assert target.seen and "SECRET" not in done.outcome.error
