"""No watch channel tells an organisation of anything it may not read: the inside view, the webhook and
the email digest, for generated worlds and constituencies, on both databases.

Hypothesis builds organisations with roles and clearances (some outside the group), a group collection
and a named-recipient collection, IP indicators at every TLP in either, and per organisation a
constituency of networks, each confirmed or not. Every value is unique to its version. The oracle is
the stored record and the policy layer's Python rule (`may_read`): an organisation hears of exactly the
versions it may read whose value falls in its confirmed networks, through every channel, and of no other.
"""

from __future__ import annotations

import email
import email.policy
import ipaddress
import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from hub.db import begin_write
from hub.lookup.inside import inside
from hub.net import OutboundGuard
from hub.policy.rules import CollectionPolicy, GroupPolicy, Reader, may_read
from hub.policy.tlp import Tlp
from hub.store.tables import ObjectVersion
from hub.sync.subscriptions import SubscriptionCreate, create_subscription
from hub.trust import constituency
from hub.trust.manage import OPERATOR
from hub.trust.models import Collection, Organisation
from hub.trust.schemas import TrustConfig
from hub.trust.service import apply_config, authenticate
from tests.factories import TLP
from tests.leak_strategies import LEVELS, leak_settings, orgs_st
from tests.watch_helpers import Receiver, config, http_receiver, run_pass, smtp_server

_counter = itertools.count()
NETS = ["41.90.0.0/16", "41.91.0.0/16", "41.92.0.0/16"]  # slot 3 is outside every constituency
SECRET = "leak-test-webhook-secret"

# (producer, level, to_named, network slot)
objects_st = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from(LEVELS), st.booleans(), st.integers(0, 3)),
    min_size=1,
    max_size=8,
)
# per organisation: for each network, absent / declared / declared and confirmed
_STATES = st.sampled_from([None, "declared", "confirmed"])
constituencies_st = st.lists(st.lists(_STATES, min_size=3, max_size=3), min_size=4, max_size=4)


@pytest.fixture
def channels() -> Iterator[tuple[Receiver, Any, Any]]:
    with http_receiver() as rec, smtp_server() as (smtp, box):
        yield rec, smtp, box


def _indicator(ip: str, level: str | None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "pattern": f"[ipv4-addr:value = '{ip}']", "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z",
    }  # fmt: skip
    if level:
        obj["object_marking_refs"] = [TLP[level]]
    return obj


@leak_settings(12)
@given(
    orgs=orgs_st,
    objects=objects_st,
    default=st.sampled_from(LEVELS[:4]),
    recipients=st.sets(st.integers(1, 3)),
    consts=constituencies_st,
)
def test_no_watch_channel_reveals_what_the_organisation_may_not_read(
    client, sm, channels, orgs, objects, default, recipients, consts
):
    rec, smtp, box = channels
    n = next(_counter)
    slugs = [f"w{n}-{i}" for i in range(len(orgs))]
    group = f"wg{n}"
    members = [{"org": s, "role": r, "clearance": c} for s, (r, c) in zip(slugs, orgs, strict=True) if r]
    named_ok = orgs[0][0] is not None
    recips = [slugs[i] for i in recipients if i < len(slugs) and orgs[i][0] is not None]
    collections = [{"alias": "shared", "title": "Shared"}]
    if named_ok:
        collections.append(
            {"alias": "named", "title": "Named", "kind": "named", "owner": slugs[0], "recipients": recips}
        )
    cfg = {
        "organisations": [{"slug": s, "name": s.upper(), "accounts": [{"name": "k"}]} for s in slugs],
        "groups": [{"slug": group, "name": group, "default_tlp": default, "max_tlp": "amber+strict",
                    "members": members, "collections": collections}],
    }  # fmt: skip
    guard = OutboundGuard.from_environ({"HUB_OUTBOUND_ALLOW": "127.0.0.1"})
    with sm() as s, s.begin():
        begin_write(s)
        issued = apply_config(s, TrustConfig.model_validate(cfg))
        org_ids = {o.slug: o.id for o in s.scalars(select(Organisation).where(Organisation.slug.in_(slugs)))}
        colls = {c.alias: c.id for c in s.scalars(select(Collection)) if c.group.slug == group}
        for i, slug in enumerate(slugs):
            wanted = [NETS[j] for j, state in enumerate(consts[i]) if state]
            constituency.declare(s, OPERATOR, slug, constituency.parse_declaration(networks=wanted))
            sure = [f"network:{NETS[j]}" for j, state in enumerate(consts[i]) if state == "confirmed"]
            if sure:
                constituency.confirm(s, OPERATOR, slug, entries=sure)
            create_subscription(s, OPERATOR, slug, SubscriptionCreate("webhook", url=rec.url, secret=SECRET),
                                guard=guard)  # fmt: skip
            create_subscription(s, OPERATOR, slug, SubscriptionCreate("email", to=f"{slug}@cirt.example"),
                                guard=guard)  # fmt: skip
    keys = {k.organisation: k.key for k in issued}
    for k, (producer_i, level, to_named, slot) in enumerate(objects):
        producer = slugs[producer_i % len(slugs)]
        alias = "named" if to_named and named_ok else "shared"
        ip = f"41.{90 + slot}.{n % 250}.{k}"
        client.post(
            f"/taxii2/{group}/collections/{colls[alias]}/objects/",
            content=orjson.dumps({"objects": [_indicator(ip, level)]}),
            headers={"Authorization": f"Bearer {keys[producer]}",
                     "Content-Type": "application/taxii+json;version=2.1"},
        )  # fmt: skip
    rec.got.clear()
    box.messages.clear()
    run_pass(sm, config(smtp))

    # the oracle
    gpol = GroupPolicy(slug=group, default_tlp=Tlp.parse(default), max_tlp=Tlp.AMBER_STRICT)
    cpols = {
        cid: CollectionPolicy(
            id=cid, kind="named" if alias == "named" else "group", group=gpol, owner_org_id=org_ids[slugs[0]],
            recipient_org_ids=frozenset(org_ids[r] for r in recips),
        )
        for alias, cid in colls.items()
    }  # fmt: skip
    with sm() as s:
        stored = list(
            s.execute(
                select(ObjectVersion.collection_id, ObjectVersion.tlp, ObjectVersion.producer_id,
                       ObjectVersion.private_to, ObjectVersion.body)
                .where(ObjectVersion.collection_id.in_(list(colls.values())))
            )
        )  # fmt: skip
    webhook: dict[str, set[str]] = {}
    for _headers, body in rec.got:
        payload = orjson.loads(body)
        webhook.setdefault(payload["organisation"], set()).update(m["value"] for m in payload["matches"])
    mails: dict[str, str] = {}
    for _from, rcpts, raw in box.messages:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        mails[rcpts[0].split("@")[0]] = msg.get_content()

    for i, slug in enumerate(slugs):
        role, clearance = orgs[i]
        reader = Reader(org_id=org_ids[slug], role=role, clearance=Tlp.parse(clearance))
        mine = [ipaddress.ip_network(NETS[j]) for j, state in enumerate(consts[i]) if state == "confirmed"]
        expected: set[str] = set()
        every: set[str] = set()
        for cid, tlp, producer, private_to, body in stored:
            value = orjson.loads(body)["pattern"].split("'")[1]
            every.add(value)
            if private_to or not may_read(reader, cpols[cid], Tlp(tlp), producer).allowed:
                continue
            if any(ipaddress.ip_address(value) in net for net in mine):
                expected.add(value)
        with sm() as s, s.begin():
            who = authenticate(s, keys[slug])
            assert who is not None
            view = {item.value for item in inside(s, who, limit=1000).items}
        assert view == expected, (slug, view, expected)
        assert webhook.get(slug, set()) == expected, (slug, webhook.get(slug), expected)
        text = mails.get(slug, "")
        assert {v for v in every if v in text.split()} == expected, (slug, text, expected)
