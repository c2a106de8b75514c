"""A MISP feed (MISP's own feed format: `manifest.json`, `hashes.csv` and one `<uuid>.json` per event)
from the values device lists take, which a MISP subscribes to with no TAXII client.

One event per collection, publisher and day: the day the object was created (`created`, which stays
the same across its versions, or the day it was added for an observable), so that a new version,
revoked or not, updates the same attribute of the same event in MISP instead of adding a second one.
Event and attribute UUIDs are uuid5 names of what they stand for; an event's UUID also carries its
day in its first two bytes, so that one event is read from that day on, not from the beginning.
The publisher (the member that put the object in the hub) is the event's creator organisation
(`Orgc`). Attributes carry `to_ids`: true for a live indicator or observable, false for an expired
one, false and `deleted` for a revoked one (MISP keeps what a feed stops listing, so the change is
said, not left out); their timestamps move with each version (and past `valid_until`, and when a
sighting extends it), so MISP's timestamp comparison picks up every change. Held objects and lifetimes
are judged as blocklists judge them (hub.lookup.downloads.rows with `device`: a sighting extends
`valid_until`). TLP levels are tags of MISP's `tlp` taxonomy, on each attribute and, the highest, on
the event.

Sightings and false-positive counts: `Feedback` is the hook. Given one, each attribute gets the
`Sighting` list it returns (MISP's sighting objects: type 0 a sighting, 1 a false positive); the hub
keeps no such counts yet, so the routes pass none.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from hub.lookup.downloads import Counter, DownloadFilters, ExportRow, device_values
from hub.lookup.formats.common import Publishers, created_us, printable, valid_until_us
from hub.lookup.values import Value
from hub.policy.tlp import Tlp
from hub.trust.access import CollectionAccess
from hub.trust.service import Principal

NAMESPACE = uuid.UUID("8b1f3d4e-51a7-4c1a-9d4b-3f0c2a6e7b90")
DAY_US = 86_400 * 1_000_000
# the MISP `tlp` taxonomy's tags and colours
TLP_TAGS = {
    Tlp.CLEAR: ("tlp:clear", "#ffffff"),
    Tlp.GREEN: ("tlp:green", "#339900"),
    Tlp.AMBER: ("tlp:amber", "#ffc000"),
    Tlp.AMBER_STRICT: ("tlp:amber+strict", "#ffc000"),
    Tlp.RED: ("tlp:red", "#cc0033"),
}
Feedback = Callable[[ExportRow, Value], list[dict[str, Any]] | None]


def tag(tlp: Tlp) -> dict[str, Any]:
    """The MISP tag of a TLP level."""
    name, colour = TLP_TAGS[tlp]
    return {"name": name, "colour": colour, "exportable": True, "local": False}


def attribute_type(v: Value) -> tuple[str, str, str] | None:
    """(MISP type, category, value) of a device value, or None for one MISP's feed does not take."""
    if v.kind == "ip":
        if v.port is not None:
            return "ip-dst|port", "Network activity", f"{v.value}|{v.port}"
        return "ip-dst", "Network activity", v.value
    if v.kind == "domain":
        return "domain", "Network activity", v.value
    if v.kind == "url":
        return "url", "Network activity", v.value
    if v.kind == "hash" and v.algorithm:
        return v.algorithm.lower().replace("-", ""), "Payload delivery", v.value
    return None


def event_day(row: ExportRow) -> int:
    """The day (since the epoch, UTC) of the event a row goes in: its creation, never after its adding."""
    created = created_us(row.obj)
    at = row.date_added_us if created is None else min(created, row.date_added_us)
    return max(0, at) // DAY_US


def event_uuid(collection_id: str, producer_id: int, day: int) -> str:
    """An event's stable UUID: a uuid5 name, its first two bytes the day (read back by `day_of`)."""
    raw = bytearray(uuid.uuid5(NAMESPACE, f"{collection_id}|{producer_id}|{day}").bytes)
    raw[0:2] = (day & 0xFFFF).to_bytes(2, "big")
    return str(uuid.UUID(bytes=bytes(raw)))


def day_of(event: str) -> int | None:
    """The day an event UUID carries, or None for text that is no UUID."""
    try:
        return int.from_bytes(uuid.UUID(event).bytes[0:2], "big")
    except ValueError:
        return None


@dataclass
class EventMeta:
    """What the manifest says of one event."""

    uuid: str
    collection: str
    day: int
    orgc: dict[str, str]
    info: str
    tlp: Tlp = Tlp.CLEAR
    timestamp: int = 0

    def manifest(self) -> dict[str, Any]:
        return {
            "Orgc": self.orgc,
            "Tag": [{"name": TLP_TAGS[self.tlp][0], "colour": TLP_TAGS[self.tlp][1]}],
            "info": self.info,
            "date": _date(self.day),
            "analysis": 2,
            "threat_level_id": 4,
            "timestamp": self.timestamp,
        }


def _date(day: int) -> str:
    return datetime.fromtimestamp(day * 86_400, tz=UTC).date().isoformat()


@dataclass
class _Attribute:
    event: str
    body: dict[str, Any]
    row: ExportRow = field(repr=False)


class _Feed:
    """Attributes of a download's rows, each with the event it goes in."""

    def __init__(self, session: Session, group_name: str, now_us: int, feedback: Feedback | None) -> None:
        self.publishers = Publishers(session)
        self.group_name = group_name
        self.now_us = now_us
        self.feedback = feedback
        self.meta: dict[str, EventMeta] = {}

    def attributes(
        self, session: Session, principal: Principal, accesses: list[CollectionAccess], f: DownloadFilters
    ) -> Iterator[_Attribute]:
        # revoked and expired values are said with to_ids (MISP keeps what a feed stops listing)
        f = replace(f, valid=False)
        written: set[tuple[str, str]] = set()
        last_row: tuple[str, str] | None = None
        for row, v in device_values(session, principal, accesses, f):
            kind = attribute_type(v)
            if kind is None:
                continue
            if (row.access.collection.id, row.stix_id) != last_row:
                written.clear()
                last_row = (row.access.collection.id, row.stix_id)
            mtype, category, value = kind
            if (mtype, value) in written:
                continue
            written.add((mtype, value))
            day = event_day(row)
            eid = event_uuid(row.access.collection.id, row.producer_id, day)
            # the index's lifecycle, as blocklists read it: a sighting extends valid_until
            state = row.state
            stamp = row.date_added_us // 1_000_000
            own = valid_until_us(row.obj)
            extended = row.valid_until_us is not None and own is not None and row.valid_until_us > own
            if state is None and own is not None and extended and own <= self.now_us:
                # live again by a sighting: a later timestamp than the expired attribute MISP may have read
                stamp = max(stamp, own // 1_000_000) + 1
            if state == "expired":
                until = row.valid_until_us
                if until is not None:
                    stamp = max(stamp, until // 1_000_000)
            body: dict[str, Any] = {
                "uuid": str(uuid.uuid5(NAMESPACE, f"{eid}|{row.stix_id}|{mtype}|{value}")),
                "type": mtype,
                "category": category,
                "value": value,
                "to_ids": state is None,
                "deleted": state == "revoked",
                "disable_correlation": False,
                "timestamp": str(stamp),
                "comment": row.stix_id,
                "Tag": [tag(row.tlp)],
            }
            if self.feedback is not None:
                sightings = self.feedback(row, v)
                if sightings:
                    body["Sighting"] = sightings
            meta = self.meta.get(eid)
            if meta is None:
                pub = self.publishers.get(row.producer_id)
                coll = row.access.collection
                info = printable(
                    f"{self.group_name} / {coll.title or coll.alias}: {pub.name}, {_date(day)}", 250
                )
                meta = self.meta[eid] = EventMeta(
                    eid, coll.id, day, {"name": pub.name, "uuid": pub.uuid}, info
                )
            meta.tlp = max(meta.tlp, row.tlp)
            meta.timestamp = max(meta.timestamp, stamp)
            yield _Attribute(eid, body, row)


def manifest(
    session: Session,
    principal: Principal,
    accesses: list[CollectionAccess],
    f: DownloadFilters,
    *,
    group_name: str,
    now_us: int,
    counter: Counter | None = None,
) -> Iterator[bytes]:
    """`manifest.json`: each event's UUID, creator organisation, TLP tag, info, date and timestamp."""
    feed = _Feed(session, group_name, now_us, None)
    for a in feed.attributes(session, principal, accesses, f):
        if counter is not None:
            counter.add(a.row.access.collection.id)
    yield b"{"
    for i, (eid, meta) in enumerate(sorted(feed.meta.items())):
        yield (b"," if i else b"") + orjson.dumps(eid) + b":" + orjson.dumps(meta.manifest())
    yield b"}\n"


def hashes(
    session: Session,
    principal: Principal,
    accesses: list[CollectionAccess],
    f: DownloadFilters,
    *,
    group_name: str,
    now_us: int,
    counter: Counter | None = None,
) -> Iterator[bytes]:
    """`hashes.csv`: the MD5 of each attribute value (of each part of a composite one) and its event,
    as MISP's feed generator writes it (MISP looks values up in it without fetching the events).

    Only a composite type (`ip-dst|port`) is split: a URL may hold a `|` of its own, and is looked up
    by its whole value (a split would also list the MD5 of an empty part, the empty file's hash)."""
    feed = _Feed(session, group_name, now_us, None)
    lines: list[str] = []
    for a in feed.attributes(session, principal, accesses, f):
        value = str(a.body["value"])
        for part in value.split("|") if "|" in str(a.body["type"]) else (value,):
            lines.append(f"{hashlib.md5(part.encode(), usedforsecurity=False).hexdigest()},{a.event}")
        if counter is not None:
            counter.add(a.row.access.collection.id)
        if len(lines) >= 1000:
            yield ("\n".join(lines) + "\n").encode()
            lines = []
    if lines:
        yield ("\n".join(lines) + "\n").encode()


def event(
    session: Session,
    principal: Principal,
    accesses: list[CollectionAccess],
    f: DownloadFilters,
    *,
    event_id: str,
    group_name: str,
    now_us: int,
    feedback: Feedback | None = None,
    counter: Counter | None = None,
) -> Iterator[bytes]:
    """One event, `{"Event": {...}}`, its attributes streamed; nothing at all when the reader has no
    such event (the caller answers 404 for an empty stream)."""
    day = day_of(event_id)
    if day is None:
        return
    # the event's rows were all added on its day or later (its day is never after an object's adding)
    start = day * DAY_US - 1
    since = start if f.added_after_us is None else max(start, f.added_after_us)
    feed = _Feed(session, group_name, now_us, feedback)
    first = True
    for a in feed.attributes(session, principal, accesses, replace(f, added_after_us=since)):
        if a.event != event_id:
            continue
        if first:
            yield b'{"Event":{"uuid":' + orjson.dumps(event_id) + b',"Attribute":['
        yield (b"" if first else b",") + orjson.dumps(a.body)
        first = False
        if counter is not None:
            counter.add(a.row.access.collection.id)
    if first:
        return
    meta = feed.meta[event_id]
    tail = {
        "info": meta.info,
        "date": _date(meta.day),
        "timestamp": str(meta.timestamp),
        "publish_timestamp": str(meta.timestamp),
        "published": True,
        "analysis": "2",
        "threat_level_id": "4",
        "extends_uuid": "",
        "Orgc": meta.orgc,
        "Tag": [tag(meta.tlp)],
    }
    yield b"]," + orjson.dumps(tail)[1:-1] + b"}}\n"
