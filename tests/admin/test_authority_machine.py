"""Issue 17's authority model against the live app: a hypothesis state machine of honest owners and attackers.

Everything goes through the admin API and TAXII (HTTP, the FastAPI test client), on both databases.

* An adversarial coordinator `x`: coordinator of g1 (cleared GREEN), reader in g2. It widens the
  recipients of members' named collections, mints keys for other accounts and with more scopes than it
  holds, lists, rotates and revokes the keys of members who also belong to g2, updates its own and
  g2's memberships, invites a new organisation as coordinator, redeems the token itself and uses the new
  organisation's key to raise its own clearance, and declares feeds reading the hub's own network.
* An adversarial key holder: a non-admin key of the operator's organisation (`ops`, account `staff`),
  which mints keys for the `admin` account and rotates the admin's key, and any download-only (device)
  key an honest owner issued, which publishes and calls the admin API.
* Honest owners o1, o2 (and b, g2's coordinator): they publish TLP:RED/AMBER through TAXII into their
  named-recipient collections and group collections, set their collections' recipients, and issue
  download keys for their firewalls.

After every step:

* no organisation reads (TAXII GET objects) an object beyond what its owner shared (the recipients the
  owner set) and its clearance allow, and the honest ones read exactly that;
* no key holds a scope or an account it was not issued: every key of the run in the database is one an
  allowed move issued, with an account and scopes its issuer could give, and never a key of an admin
  account issued by a non-admin; no key did what its scopes do not allow;
* no membership changes except by a coordinator of that group acting on an organisation it did not
  invite (or the platform admin); and a coordinator's action on a key reaches that group only;
* nothing a coordinator's feed fetches comes from a non-public address: a real HTTP server on 127.0.0.1
  (and one on [::1]) stands in for the hub's network and must receive no request. It is also the HTTP
  proxy while a feed of 10.x, 192.168.x or 169.254.169.254 runs (so an attempt to fetch those is seen),
  and no feed run may read a record at all (an upper-case `HTTP://` URL read as a path finds a file).

The operator allowed no internal upstream (HUB_OUTBOUND_ALLOW unset).

Moves the API refuses (any 4xx) are fine; only a success that breaks an invariant fails. Where an
endpoint or field of issue 17's API does not exist yet, the move is refused and changes nothing.
"""

from __future__ import annotations

import http.server
import itertools
import os
import socket
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import select

from hub.db import begin_write
from hub.settings import Settings
from hub.sync.scheduler import ClaimError
from hub.sync.worker import run_named
from hub.trust.keys import bootstrap_admin_key
from hub.trust.models import (
    Account,
    ApiKey,
    Collection,
    CollectionRecipient,
    Membership,
    Organisation,
    TrustGroup,
)
from hub.trust.schemas import TrustConfig
from hub.trust.service import apply_config
from tests.admin.conftest import set_clearance
from tests.conftest import free_port
from tests.factories import TAXII, TLP, indicator

ALL = frozenset({"read", "write", "download", "manage"})
LEVELS = ["clear", "green", "amber", "amber+strict", "red"]
RANK = {name: i for i, name in enumerate(LEVELS)}
HONEST = ("b", "o1", "o2", "r", "v")
# what x tries on its own membership, directly or through an organisation it invited
RAISES = [
    {"clearance": "amber+strict"},
    {"clearance": "amber"},
    {"role": "coordinator", "clearance": "amber"},
]
_runs = itertools.count()
# no shrinking by default, to stay cheap where it fails: the failing run is printed step by step, and
# derandomized it replays the same. HUB_AUTHORITY_SHRINK=1 shrinks it (and reports every distinct failure).
PHASES = [Phase.explicit, Phase.generate] + ([Phase.shrink] if os.environ.get("HUB_AUTHORITY_SHRINK") else [])


# ---------------------------------------------------------------- the hub's "internal network"


class Recorder:
    """HTTP servers on 127.0.0.1 (and [::1]) that record every request: no coordinator feed may reach them.

    It also answers as an HTTP proxy (a request line with an absolute URL), so a fetch of 10.x or
    169.254.169.254 sent through HTTP_PROXY is recorded too.
    """

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.servers: list[http.server.ThreadingHTTPServer] = []
        self.home = tempfile.TemporaryDirectory()
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                recorder.requests.append(f"{self.command} {self.path} (Host: {self.headers.get('Host')})")
                body = b"internal-db.corp.example\n10.9.8.7\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_HEAD = do_CONNECT = _answer

            def log_message(self, *args: Any) -> None:
                pass

        class V4(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass

        class V6(V4):
            address_family = socket.AF_INET6

        self.v4 = V4(("127.0.0.1", free_port()), Handler)
        self.servers.append(self.v4)
        self.port6: int | None = None
        try:
            v6 = V6(("::1", 0), Handler)
        except OSError:  # no IPv6 loopback on this machine: the [::1] spelling is not played
            v6 = None
        if v6 is not None:
            self.servers.append(v6)
            self.port6 = int(v6.server_address[1])
        for s in self.servers:
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.v4.server_address[1])

    def internal_urls(self) -> dict[str, tuple[str, bool]]:
        """Internal URLs a coordinator may try, by spelling: (URL, fetched through the proxy)."""
        p = self.port
        urls = {
            "127.0.0.1": (f"http://127.0.0.1:{p}/list.txt", False),
            "localhost": (f"http://localhost:{p}/list.txt", False),
            "LOCALHOST": (f"http://LOCALHOST:{p}/list.txt", False),
            "127.1": (f"http://127.1:{p}/list.txt", False),
            "decimal": (f"http://2130706433:{p}/list.txt", False),
            "hex": (f"http://0x7f.0.0.1:{p}/list.txt", False),
            "unspecified": (f"http://0.0.0.0:{p}/list.txt", False),
            "ipv4-mapped": (f"http://[::ffff:127.0.0.1]:{p}/list.txt", False),
            "upper-case-scheme": (f"HTTP://127.0.0.1:{p}/list.txt", False),
            "10.x": ("http://10.20.30.40/list.txt", True),
            "192.168.x": ("http://192.168.1.1/list.txt", True),
            "metadata": ("http://169.254.169.254/latest/meta-data/", True),
        }
        if self.port6 is not None:
            urls["[::1]"] = (f"http://[::1]:{self.port6}/list.txt", False)
        return urls

    @contextmanager
    def running(self, proxied: bool) -> Iterator[None]:
        """While a feed runs: HTTP(S)_PROXY pointing at the recorder for a private address, and the working
        directory a folder holding the file an upper-case `HTTP://` URL names (read as a path, it is a file
        of the hub's machine)."""
        names = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
        saved = {n: os.environ.get(n) for n in (*names, "NO_PROXY", "no_proxy")}
        cwd = os.getcwd()
        if proxied:
            for n in names:
                os.environ[n] = f"http://127.0.0.1:{self.port}"
            os.environ.pop("NO_PROXY", None)
            os.environ.pop("no_proxy", None)
        planted = Path(self.home.name) / f"HTTP:/127.0.0.1:{self.port}/list.txt"
        planted.parent.mkdir(parents=True, exist_ok=True)
        planted.write_text("a-file-of-the-hub.example\n")
        os.chdir(self.home.name)
        try:
            yield
        finally:
            os.chdir(cwd)
            for n, v in saved.items():
                if v is None:
                    os.environ.pop(n, None)
                else:
                    os.environ[n] = v

    def run(self, sm: Any, name: str, proxied: bool) -> None:
        """Run a feed as the workers do; any record it read came from the hub's side of the line."""
        with self.running(proxied):
            try:
                done = run_named(sm, name, worker_id="authority")
            except ClaimError:  # a feed the hub disabled or dropped: nothing to run
                return
        if done.run.read:
            self.requests.append(f"feed {name} read {done.run.read} record(s) ({done.run.status})")

    def close(self) -> None:
        for s in self.servers:
            s.shutdown()
            s.server_close()
        self.home.cleanup()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.close()


@pytest.fixture
def settings() -> Settings:
    """The test settings, with the failed-key throttle out of the way: the machine uses revoked keys on
    purpose (to see that they fail), and every test-client request comes from one address."""
    extra: dict[str, Any] = {}
    if "auth_failure_limit" in Settings.model_fields:
        extra["auth_failure_limit"] = 1_000_000
    return Settings(
        database_url="sqlite://",
        secret_key="test-secret",
        max_page_size=1000,
        max_content_length=2 * 1024 * 1024,
        **extra,
    )


@pytest.fixture(autouse=True)
def _no_outbound_allow(monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator allowed no internal upstream: HUB_OUTBOUND_ALLOW is unset."""
    monkeypatch.delenv("HUB_OUTBOUND_ALLOW", raising=False)


# ---------------------------------------------------------------- the model


@dataclass
class Holder:
    """A key someone holds: whose, which account, the secret, and the scopes it was issued."""

    org: str  # slug
    account: str
    secret: str
    scopes: frozenset[str] = ALL
    admin: bool = False

    @property
    def key_id(self) -> str:
        return self.secret.split("_", 2)[1]


@dataclass
class KeyRec:
    """A key an allowed move made: for which account, the scopes asked for, and who issued it."""

    org: str
    account: str
    asked: frozenset[str]
    issuer: Holder | None  # None: the operator's configuration, the bootstrap, an invitation's redemption
    how: str


@dataclass
class Coll:
    group: str
    id: str
    alias: str
    kind: str  # group | named
    owner: str | None = None  # org slug
    recipients: set[str] = field(default_factory=set)  # what the owner set (a coordinator may narrow)
    archived: bool = False


@dataclass
class Obj:
    coll: str  # alias key in self.colls
    level: str
    publisher: str


def scopes_of(key: dict[str, Any]) -> frozenset[str]:
    """A key's scopes as the admin API reports them; a key without `scopes` does everything (today)."""
    return frozenset(key["scopes"]) if "scopes" in key else ALL


class Authority(RuleBasedStateMachine):
    client: Any = None
    sm: Any = None
    recorder: Recorder | None = None

    # ------------------------------------------------------------ the world

    def __init__(self) -> None:
        super().__init__()
        n = next(_runs)
        self.p = p = f"am{n}"
        self.s = {k: f"{p}-{k}" for k in ("x", "b", "o1", "o2", "r", "v", "ops")}
        self.g1, self.g2 = f"{p}-g1", f"{p}-g2"
        members1 = [
            ("x", "coordinator", "green"),
            ("b", "reader", "amber"),
            ("o1", "contributor", "amber+strict"),
            ("o2", "contributor", "amber"),
            ("r", "contributor", "amber"),
            ("v", "reader", "green"),
        ]
        members2 = [
            ("b", "coordinator", "amber+strict"),
            ("x", "reader", "green"),
            ("o1", "contributor", "amber"),
        ]
        cfg = {
            "organisations": [
                {"slug": self.s[k], "name": k.upper(), "accounts": [{"name": "taxii"}]}
                for k in ("x", "b", "o1", "o2", "r", "v")
            ],
            "groups": [
                {
                    "slug": self.g1,
                    "name": "G1",
                    "community": f"c{n}",
                    "members": [{"org": self.s[o], "role": ro, "clearance": c} for o, ro, c in members1],
                    "collections": [
                        {"alias": "shared", "title": "Shared"},
                        # what each owner asked the operator for: its RED goes to these recipients only
                        {
                            "alias": "o1-red",
                            "kind": "named",
                            "owner": self.s["o1"],
                            "recipients": [self.s["r"]],
                        },
                        {"alias": "o2-red", "kind": "named", "owner": self.s["o2"], "recipients": []},
                    ],
                },
                {
                    "slug": self.g2,
                    "name": "G2",
                    "community": f"c{n}",
                    "members": [{"org": self.s[o], "role": ro, "clearance": c} for o, ro, c in members2],
                    "collections": [{"alias": "shared", "title": "Shared"}],
                },
            ],
        }
        with self.sm() as s, s.begin():
            begin_write(s)
            self.known_before = set(s.scalars(select(ApiKey.key_id)))
            issued = apply_config(s, TrustConfig.model_validate(cfg))
            _, admin_secret = bootstrap_admin_key(s, org_slug=self.s["ops"])
        self.key: dict[str, Holder] = {
            k.organisation: Holder(k.organisation, k.account, k.key) for k in issued
        }  # the honest primary key of each organisation, by slug
        self.admin = Holder(self.s["ops"], "admin", admin_secret, admin=True)
        self.recs: dict[str, KeyRec] = {
            h.key_id: KeyRec(h.org, h.account, ALL, None, "configuration") for h in self.key.values()
        }
        self.recs[self.admin.key_id] = KeyRec(self.s["ops"], "admin", ALL, None, "bootstrap")
        self.used: dict[str, set[str]] = {}  # key id -> what it was seen doing (read, write, manage)
        assert self.recorder is not None
        self.recorder.requests.clear()  # each run starts with a quiet network
        # the adversarial key holder: a non-admin key of the operator's organisation
        staff = self.issue(self.admin, self.s["ops"], "staff", None)
        assert staff is not None
        self.staff = staff
        self.x = self.key[self.s["x"]]
        # every key the attackers hold; keys they obtain join it
        self.pool: list[Holder] = [self.x, self.staff]
        self.device: dict[str, Holder] = {}  # owner slug -> its download key
        with self.sm() as s:
            rows = s.execute(
                select(TrustGroup.slug, Collection.alias, Collection.id)
                .join(TrustGroup, TrustGroup.id == Collection.group_id)
                .where(TrustGroup.slug.in_([self.g1, self.g2]))
            ).all()
        ids = {(g, a): cid for g, a, cid in rows}
        self.colls: dict[str, Coll] = {
            "g1/shared": Coll(self.g1, ids[self.g1, "shared"], "shared", "group"),
            "g2/shared": Coll(self.g2, ids[self.g2, "shared"], "shared", "group"),
            "g1/o1-red": Coll(
                self.g1, ids[self.g1, "o1-red"], "o1-red", "named", self.s["o1"], {self.s["r"]}
            ),
            "g1/o2-red": Coll(self.g1, ids[self.g1, "o2-red"], "o2-red", "named", self.s["o2"], set()),
        }
        self.objects: dict[str, Obj] = {}
        # expected memberships: (org slug, group slug) -> (role, clearance)
        self.members: dict[tuple[str, str], tuple[str, str]] = {
            (self.s[o], self.g1): (ro, c) for o, ro, c in members1
        } | {(self.s[o], self.g2): (ro, c) for o, ro, c in members2}
        # memberships a coordinator's (allowed) action on a key may have suspended: their reads may fail
        self.cut: set[tuple[str, str]] = set()
        # memberships that may be absent: cut by the group's coordinator, or awaiting a platform admin
        self.absent_ok: set[tuple[str, str]] = set()
        self.invited: list[Holder] = []  # organisations x invited and redeemed itself (their first keys)
        self.counter = itertools.count()
        # what the owners shared before the attack starts
        seeds = [("o1", "g1/o1-red", "red"), ("o2", "g1/o2-red", "red"), ("o1", "g1/shared", "amber+strict"),
                 ("b", "g2/shared", "amber")]  # fmt: skip
        for who, where, level in seeds:
            obj = self.indicator(level)
            assert self.post(self.key[self.s[who]], self.colls[where], [obj]) == {obj["id"]}, (who, where)
            self.objects[obj["id"]] = Obj(where, level, self.s[who])

    # ------------------------------------------------------------ plumbing

    def fresh(self, what: str) -> str:
        return f"{self.p}-{what}{next(self.counter)}"

    def api(self, who: Holder | None, method: str, path: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {who.secret}"} if who is not None else {}
        r = self.client.request(method, "/admin/v1" + path, headers=headers, **kw)
        assert r.status_code < 500, (method, path, r.status_code, r.text)
        if who is not None and r.status_code < 300:
            self.used.setdefault(who.key_id, set()).add("manage")
        return r

    def taxii_headers(self, who: Holder) -> dict[str, str]:
        return {"Authorization": f"Bearer {who.secret}", "Accept": TAXII, "Content-Type": TAXII}

    def objects_url(self, c: Coll) -> str:
        return f"/taxii2/{c.group}/collections/{c.id}/objects/"

    def post(self, who: Holder, c: Coll, objs: list[dict[str, Any]]) -> set[str]:
        """Post through TAXII; the ids stored (nothing when refused)."""
        r = self.client.post(self.objects_url(c), content=orjson.dumps({"objects": objs}),
                             headers=self.taxii_headers(who))  # fmt: skip
        assert r.status_code < 500, r.text
        if r.status_code != 202:
            return set()
        stored = {e["id"] for e in r.json().get("successes", [])}
        if stored:
            self.used.setdefault(who.key_id, set()).add("write")
        return stored

    def read(self, who: Holder, c: Coll) -> set[str] | None:
        """The ids `who` reads in a collection; None when refused."""
        r = self.client.get(self.objects_url(c), params={"limit": 1000}, headers=self.taxii_headers(who))
        assert r.status_code < 500, r.text
        if r.status_code != 200:
            return None
        self.used.setdefault(who.key_id, set()).add("read")
        return {o["id"] for o in r.json().get("objects", [])}

    def indicator(self, level: str) -> dict[str, Any]:
        sid = f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, self.fresh('obj'))}"
        return {
            "type": "indicator", "spec_version": "2.1", "id": sid,
            "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
            "pattern": f"[domain-name:value = '{sid[-12:]}.example']", "pattern_type": "stix",
            "valid_from": "2024-01-01T00:00:00Z", "object_marking_refs": [TLP[level]],
        }  # fmt: skip

    def issue(
        self, who: Holder, org: str, account: str, scopes: list[str] | None, *, how: str = "issue"
    ) -> Holder | None:
        """POST .../keys as `who`; on success the model records the key as issued by `who`."""
        body: dict[str, Any] = {"account": account, "label": how, "expires_at": None}
        if scopes is not None:
            body["scopes"] = scopes
        r = self.api(who, "POST", f"/organisations/{org}/keys", json=body)
        if r.status_code != 201:
            return None
        key = r.json()["key"]
        asked = frozenset(scopes) if scopes is not None else ALL
        # the holder may use what it asked for and the hub says it holds, no more
        h = Holder(org, key["account"], r.json()["secret"], asked & scopes_of(key))
        assert h.key_id == key["key_id"], key
        self.recs[h.key_id] = KeyRec(org, account, asked, who, how)
        return h

    def member_of(self, org: str, group: str) -> tuple[str, str] | None:
        return self.members.get((org, group))

    def may_read(self, org: str, oid: str) -> bool:
        """May `org` read the object, by what its owner shared and the expected memberships?"""
        o = self.objects[oid]
        c = self.colls[o.coll]
        m = self.member_of(org, c.group)
        if m is None:
            return False
        if c.kind == "named":
            return org == c.owner or org in c.recipients
        return org == o.publisher or RANK[o.level] <= RANK[m[1]]

    def readers(self) -> list[Holder]:
        return [self.key[self.s[k]] for k in ("x", *HONEST)] + self.invited

    # ------------------------------------------------------------ honest owners

    @rule(who=st.sampled_from(["o1", "o2", "b"]), data=st.data())
    def owner_publishes(self, who: str, data: st.DataObject) -> None:
        org = self.s[who]
        places = [
            k for k, c in self.colls.items()
            if not c.archived and (org, c.group) not in self.cut and (
                c.owner == org if c.kind == "named"
                else (m := self.member_of(org, c.group)) is not None and m[0] != "reader"
            )
        ]  # fmt: skip
        if not places:
            return
        where = data.draw(st.sampled_from(places))
        c = self.colls[where]
        if c.kind == "named":
            level = data.draw(st.sampled_from(["red", "amber+strict", "amber"]))
        else:
            clearance = self.members[org, c.group][1]
            level = data.draw(st.sampled_from([lv for lv in LEVELS[:4] if RANK[lv] <= RANK[clearance]]))
        obj = self.indicator(level)
        stored = self.post(self.key[org], c, [obj])
        assert stored == {obj["id"]}, f"{who} could not publish TLP:{level} into its {where}"
        self.objects[obj["id"]] = Obj(where, level, org)

    @rule(who=st.sampled_from(["o1", "o2"]), data=st.data())
    def owner_sets_recipients(self, who: str, data: st.DataObject) -> None:
        org = self.s[who]
        mine = [k for k, c in self.colls.items() if c.owner == org and not c.archived]
        if not mine:
            return
        c = self.colls[data.draw(st.sampled_from(mine))]
        others = sorted(o for (o, g) in self.members if g == c.group and o != org)
        want = data.draw(st.sets(st.sampled_from(others), max_size=2))
        r = self.api(self.key[org], "PATCH", f"/groups/{c.group}/collections/{c.alias}",
                     json={"recipients": sorted(want)})  # fmt: skip
        if r.status_code == 200:
            c.recipients = set(want)

    @rule(who=st.sampled_from(["o1", "o2"]), data=st.data())
    def owner_creates_a_named_collection(self, who: str, data: st.DataObject) -> None:
        org = self.s[who]
        others = sorted(o for (o, g) in self.members if g == self.g1 and o != org)
        want = data.draw(st.sets(st.sampled_from(others), max_size=2))
        alias = self.fresh("named").removeprefix(f"{self.p}-")
        body = {"alias": alias, "kind": "named", "owner": org, "recipients": sorted(want)}
        r = self.api(self.key[org], "POST", f"/groups/{self.g1}/collections", json=body)
        if r.status_code == 201:
            self.colls[f"g1/{alias}"] = Coll(self.g1, r.json()["id"], alias, "named", org, set(want))

    @rule(who=st.sampled_from(["o1", "o2"]))
    def owner_issues_a_download_key(self, who: str) -> None:
        """A firewall's key: download only. Where the hub knows no scopes (422 for the field), the owner
        can only issue a full key, and the model still records what it asked for: download."""
        org = self.s[who]
        if org in self.device:
            return
        h = self.issue(self.key[org], org, "taxii", ["download"], how="device")
        if h is None:
            h = self.issue(self.key[org], org, "taxii", None, how="device (the hub refused `scopes`)")
            if h is None:
                return
            h.scopes = frozenset({"download"})
            self.recs[h.key_id].asked = h.scopes
        self.device[org] = h
        self.pool.append(h)  # the firewall is stolen: the attacker holds its key

    # ------------------------------------------------------------ the adversarial coordinator

    @rule(data=st.data(), whom=st.sampled_from(["x", "v", "b"]))
    def widen_a_members_collection(self, data: st.DataObject, whom: str) -> None:
        named = [k for k, c in self.colls.items() if c.kind == "named" and c.owner != self.x.org]
        c = self.colls[data.draw(st.sampled_from(named))]
        want = sorted(c.recipients | {self.s[whom]})
        r = self.api(self.x, "PATCH", f"/groups/{c.group}/collections/{c.alias}", json={"recipients": want})
        if r.status_code == 200:
            c.recipients &= set(want)  # narrowing is the coordinator's to do; adding is not

    @rule(data=st.data())
    def narrow_or_archive_a_members_collection(self, data: st.DataObject) -> None:
        named = [k for k, c in self.colls.items() if c.kind == "named" and not c.archived]
        if not named:
            return
        c = self.colls[data.draw(st.sampled_from(named))]
        if data.draw(st.booleans()):
            r = self.api(self.x, "POST", f"/groups/{c.group}/collections/{c.alias}/archive")
            if r.status_code == 200:
                c.archived = True
            return
        want = sorted(c.recipients)[1:]
        r = self.api(self.x, "PATCH", f"/groups/{c.group}/collections/{c.alias}", json={"recipients": want})
        if r.status_code == 200:
            c.recipients &= set(want)

    @rule(data=st.data(), account=st.sampled_from(["admin", "device", "own"]))
    def mint_a_key_for_an_account(self, data: st.DataObject, account: str) -> None:
        who = data.draw(st.sampled_from(self.pool))
        acct = who.account if account == "own" else account
        h = self.issue(who, who.org, acct, None, how=f"minted by {who.org}/{who.account}")
        if h is not None:
            self.pool.append(h)

    @rule(data=st.data(), scopes=st.sets(st.sampled_from(sorted(ALL)), min_size=1))
    def issue_a_key_with_scopes(self, data: st.DataObject, scopes: set[str]) -> None:
        """For its own account; narrower than it holds (allowed) or wider (never granted)."""
        who = data.draw(st.sampled_from(self.pool))
        h = self.issue(who, who.org, who.account, sorted(scopes), how=f"scoped by {who.org}/{who.account}")
        if h is not None:
            self.pool.append(h)

    @rule(data=st.data(), whom=st.sampled_from(["admin", "b", "o1", "o2", "x"]))
    def rotate_a_key(self, data: st.DataObject, whom: str) -> None:
        who = data.draw(st.sampled_from(self.pool))
        old = self.admin if whom == "admin" else self.key[self.s[whom]]
        r = self.api(
            who, "POST", f"/organisations/{old.org}/keys/{old.key_id}/rotate", json={"grace_seconds": 3600}
        )
        if r.status_code == 200:
            new = r.json()["key"]
            h = Holder(old.org, new["account"], r.json()["secret"], self.recs[old.key_id].asked, old.admin)
            self.recs[h.key_id] = KeyRec(old.org, old.account, self.recs[old.key_id].asked, who, "rotation")
            self.pool.append(h)

    @rule(action=st.sampled_from(["list", "revoke"]), whom=st.sampled_from(["b", "o1", "o2", "v"]))
    def act_on_a_members_keys(self, action: str, whom: str) -> None:
        org = self.s[whom]
        if action == "list":
            self.api(self.x, "GET", f"/organisations/{org}/keys")
            return
        h = self.key[org]
        r = self.api(self.x, "POST", f"/organisations/{org}/keys/{h.key_id}/revoke")
        if r.status_code == 200:
            # a coordinator of g1 may cut a member's key off g1 (nothing else)
            self.cut.add((org, self.g1))
            self.absent_ok.add((org, self.g1))

    @rule(
        role=st.sampled_from(["coordinator", "contributor"]),
        clearance=st.sampled_from(["amber", "amber+strict"]),
    )
    def invite_and_redeem_a_puppet(self, role: str, clearance: str) -> None:
        slug = self.fresh("n")
        r = self.api(self.x, "POST", f"/groups/{self.g1}/invitations",
                     json={"organisation": slug, "role": role, "clearance": clearance})  # fmt: skip
        if r.status_code != 201:
            return
        done = self.client.post("/admin/v1/invitations/redeem", json={"token": r.json()["token"]})
        assert done.status_code < 500, done.text
        if done.status_code != 201:
            return
        # an invitation x made, redeemed: the membership it names is the coordinator's to create
        self.members[slug, self.g1] = (role, clearance)
        self.absent_ok.add((slug, self.g1))  # the hub may hold the membership back until it is approved
        body = done.json()
        if body.get("key"):
            h = Holder(slug, body["account"], body["key"])
            self.recs[h.key_id] = KeyRec(slug, body["account"], ALL, None, "redemption")
            self.invited.append(h)
            self.pool.append(h)

    @rule(data=st.data(), change=st.sampled_from(RAISES))
    def raise_the_inviter_by_proxy(self, data: st.DataObject, change: dict[str, str]) -> None:
        if not self.invited:
            self.invite_and_redeem_a_puppet("coordinator", "amber+strict")
            if not self.invited:
                return  # the hub refused the invitation or its redemption
        puppet = data.draw(st.sampled_from(self.invited))
        self.api(puppet, "PATCH", f"/groups/{self.g1}/members/{self.x.org}", json=change)

    @rule(group=st.sampled_from(["g1", "g2"]), change=st.sampled_from(RAISES))
    def update_its_own_membership(self, group: str, change: dict[str, str]) -> None:
        self.api(self.x, "PATCH", f"/groups/{self.p}-{group}/members/{self.x.org}", json=change)

    @rule(whom=st.sampled_from(["b", "o1"]), change=st.sampled_from([{"clearance": "green"},
                                                                       {"role": "reader"}]))  # fmt: skip
    def update_another_groups_membership(self, whom: str, change: dict[str, str]) -> None:
        self.api(self.x, "PATCH", f"/groups/{self.g2}/members/{self.s[whom]}", json=change)

    @rule(whom=st.sampled_from(["v", "r"]), clearance=st.sampled_from(["green", "amber"]))
    def update_a_members_clearance(self, whom: str, clearance: str) -> None:
        """Allowed: g1's coordinator on a member it did not invite."""
        org = self.s[whom]
        r = self.api(self.x, "PATCH", f"/groups/{self.g1}/members/{org}", json={"clearance": clearance})
        if r.status_code == 200:
            role, _ = self.members[org, self.g1]
            self.members[org, self.g1] = (role, clearance)

    @rule(data=st.data())
    def declare_and_run_an_internal_feed(self, data: st.DataObject) -> None:
        assert self.recorder is not None
        url, via_proxy = data.draw(st.sampled_from(sorted(self.recorder.internal_urls().values())))
        name = self.fresh("feed")
        body = {"name": name, "format": "text", "url": url, "collection": "shared",
                "publish_as": self.x.org, "tlp": "green"}  # fmt: skip
        r = self.api(self.x, "POST", f"/groups/{self.g1}/feeds", json=body)
        if r.status_code != 201:
            return
        self.api(self.x, "POST", f"/groups/{self.g1}/feeds/{name}/run")
        self.recorder.run(self.sm, name, via_proxy)

    # ------------------------------------------------------------ the download key

    @rule(data=st.data())
    def a_download_key_publishes_reads_and_manages(self, data: st.DataObject) -> None:
        if not self.device:
            return
        h = self.device[data.draw(st.sampled_from(sorted(self.device)))]
        self.post(h, self.colls["g1/shared"], [self.indicator("green")])
        self.read(h, self.colls["g1/shared"])
        self.api(h, "GET", "/me")
        made = self.issue(h, h.org, h.account, None, how="minted by a download key")
        if made is not None:
            self.pool.append(made)

    # ------------------------------------------------------------ a reporter (feedback, hub.feedback)

    def readable_colls(self, org: str) -> list[str]:
        """The collections `org` may read, by the expected memberships and what owners set."""
        out = []
        for k, c in self.colls.items():
            if self.member_of(org, c.group) is None or (org, c.group) in self.cut:
                continue
            if c.kind == "named" and org != c.owner and org not in c.recipients:
                continue
            out.append(k)
        return out

    def sighting_of(self, target: str) -> dict[str, Any]:
        return {
            "type": "sighting", "spec_version": "2.1", "id": f"sighting--{uuid.uuid4()}",
            "created": "2024-02-01T00:00:00.000Z", "modified": "2024-02-01T00:00:00.000Z",
            "sighting_of_ref": target, "count": 1, "object_marking_refs": [TLP["green"]],
        }  # fmt: skip

    @rule(who=st.sampled_from(["x", "v", "b", "r"]), data=st.data())
    def a_reporter_reports_on_hidden_and_absent_ids(self, who: str, data: st.DataObject) -> None:
        """Reports (TAXII and the lookup API) on an object the reporter may not read and on an id nobody
        stored get the same answer; a report on an object it reads is read by the publisher, the
        reporter and the group's coordinators only."""
        org = self.s[who]
        places = self.readable_colls(org)
        hidden = [i for i in self.objects if not self.may_read(org, i)]
        if not places:
            return
        holder = self.key[org]
        where = self.colls[data.draw(st.sampled_from(sorted(places)))]
        absent_id = f"indicator--{uuid.uuid4()}"
        if hidden:
            oid = data.draw(st.sampled_from(sorted(hidden)))
            answers = []
            for target in (oid, absent_id):
                envelope = orjson.dumps({"objects": [self.sighting_of(target)]})
                r = self.client.post(
                    self.objects_url(where), content=envelope, headers=self.taxii_headers(holder)
                )
                assert r.status_code < 500, r.text
                body = r.json()
                entries = [(e.get("message", "").replace(target, "ID")) for e in body.get("failures", [])]
                answers.append((r.status_code, body.get("success_count"), body.get("failure_count"), entries))
                a = self.client.post(f"/lookup/v1/objects/{target}/feedback", json={"kind": "false-positive"},
                                     headers={"Authorization": f"Bearer {holder.secret}"})  # fmt: skip
                assert a.status_code < 500, a.text
                answers.append((a.status_code, a.text.replace(target, "ID")))
            assert answers[:2] == answers[2:], (
                f"{who}'s reports on a hidden object and on an absent id are told apart: {answers}"
            )
        visible = [
            i for i, o in self.objects.items() if self.may_read(org, i) and self.objects[i].coll in places
        ]
        if not visible:
            return
        oid = data.draw(st.sampled_from(sorted(visible)))
        c = self.colls[self.objects[oid].coll]
        role = self.members[org, c.group][0]
        if (c.owner == org) if c.kind == "named" else role != "reader":
            return  # it may write there: what it posts is ordinary content, not feedback
        report = self.sighting_of(oid)
        if self.post(holder, c, [report]) != {report["id"]}:
            return  # refused: its key was cut meanwhile
        publisher = self.objects[oid].publisher
        coordinators = {
            o for (o, g), (role, _) in self.members.items() if g == c.group and role == "coordinator"
        }
        for reader in self.readers():
            got = self.read(reader, c)
            if got is None:
                continue
            allowed = reader.org in {org, publisher} | coordinators
            if report["id"] in got:
                assert allowed, f"{reader.org} reads {who}'s report on {publisher}'s object"

    # ------------------------------------------------------------ invariants

    @invariant()
    def nobody_reads_beyond_what_the_owner_shared_and_its_clearance(self) -> None:
        for who in self.readers() if self.objects else []:
            for k, c in self.colls.items():
                ours = {i for i, o in self.objects.items() if o.coll == k}
                seen = (self.read(who, c) or set()) & ours
                beyond = sorted(
                    (self.objects[i].level, self.objects[i].publisher)
                    for i in seen
                    if not self.may_read(who.org, i)
                )
                assert not beyond, (
                    f"{who.org} reads object(s) of {k} beyond what the owner shared and its clearance allow: "
                    f"{beyond} (TLP, publisher)"
                )
                if who.org in {self.s[h] for h in HONEST} and (who.org, c.group) not in self.cut:
                    want = {i for i in ours if self.may_read(who.org, i)}
                    assert seen == want, f"{who.org} lost objects of {k}: {len(want - seen)} missing"
        with self.sm() as s:
            ids = {c.id: k for k, c in self.colls.items() if c.kind == "named"}
            rows = s.execute(
                select(CollectionRecipient.collection_id, Organisation.slug)
                .join(Organisation, Organisation.id == CollectionRecipient.organisation_id)
                .where(CollectionRecipient.collection_id.in_(list(ids)))
            ).all()
        stored: dict[str, set[str]] = {}
        for cid, slug in rows:
            stored.setdefault(ids[cid], set()).add(slug)
        for k, c in self.colls.items():
            if c.kind == "named":
                extra = stored.get(k, set()) - c.recipients
                assert not extra, f"{k}: recipients {sorted(extra)} were added by someone not its owner"

    @invariant()
    def no_key_holds_a_scope_or_account_it_was_not_issued(self) -> None:
        with self.sm() as s:
            rows = s.execute(
                select(ApiKey.key_id, Organisation.slug, Account.name, Account.is_admin)
                .join(Account, Account.id == ApiKey.account_id)
                .join(Organisation, Organisation.id == Account.organisation_id)
                .where(Organisation.slug.like(f"{self.p}-%"))
            ).all()
        orgs = sorted({slug for _, slug, _, _ in rows})
        reported: dict[str, frozenset[str]] = {}
        for org in orgs:
            r = self.client.get(
                f"/admin/v1/organisations/{org}/keys",
                headers={"Authorization": f"Bearer {self.admin.secret}"},
            )
            assert r.status_code == 200, r.text
            reported |= {k["key_id"]: scopes_of(k) for k in r.json()}
        for key_id, org, account, is_admin in rows:
            if key_id in self.known_before:
                continue
            rec = self.recs.get(key_id)
            assert rec is not None, f"key {key_id} of {org}/{account} was made by no allowed move"
            assert (rec.org, rec.account) == (org, account), (key_id, rec, org, account)
            held = reported.get(key_id, ALL)
            assert held <= rec.asked, (
                f"key {key_id} of {org}/{account} ({rec.how}) holds {sorted(held)}; it was issued "
                f"{sorted(rec.asked)}"
            )
            issuer = rec.issuer
            if issuer is not None and not issuer.admin:
                assert not is_admin, (
                    f"{issuer.org}/{issuer.account}, not a platform admin, obtained key {key_id} of the "
                    f"admin account {org}/{account} ({rec.how})"
                )
                assert (org, account) == (issuer.org, issuer.account), (
                    f"{issuer.org}/{issuer.account} obtained key {key_id} for another account, "
                    f"{org}/{account} ({rec.how})"
                )
                assert held <= issuer.scopes, (
                    f"{issuer.org}/{issuer.account} holding {sorted(issuer.scopes)} granted key {key_id} "
                    f"{sorted(held)} ({rec.how})"
                )
        for h in [*self.pool, *self.key.values()]:
            did = self.used.get(h.key_id, set())
            assert did <= h.scopes, (
                f"key {h.key_id} of {h.org}/{h.account}, issued {sorted(h.scopes)}, "
                f"did {sorted(did - h.scopes)}"
            )

    @invariant()
    def memberships_change_only_by_their_coordinators(self) -> None:
        with self.sm() as s:
            rows = s.execute(
                select(Organisation.slug, TrustGroup.slug, Membership.role, Membership.clearance)
                .join(Organisation, Organisation.id == Membership.organisation_id)
                .join(TrustGroup, TrustGroup.id == Membership.group_id)
                .where(TrustGroup.slug.in_([self.g1, self.g2]))
            ).all()
        from hub.trust.manage import tlp_name

        actual = {(o, g): (role, tlp_name(c)) for o, g, role, c in rows}
        for pair in set(actual) | set(self.members):
            if pair in self.absent_ok and pair not in actual:
                continue  # removed by a coordinator of that group, or awaiting approval
            assert actual.get(pair) == self.members.get(pair), (
                f"membership {pair[0]}@{pair[1]} is {actual.get(pair)}; expected {self.members.get(pair)}"
            )
        # a coordinator's action on a member's key reaches that group only
        for (org, group), _ in self.members.items():
            if org not in {self.s[h] for h in HONEST} or (org, group) in self.cut:
                continue
            r = self.client.get(f"/taxii2/{group}/collections/", headers=self.taxii_headers(self.key[org]))
            assert r.status_code == 200, f"{org} was cut off {group}: {r.status_code} {r.text[:200]}"

    @invariant()
    def no_coordinator_feed_reached_the_hubs_network(self) -> None:
        assert self.recorder is not None
        assert not self.recorder.requests, (
            f"a coordinator's feed fetched from the hub's network: {self.recorder.requests}"
        )


def test_no_key_coordinator_or_feed_does_more_than_the_trust_model_grants(client, sm, recorder):
    Authority.client, Authority.sm, Authority.recorder = client, sm, recorder
    run_state_machine_as_test(
        Authority,
        settings=hypothesis_settings(
            max_examples=10,
            stateful_step_count=10,
            deadline=None,
            derandomize=True,
            phases=PHASES,
            database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )


# ---------------------------------------------------------------- each move on its own (the test world)
#
# cert-a coordinates africa and reads asia; cert-c coordinates asia and reads africa; cert-b contributes to
# africa; vendor reads africa cleared GREEN; the platform admin is hub-operator/admin.


def named_collection(sm: Any, group: str, alias: str, owner: str, recipients: list[str]) -> str:
    """A named-recipient collection as its owner asked the operator for it (straight into the database)."""
    from hub.trust.service import new_collection_id

    with sm() as s, s.begin():
        begin_write(s)
        org = {o.slug: o.id for o in s.scalars(select(Organisation))}
        gid = s.scalar(select(TrustGroup.id).where(TrustGroup.slug == group))
        cid = new_collection_id()
        s.add(Collection(id=cid, group_id=gid, alias=alias, title=alias, kind="named", owner_id=org[owner]))
        s.flush()
        for r in recipients:
            s.add(CollectionRecipient(collection_id=cid, organisation_id=org[r]))
    return cid


def recipients_of(sm: Any, cid: str) -> set[str]:
    with sm() as s:
        return set(
            s.scalars(
                select(Organisation.slug)
                .join(CollectionRecipient, CollectionRecipient.organisation_id == Organisation.id)
                .where(CollectionRecipient.collection_id == cid)
            )
        )


def keys_of(sm: Any, org: str, account: str) -> set[str]:
    with sm() as s:
        return set(
            s.scalars(
                select(ApiKey.key_id)
                .join(Account, Account.id == ApiKey.account_id)
                .join(Organisation, Organisation.id == Account.organisation_id)
                .where(Organisation.slug == org, Account.name == account)
            )
        )


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def staff_key(api: Any) -> str:
    """A non-admin key of the operator's organisation, issued by the platform admin."""
    r = api("admin", "POST", "/organisations/hub-operator/keys", json={"account": "staff", "label": "staff"})
    assert r.status_code == 201, r.text
    return str(r.json()["secret"])


def test_a_coordinator_cannot_add_recipients_to_a_members_named_collection(api, client, sm, admin_world):
    world = admin_world
    cid = named_collection(sm, "africa", "b-red", owner="cert-b", recipients=["cert-c"])
    red = indicator(990, tlp="red")
    url = f"/taxii2/africa/collections/{cid}/objects/"
    r = client.post(url, content=orjson.dumps({"objects": [red]}), headers=world.post_headers("cert-b"))
    assert r.status_code == 202 and r.json()["success_count"] == 1, r.text
    r = api(
        "cert-a",
        "PATCH",
        "/groups/africa/collections/b-red",
        json={"recipients": ["cert-c", "cert-a", "vendor"]},
    )
    assert 400 <= r.status_code < 500, (
        f"the coordinator widened cert-b's collection: {r.status_code} {r.text}"
    )
    assert recipients_of(sm, cid) == {"cert-c"}
    for who in ("cert-a", "vendor"):
        got = client.get(url, headers=world.auth(who))
        assert got.status_code == 404 or red["id"] not in got.text, f"{who} reads cert-b's RED"
    assert red["id"] in client.get(url, headers=world.auth("cert-c")).text  # the recipient cert-b named does


def test_a_coordinator_may_narrow_a_members_named_collection(api, sm, admin_world):
    cid = named_collection(sm, "africa", "b-red", owner="cert-b", recipients=["cert-c", "vendor"])
    r = api("cert-a", "PATCH", "/groups/africa/collections/b-red", json={"recipients": ["cert-c"]})
    assert r.status_code == 200, r.text
    assert recipients_of(sm, cid) == {"cert-c"}


def test_a_non_admin_key_of_the_operators_organisation_cannot_mint_an_admin_key(api, client, sm, admin_world):
    staff = staff_key(api)
    before = keys_of(sm, "hub-operator", "admin")
    r = client.post(
        "/admin/v1/organisations/hub-operator/keys", json={"account": "admin"}, headers=bearer(staff)
    )
    assert 400 <= r.status_code < 500, (
        f"a non-admin key minted a platform-admin key: {r.status_code} {r.text}"
    )
    assert keys_of(sm, "hub-operator", "admin") == before


def test_a_non_admin_key_of_the_operators_organisation_cannot_rotate_an_admin_key(
    api, client, sm, admin_world
):
    staff = staff_key(api)
    [admin_key] = keys_of(sm, "hub-operator", "admin")
    r = client.post(f"/admin/v1/organisations/hub-operator/keys/{admin_key}/rotate", headers=bearer(staff))
    assert 400 <= r.status_code < 500, f"a non-admin key rotated the admin's key: {r.status_code} {r.text}"
    assert keys_of(sm, "hub-operator", "admin") == {admin_key}
    assert api("admin", "GET", "/me").json()["platform_admin"] is True  # the admin's key is untouched


def test_a_key_issues_keys_only_for_its_own_account(api, sm, admin_world):
    r = api("cert-b", "POST", "/organisations/cert-b/keys", json={"account": "robot"})
    assert 400 <= r.status_code < 500, f"cert-b/taxii issued a key for cert-b/robot: {r.status_code} {r.text}"
    assert keys_of(sm, "cert-b", "robot") == set()


def test_a_key_never_grants_more_scopes_than_it_holds(api, client, admin_world):
    r = api(
        "cert-b",
        "POST",
        "/organisations/cert-b/keys",
        json={"account": "taxii", "scopes": ["read", "manage"]},
    )
    assert r.status_code == 201 and sorted(r.json()["key"]["scopes"]) == ["manage", "read"], r.text
    narrow = r.json()["secret"]
    r = client.post(
        "/admin/v1/organisations/cert-b/keys",
        json={"account": "taxii", "scopes": sorted(ALL)},
        headers=bearer(narrow),
    )
    assert 400 <= r.status_code < 500, f"a read+manage key granted every scope: {r.text}"
    r = client.post("/admin/v1/organisations/cert-b/keys", json={"account": "taxii"}, headers=bearer(narrow))
    assert 400 <= r.status_code < 500 or set(r.json()["key"]["scopes"]) <= {"read", "manage"}, r.text


def test_a_download_key_neither_publishes_nor_uses_the_admin_api(api, client, admin_world):
    world = admin_world
    r = api("cert-b", "POST", "/organisations/cert-b/keys", json={"account": "taxii", "scopes": ["download"]})
    assert r.status_code == 201 and r.json()["key"]["scopes"] == ["download"], r.text
    device = r.json()["secret"]
    headers = {**bearer(device), "Accept": TAXII, "Content-Type": TAXII}
    r = client.post(world.objects_url(), content=orjson.dumps({"objects": [indicator(991)]}), headers=headers)
    assert r.status_code == 403, f"a download key published: {r.status_code} {r.text}"
    assert client.get("/admin/v1/me", headers=bearer(device)).status_code == 403
    r = client.post("/admin/v1/organisations/cert-b/keys", json={"account": "taxii"}, headers=bearer(device))
    assert r.status_code == 403, f"a download key minted a key: {r.status_code} {r.text}"


def test_a_coordinator_cannot_lock_out_a_member_that_coordinates_another_group(api, client, admin_world):
    """cert-c coordinates asia, where cert-a (africa's coordinator) is a reader."""
    keys = api("cert-c", "GET", "/organisations/cert-a/keys")
    [mine] = [k["key_id"] for k in api("cert-a", "GET", "/organisations/cert-a/keys").json()]
    api(
        "cert-c", "POST", f"/organisations/cert-a/keys/{mine}/revoke"
    )  # allowed or not: africa stays cert-a's
    assert keys.status_code in (200, 403, 404)
    assert api("cert-a", "GET", "/groups/africa/members").status_code == 200, (
        "cert-a was locked out of africa"
    )
    r = client.get("/taxii2/africa/collections/", headers=admin_world.auth("cert-a"))
    assert r.status_code == 200, r.text


def test_a_coordinator_cannot_raise_its_own_clearance_through_an_organisation_it_invited(api, client, sm):
    set_clearance(sm, "cert-a", "green")
    r = api("cert-a", "POST", "/groups/africa/invitations",
            json={"organisation": "puppet", "role": "coordinator", "clearance": "amber+strict"})  # fmt: skip
    assert r.status_code == 201, r.text
    done = client.post("/admin/v1/invitations/redeem", json={"token": r.json()["token"]})
    assert done.status_code < 500, done.text
    if done.status_code == 201 and done.json().get("key"):
        puppet = done.json()["key"]
        r = client.patch(
            "/admin/v1/groups/africa/members/cert-a",
            json={"clearance": "amber+strict"},
            headers=bearer(puppet),
        )
        assert 400 <= r.status_code < 500, f"the invited organisation raised its inviter: {r.text}"
    assert api("admin", "GET", "/groups/africa/members/cert-a").json()["clearance"] == "green"


def test_an_organisation_made_by_an_invitation_waits_for_a_platform_admin(api, client):
    r = api(
        "cert-a", "POST", "/groups/africa/invitations", json={"organisation": "newcomer", "role": "reader"}
    )
    assert r.status_code == 201, r.text
    done = client.post("/admin/v1/invitations/redeem", json={"token": r.json()["token"]})
    assert done.status_code == 201, done.text
    assert client.get("/admin/v1/me", headers=bearer(done.json()["key"])).status_code in (401, 403)


INTERNAL = ["127.0.0.1", "localhost", "LOCALHOST", "127.1", "decimal", "hex", "unspecified", "ipv4-mapped",
            "upper-case-scheme", "10.x", "192.168.x", "metadata", "[::1]"]  # fmt: skip


@pytest.mark.parametrize("spelling", INTERNAL)
def test_a_coordinator_feed_never_fetches_from_the_hubs_network(api, client, sm, recorder, spelling):
    urls = recorder.internal_urls()
    if spelling not in urls:
        pytest.skip(f"no {spelling} on this machine")
    url, proxied = urls[spelling]
    body = {"name": "internal", "format": "text", "url": url, "collection": "indicators",
            "publish_as": "cert-a", "tlp": "green"}  # fmt: skip
    r = api("cert-a", "POST", "/groups/africa/feeds", json=body)
    assert r.status_code < 500, r.text
    if r.status_code == 201:
        recorder.run(sm, "internal", proxied)
        feed = api("cert-a", "GET", "/groups/africa/feeds/internal").json()
        assert "internal-db" not in str(feed.get("last_error")), (
            "the target's answer is echoed to the coordinator"
        )
    assert recorder.requests == [], f"a coordinator's feed fetched {url}: {recorder.requests}"
