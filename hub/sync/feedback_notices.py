"""Feedback notices (the `feedback` subscription event): what the constituency watch jobs
(hub.sync.notify) record and deliver when another organisation reports on an object an organisation
published, or false positives hold one of its objects off device lists (hub.feedback).

Only the object's publisher is told: it reads every report on its objects in full whatever the group's
`feedback_visibility` (docs/feedback.md), so a notice names the reporter, as the object page does. A
notice is a `watch_matches` row whose rule is "feedback:<what>" (held, sighting, false-positive,
opinion, note; no constituency rule takes that form): the version it points to is the report, or for
a hold the publisher's own version. Each delivery reads it again through the read door as the
publisher, so a report above its clearance, an object no longer its own, or a hold already decided
is left out, unsaid. A reporter's text (a note's `content`, an opinion's `explanation`, a sighting's
`description`) goes out as one line of printable characters.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.policy.tlp import Tlp
from hub.store import feedback as feedback_rows
from hub.store import inside as store
from hub.store import reads as door
from hub.sync.notify_models import Subscription, WatchMatch
from hub.trust import access
from hub.trust.models import Collection, Organisation, TrustGroup
from hub.vocab.time import format_us

FEEDBACK = "feedback:"
MAX_TEXT = 500  # characters of a note's or an opinion's text in a notice


@dataclass(frozen=True)
class Item:
    """One match (or notice) as a delivery carries it."""

    id: int
    data: dict[str, Any]


_CONTROL = str.maketrans(dict.fromkeys([*map(chr, range(32)), "\x7f", "\u2028", "\u2029"], " "))


def event_of(rule: str) -> str:
    """The subscription event a match belongs to: `feedback` (a notice) or `inside` (a constituency match)."""
    return "feedback" if rule.startswith(FEEDBACK) else "inside"


def _feedback_subscribers(s: Session) -> set[int]:
    return set(
        s.scalars(
            select(Subscription.organisation_id).where(
                Subscription.active.is_(True), Subscription.events.contains("feedback")
            )
        )
    )


def feedback_batch(s: Session, rows: list[Any], *, now: int) -> list[dict[str, Any]]:
    """The feedback notices of these versions (rows of `store.new_versions`), as watch_matches rows.

    A shared report (hub.feedback) on another organisation's object is a notice to that object's
    publisher, and only to it (the one organisation besides the reporter and the coordinators that
    reads every report in full, whatever the group's feedback_visibility); a false positive that
    put the object on hold is also a `held` notice, one per hold. Only publishers with a feedback
    subscription get rows. As with matches, each delivery reads the notice again through the read
    door as the publisher (`readable_matches`)."""
    seqs = [r.seq for r in rows if r.type in door.REPORT_TYPES and r.private_to == 0]
    if not seqs:
        return []
    subscribers = _feedback_subscribers(s)
    if not subscribers:
        return []
    out: dict[tuple[int, int, str], dict[str, Any]] = {}
    for n in feedback_rows.notice_sources(s, seqs):
        pub = n.publisher_id
        if pub is None or pub not in subscribers:
            continue
        if pub != n.reporter_id:  # a publisher is not told of its own reports
            key = (pub, n.seq, n.object_id[:2048])
            out[key] = {"organisation_id": pub, "version_seq": n.seq, "value": key[2],
                        "rule": FEEDBACK + n.kind, "matched_at_us": now}  # fmt: skip
        if n.kind == "false-positive" and n.held_since_us is not None and n.publisher_seq is not None:
            # the object is held (this report completed the hold, or came while it lasts): one notice per
            # hold, whoever's false positive completed it, the start of the hold in the value
            key = (pub, n.publisher_seq, f"{n.held_since_us} {n.object_id}"[:2048])
            out[key] = {"organisation_id": pub, "version_seq": n.publisher_seq, "value": key[2],
                        "rule": FEEDBACK + "held", "matched_at_us": now}  # fmt: skip
    return list(out.values())


def _one_line(text: Any) -> str:
    """A note's or an opinion's text as a notice carries it: one line of printable characters (no line
    break, control or bidirectional override to forge a header or a line of the digest), cut short."""
    if not isinstance(text, str):
        return ""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:MAX_TEXT]


def labels(s: Session, rows: Iterable[Any]) -> tuple[dict[str, tuple[str, str]], dict[int, str]]:
    """What a notice names of the visible versions `rows`: each collection's (alias, group slug), and
    each publisher's slug (the watch's notices and the feedback notices alike)."""
    rows = list(rows)
    places = {
        c.id: (c.alias, g.slug)
        for c, g in s.execute(
            select(Collection, TrustGroup)
            .join(TrustGroup, TrustGroup.id == Collection.group_id)
            .where(Collection.id.in_(sorted({r.collection_id for r in rows})))
        )
    }
    names = dict(
        s.execute(
            select(Organisation.id, Organisation.slug).where(
                Organisation.id.in_(sorted({r.producer_id for r in rows}))
            )
        ).all()
    )
    return places, names


def feedback_notices(s: Session, org: Organisation, matches: list[WatchMatch]) -> list[Item]:
    """Feedback notices to `org` as it may read them now, through the read door: a report it is the
    audience of (or any member reads), on an object of its own it still reads; a hold on an object of
    its own that is still held (the one that started then). Anything else is left out, unsaid."""
    seqs = [m.version_seq for m in matches]
    colls = store.collections_of(s, seqs)
    clearances = access.read_clearances(s, org_id=org.id, collection_ids=colls.values())
    visible = store.readable_notices(s, reader_org_id=org.id, clearances=clearances, seqs=seqs)
    coll_rows, names = labels(s, visible.values())
    items: list[Item] = []
    for m in matches:
        r = visible.get(m.version_seq)
        level = clearances.get(r.collection_id) if r is not None else None
        if r is None or level is None:
            continue
        alias, group = coll_rows.get(r.collection_id, ("", ""))
        notice = m.rule.removeprefix(FEEDBACK)
        where = {"collection": r.collection_id, "collection_alias": alias, "group": group}
        if notice == "held":
            h = feedback_rows.hold(s, collection_id=r.collection_id, object_id=r.stix_id)
            if r.producer_id != org.id or h is None or not h.held or m.value.split(" ")[0] != str(h.since_us):
                continue  # no longer its object, or already confirmed or revoked
            data = {"notice": "held", "object_id": r.stix_id, "type": r.type, **where,
                    "held_since": format_us(h.since_us),
                    "decide": f"/lookup/v1/objects/{r.stix_id}/decision"}  # fmt: skip
        else:
            reader = door.Reader(org_id=org.id, clearance=int(level))
            target = door.readable_object(s, reader=reader, collection_id=r.collection_id, object_id=m.value)
            if target is None or target.producer_id != org.id:
                continue  # the object is no longer its own to be told about
            obj = json.loads(r.body)
            count, first, last = (obj.get("count"), obj.get("first_seen"), obj.get("last_seen"))
            text = obj.get({"note": "content", "opinion": "explanation"}.get(r.type, "description"))
            data = {
                "notice": notice, "object_id": target.stix_id, "type": target.type, **where,
                "report_id": r.stix_id, "report_type": r.type, "reporter": names.get(r.producer_id, ""),
                "tlp": Tlp(min(r.tlp, Tlp.RED)).name.lower().replace("_", "+"),
                "count": count if isinstance(count, int) and not isinstance(count, bool) else None,
                "first_seen": _one_line(first)[:40] or None, "last_seen": _one_line(last)[:40] or None,
                "text": _one_line(text), "date_added": format_us(r.date_added_us),
            }  # fmt: skip
        data["noticed_at"] = format_us(m.matched_at_us)
        items.append(Item(m.id, data))
    return items


def feedback_text(org: str, items: list[Item]) -> str:
    """The plain-text body of a feedback digest (text/plain; a reporter's text on a line of its own,
    quoted, never markup)."""
    lines = [f"{len(items)} feedback notice(s) on objects {org} published on the hub.", ""]
    for it in items:
        d = it.data
        where = f"{d['object_id']} ({d['type']}) in {d['group']}/{d['collection_alias']}"
        if d["notice"] == "held":
            lines.append(f"- HELD: {where}")
            lines.append(
                f"  held out of device lists by false-positive reports since {d['held_since']}: "
                "confirm or revoke it (the object page, POST " + d["decide"] + ", or hub feedback "
                "confirm|revoke ID)"
            )
            continue
        lines.append(f"- {str(d['notice']).replace('-', ' ')} on {where}")
        seen = ", ".join(
            f"{k.replace('_', ' ')} {d[k]}"
            for k in ("count", "first_seen", "last_seen")
            if d.get(k) is not None
        )
        lines.append(
            f"  by {d['reporter']}, TLP:{str(d['tlp']).upper()}, added {d['date_added']}"
            + (f"; {seen}" if seen else "")
        )
        if d.get("text"):
            lines.append(f'  text: "{str(d["text"]).translate(_CONTROL)}"')
    lines += ["", "Each report keeps its TLP: share it only as its marking allows."]
    return "\n".join(lines) + "\n"
