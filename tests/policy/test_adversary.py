"""An adversarial member against the live app: a hypothesis state machine of honest CIRTs and one attacker.

Two honest contributors publish objects (new ones, new versions that change their TLP, custom marking
definitions and objects marked with them) into a group collection; one contributor cleared only GREEN
attacks: it redefines markings, versions others' objects with a lower TLP, re-posts the ids of objects
hidden from it (next to an absent id, to compare the answers), posts non-canonical TLP refs, and relays
what it can read into a group of another community. After every step:

* every honest reader's latest version of every object is its publisher's latest version that reader
  may see (nothing rewritten, shadowed or downgraded);
* the attacker's answers for a hidden id and for an absent id are the same, and so are its reads back;
* nothing reached the other community's group against the TLP it has where it was first shared.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from hub.db import begin_write
from hub.trust.schemas import TrustConfig
from hub.trust.service import apply_config
from tests.factories import TAXII, TLP

LEVELS = ["clear", "green", "amber", "amber+strict"]
RANK = {name: i for i, name in enumerate(LEVELS)}
_runs = itertools.count()


@dataclass
class Version:
    obj: dict[str, Any]
    level: str


@dataclass
class Published:
    """An honest object: its publisher and every version it published."""

    publisher: str
    versions: list[Version] = field(default_factory=list)


class Adversary(RuleBasedStateMachine):
    """Honest CIRTs h1 and h2, a reader r (GREEN), an attacker x (contributor, GREEN).

    Ids hold the run number (every run shares one database), so rules draw objects in the order they
    were made, never in id order: a replayed run must pick the same objects, or hypothesis reports its
    data generation as flaky.
    """

    client: Any = None
    sm: Any = None

    def __init__(self) -> None:
        super().__init__()
        n = next(_runs)
        self.n = n
        self.orgs = {k: f"adv{n}-{k}" for k in ("h1", "h2", "r", "x", "r2")}
        self.clearance = {
            "h1": "amber+strict",
            "h2": "amber",
            "r": "green",
            "x": "green",
            "r2": "amber+strict",
        }
        cfg = {
            "organisations": [
                {"slug": s, "name": s, "accounts": [{"name": "taxii"}]} for s in self.orgs.values()
            ],
            "groups": [
                {
                    "slug": f"adv{n}-g",
                    "name": "G",
                    "community": f"south{n}",
                    "members": [
                        {"org": self.orgs["h1"], "role": "contributor", "clearance": "amber+strict"},
                        {"org": self.orgs["h2"], "role": "contributor", "clearance": "amber"},
                        {"org": self.orgs["r"], "role": "reader", "clearance": "green"},
                        {"org": self.orgs["x"], "role": "contributor", "clearance": "green"},
                    ],
                    "collections": [{"alias": "shared", "title": "Shared"}],
                },
                {
                    "slug": f"adv{n}-h",
                    "name": "H",
                    "community": f"north{n}",
                    "members": [
                        {"org": self.orgs["x"], "role": "contributor", "clearance": "green"},
                        {"org": self.orgs["r2"], "role": "reader", "clearance": "amber+strict"},
                    ],
                    "collections": [{"alias": "shared", "title": "Shared"}],
                },
            ],
        }
        with self.sm() as s, s.begin():
            begin_write(s)
            issued = apply_config(s, TrustConfig.model_validate(cfg))
        self.keys = {k.organisation: k.key for k in issued}
        from sqlalchemy import select

        from hub.trust.models import Collection, TrustGroup

        with self.sm() as s:
            rows = s.execute(select(TrustGroup.slug, Collection.id).join(Collection)).all()
        self.colls = {slug: cid for slug, cid in rows if slug.startswith(f"adv{n}-")}
        self.objects: dict[str, Published] = {}
        self.markings: dict[str, tuple[str, str]] = {}  # id -> (publisher, level it defines)
        # per hidden object, an absent id the attacker treats exactly alike: the answers must match
        self.controls: dict[str, str] = {}
        self.counter = itertools.count()

    # ------------------------------------------------------------------ plumbing

    def url(self, group: str) -> str:
        return f"/taxii2/adv{self.n}-{group}/collections/{self.colls[f'adv{self.n}-{group}']}/objects/"

    def headers(self, who: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.keys[self.orgs[who]]}",
            "Accept": TAXII,
            "Content-Type": TAXII,
        }

    def post(self, who: str, objs: list[dict[str, Any]], group: str = "g") -> list[dict[str, Any]]:
        r = self.client.post(
            self.url(group), content=orjson.dumps({"objects": objs}), headers=self.headers(who)
        )
        assert r.status_code == 202, r.text
        body = r.json()
        entries = {(e["id"], e.get("version")): e["message"] for e in body.get("successes", [])}
        entries.update(
            {(e["id"], e.get("version")): "refused: " + e["message"] for e in body.get("failures", [])}
        )
        return [
            {"id": o["id"], "message": entries.get((o["id"], o.get("modified", o.get("created"))), "?")}
            for o in objs
        ]

    def latest(self, who: str, group: str = "g") -> dict[str, dict[str, Any]]:
        r = self.client.get(self.url(group), params={"limit": 1000}, headers=self.headers(who))
        assert r.status_code == 200, r.text
        out: dict[str, dict[str, Any]] = {}
        for o in r.json().get("objects", []):
            assert o["id"] not in out or o["type"] == "marking-definition", f"{o['id']} served twice"
            out[o["id"]] = o
        return out

    def fresh_id(self, stype: str = "indicator") -> str:
        return f"{stype}--{uuid.uuid5(uuid.NAMESPACE_URL, f'adv {self.n} {next(self.counter)}')}"

    def indicator(self, sid: str, level: str, modified: str, *, refs: list[str] | None = None, **extra: Any):
        return {
            "type": "indicator",
            "spec_version": "2.1",
            "id": sid,
            "created": "2024-01-01T00:00:00.000Z",
            "modified": modified,
            "pattern": f"[domain-name:value = '{sid[-12:]}.example']",
            "pattern_type": "stix",
            "valid_from": "2024-01-01T00:00:00Z",
            "object_marking_refs": refs or [TLP[level]],
            **extra,
        }

    def seen_by(self, who: str, obj: Published) -> Version | None:
        """The latest version `who` may see of an honest object (its publisher sees all of its own)."""
        mine = self.orgs[who] == self.orgs[obj.publisher]
        visible = [v for v in obj.versions if mine or RANK[v.level] <= RANK[self.clearance[who]]]
        return max(visible, key=lambda v: v.obj["modified"]) if visible else None

    # ------------------------------------------------------------------ honest CIRTs

    @rule(who=st.sampled_from(["h1", "h2"]), level=st.sampled_from(LEVELS))
    def publish(self, who: str, level: str) -> None:
        if RANK[level] > RANK[self.clearance[who]]:
            level = self.clearance[who]
        obj = self.indicator(self.fresh_id(), level, "2024-01-01T00:00:00.000Z", name=f"by {who}")
        [entry] = self.post(who, [obj])
        assert entry["message"] == "stored", entry
        self.objects[obj["id"]] = Published(who, [Version(obj, level)])

    @rule(data=st.data(), level=st.sampled_from(LEVELS))
    def reclassify(self, data: st.DataObject, level: str) -> None:
        if not self.objects:
            return
        sid = data.draw(st.sampled_from(list(self.objects)))
        pub = self.objects[sid]
        if RANK[level] > RANK[self.clearance[pub.publisher]]:
            level = self.clearance[pub.publisher]
        step = len(pub.versions)
        obj = self.indicator(
            sid, level, f"2024-01-{step + 1:02d}T00:00:00.000Z", name=f"v{step} by {pub.publisher}"
        )
        [entry] = self.post(pub.publisher, [obj])
        assert entry["message"] == "stored", entry
        pub.versions.append(Version(obj, level))

    @rule(level=st.sampled_from(["green", "amber"]))
    def define_marking(self, level: str) -> None:
        md = {
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": self.fresh_id("marking-definition"),
            "created": "2024-01-01T00:00:00.000Z",
            "definition_type": "tlp",
            "name": f"custom {level}",
            "definition": {"tlp": level},
        }
        obj = self.indicator(self.fresh_id(), level, "2024-01-01T00:00:00.000Z", refs=[md["id"]])
        entries = self.post("h1", [md, obj])
        assert [e["message"] for e in entries] == ["stored", "stored"], entries
        self.markings[md["id"]] = ("h1", level)
        self.objects[obj["id"]] = Published("h1", [Version(obj, level)])

    # ------------------------------------------------------------------ the attacker

    @rule(data=st.data())
    def redefine_marking(self, data: st.DataObject) -> None:
        if not self.markings:
            return
        mid = data.draw(st.sampled_from(list(self.markings)))
        lie = {
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": mid,
            "created": "2030-01-01T00:00:00.000Z",
            "definition_type": "tlp",
            "name": "relaxed",
            "definition": {"tlp": "clear"},
        }
        obj = self.indicator(self.fresh_id(), "clear", "2024-01-01T00:00:00.000Z", refs=[mid])
        self.post("x", [lie, obj])

    def hidden_from_x(self) -> list[str]:
        """Honest objects no version of which the attacker may see."""
        for sid in [s for s in self.controls if self.seen_by("x", self.objects[s]) is not None]:
            del self.controls[sid]  # it became visible: from now on the attacker knows it exists
        return [s for s, p in self.objects.items() if self.seen_by("x", p) is None]

    def twin_posts(self, sid: str, obj: dict[str, Any]) -> None:
        """Post the same content under a hidden id and under its absent twin: same answers, same reads."""
        twin = self.controls.setdefault(sid, self.fresh_id())
        a, b = self.post("x", [obj, dict(obj, id=twin)])
        assert a["message"].replace(sid, "ID") == b["message"].replace(twin, "ID"), (a, b)
        seen = self.latest("x")
        mine, control = seen.get(sid), seen.get(twin)
        assert (mine is None) == (control is None), (mine, control)
        assert mine is None or dict(mine, id=twin) == control, (mine, control)

    @rule(data=st.data(), lower=st.sampled_from(["clear", "green"]))
    def take_over(self, data: st.DataObject, lower: str) -> None:
        if not self.objects:
            return
        sid = data.draw(st.sampled_from(list(self.objects)))
        forged = self.indicator(sid, lower, "2029-01-01T00:00:00.000Z", name="rewritten by the attacker")
        if sid in self.hidden_from_x():
            self.twin_posts(sid, forged)
        else:
            [entry] = self.post("x", [forged])
            assert entry["message"].startswith("refused"), entry

    @rule(data=st.data())
    def probe_hidden(self, data: st.DataObject) -> None:
        hidden = self.hidden_from_x()
        if not hidden:
            return
        sid = data.draw(st.sampled_from(hidden))
        first = self.objects[sid].versions[0].obj
        self.twin_posts(sid, dict(first, name="guessed", object_marking_refs=[TLP["green"]]))

    @rule()
    def non_canonical_refs(self) -> None:
        red = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
        for ref in (red.upper(), TLP["red"].upper(), red + " "):
            obj = self.indicator(self.fresh_id(), "clear", "2024-01-01T00:00:00.000Z", refs=[ref])
            [entry] = self.post("x", [obj])
            assert entry["message"].startswith("refused"), entry

    @rule(data=st.data())
    def relay_elsewhere(self, data: st.DataObject) -> None:
        readable = [s for s, p in self.objects.items() if self.seen_by("x", p) is not None]
        if not readable:
            return
        sid = data.draw(st.sampled_from(readable))
        served = self.latest("x").get(sid)
        if served is not None:
            self.post("x", [served], group="h")

    # ------------------------------------------------------------------ invariants

    @invariant()
    def every_reader_gets_the_publishers_version(self) -> None:
        if not self.objects:
            return
        for who in ("h1", "h2", "r"):
            served = self.latest(who)
            for sid, pub in self.objects.items():
                want = self.seen_by(who, pub)
                got = served.get(sid)
                assert (got is None) == (want is None), (who, sid, got, want)
                if want is not None:
                    assert got == want.obj, (who, sid)

    @invariant()
    def nothing_left_its_group_against_its_tlp(self) -> None:
        if not self.objects:
            return
        for sid, obj in self.latest("r2", group="h").items():
            pub = self.objects.get(sid)
            if pub is None:
                continue  # the attacker's own objects
            # GREEN may not flow to another community: only a CLEAR version of the publisher's arrives
            assert any(v.obj == obj and v.level == "clear" for v in pub.versions), (sid, obj)


def test_an_adversarial_member_cannot_rewrite_shadow_downgrade_or_probe(client, sm):
    Adversary.client, Adversary.sm = client, sm
    run_state_machine_as_test(
        Adversary,
        settings=settings(
            max_examples=12,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
