"""Constituency watch jobs: the matcher and the deliveries, run by the sync worker or `hub notify run-once`.

The matcher reads the versions added since its cursor (date added, sequence), looks their values up in
one index of every organisation's confirmed constituency (`hub.lookup.inside.RuleIndex`) and records a
`WatchMatch` for each organisation that may read the version then (the policy's visibility predicate,
as that organisation). It holds a lease on its state row, so with several workers one matches at a
time; the cursor moves in the transaction that records the matches, so a worker that dies loses
nothing and repeats nothing. It reads only versions added `settle_s` ago or earlier: dates added are
taken before commit, and a writer committing late would otherwise be passed over.

Deliveries are claimed like feeds (a lease per subscription; PostgreSQL skips rows other workers
locked). Each delivery re-reads its matches through the visibility predicate as the organisation at
that moment, so it holds only what the organisation may read now; it is audited. A webhook is an HTTP
POST signed with HMAC-SHA256 over the body (`X-Hub-Signature-256: sha256=<hex>`), through the outbound
guard (public addresses, or those HUB_OUTBOUND_ALLOW names), no redirects followed; an email digest goes
to the operator's SMTP server as text/plain. A failure is kept on the subscription (last error,
attempts) and retried with backoff (30 s doubling, at most an hour); the cursor moves only on success.

The same pass carries feedback notices (the `feedback` event, hub.feedback): the matcher records, for a
publisher subscribed to it, each report another organisation stored on one of its objects and each
hold false positives put on one; a delivery carries matches or notices, never both, and reads each
notice again through the read door as the publisher (hub.sync.feedback_notices).

(Somewhat over 600 lines: the matcher and the deliveries share one lease, cursor and retry scheme, read
best together; what feedback notices add is in hub.sync.feedback_notices.)
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import smtplib
import ssl
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from typing import Any, cast

import httpx
from sqlalchemy import ColumnElement, and_, exists, false, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from hub.db import begin_write
from hub.net import OutboundGuard
from hub.policy.rules import CollectionPolicy, Reader, Role, may_read, read_clearance
from hub.policy.tlp import Tlp
from hub.settings import Settings
from hub.store import inside as store
from hub.store.audit import record
from hub.sync.feedback_notices import (
    FEEDBACK,
    Item,
    event_of,
    feedback_batch,
    feedback_notices,
    feedback_text,
    labels,
)
from hub.sync.fetch import USER_AGENT, guarded_transport, timeouts
from hub.sync.notify_models import Subscription, WatchMatch, WatchState
from hub.sync.scheduler import now_us
from hub.trust import access
from hub.trust.constituency import confirmed_rules
from hub.trust.constituency_index import RuleIndex, hits_of
from hub.trust.models import Collection, CollectionRecipient, Membership, Organisation, TrustGroup
from hub.vocab.time import format_us

log = logging.getLogger(__name__)

MATCHER = "matcher"
LEASE_S = 300
MATCH_BATCH = 2000
MAX_ITEMS = 1000  # matches in one delivery; more go in the next one, at once
BACKOFF_BASE_S = 30
BACKOFF_MAX_S = 3600
DIGEST_S = {"immediate": 0, "hourly": 3600, "daily": 86400}
US = 1_000_000
# what an organisation is told when its receiver could not be reached: nothing of which internal names,
# addresses or ports exist
UNREACHABLE = "could not deliver: the receiver could not be reached (not resolved, refused, or not public)"


@dataclass(frozen=True)
class SmtpConfig:
    """The operator's SMTP server for email digests."""

    host: str
    port: int = 25
    starttls: bool = False
    username: str = ""
    password: str = ""
    sender: str = "hub@localhost"
    timeout: float = 30.0


@dataclass(frozen=True)
class NotifyConfig:
    """What the jobs need: the settle delay, the outbound guard, the SMTP server (None: no email)."""

    guard: OutboundGuard
    smtp: SmtpConfig | None = None
    settle_s: int = 5
    timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings, environ: Mapping[str, str]) -> NotifyConfig:
        smtp = None
        if settings.smtp_host:
            smtp = SmtpConfig(
                host=settings.smtp_host,
                port=settings.smtp_port,
                starttls=settings.smtp_starttls,
                username=settings.smtp_username,
                password=settings.smtp_password.get_secret_value(),
                sender=settings.smtp_from,
            )
        return cls(OutboundGuard.from_environ(environ), smtp, settings.watch_settle_seconds)


@dataclass
class Delivery:
    """One delivery attempt: which subscription, how many matches it held, and the error if it failed."""

    subscription_id: int
    organisation: str
    kind: str
    count: int
    error: str | None


@dataclass
class PassReport:
    """What one pass did: versions read and matches recorded by the matcher, and the deliveries."""

    versions: int = 0
    matched: int = 0
    deliveries: list[Delivery] = field(default_factory=list)


def _pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# ---------------------------------------------------------------- the matcher


def _claim_matcher(sm: sessionmaker[Session], worker_id: str, now: int, lease_s: int) -> bool:
    with sm() as s, s.begin():
        begin_write(s)
        stmt = select(WatchState).where(WatchState.name == MATCHER)
        if _pg(s):
            stmt = stmt.with_for_update()
        st = s.scalar(stmt)
        if st is None:
            st = WatchState(name=MATCHER, cursor_us=0, cursor_seq=0)
            s.add(st)
        elif st.leased_by not in (None, worker_id) and (st.lease_until_us or 0) >= now:
            return False
        st.leased_by, st.lease_until_us = worker_id, now + lease_s * US
        return True


def _release_matcher(sm: sessionmaker[Session], worker_id: str) -> None:
    with sm() as s, s.begin():
        begin_write(s)
        st = s.get(WatchState, MATCHER)
        if st is not None and st.leased_by == worker_id:
            st.leased_by, st.lease_until_us = None, None


def _insert_matches(s: Session, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    ins = postgresql.insert(WatchMatch) if _pg(s) else sqlite.insert(WatchMatch)
    s.execute(ins.on_conflict_do_nothing(), rows)


def _policies(s: Session, coll_ids: set[str]) -> dict[str, tuple[int, CollectionPolicy]]:
    """The policy layer's view of these collections (group, kind, owner, recipients), in three queries."""
    rows = s.execute(
        select(Collection, TrustGroup)
        .join(TrustGroup, TrustGroup.id == Collection.group_id)
        .where(Collection.id.in_(sorted(coll_ids)))
    ).all()
    named = [c.id for c, _ in rows if c.kind == "named"]
    recips: dict[str, set[int]] = {}
    if named:
        for cid, oid in s.execute(
            select(CollectionRecipient.collection_id, CollectionRecipient.organisation_id).where(
                CollectionRecipient.collection_id.in_(named)
            )
        ):
            recips.setdefault(cid, set()).add(oid)
    return {c.id: (g.id, access.collection_policy(c, g, frozenset(recips.get(c.id, ())))) for c, g in rows}


def match_batch(s: Session, rows: list[Any], idx: RuleIndex, *, now: int) -> int:
    """Record the matches of these versions (rows of `store.new_versions`); returns how many.

    The values come from the value index. An organisation whose rules a value falls under gets a match
    only for a version it may read now: the policy layer's `may_read` (the Python twin of the SQL
    visibility predicate, proven to agree), over every organisation and collection of the batch in a
    few queries; for a version with optional content above its clearance, only when its redacted copy
    holds the value. A match is never shown as it is: each delivery reads it again through the SQL
    predicate as its organisation (`readable_matches`)."""
    by_seq = {r.seq: r for r in rows if r.private_to == 0}
    found: dict[int, list[tuple[int, str, str]]] = {}
    if not rows:
        return 0
    for seq, pairs in store.values_of_versions(s, rows[0].seq, rows[-1].seq).items():
        if seq not in by_seq:
            continue  # a private version: its publisher's alone, it never matches
        for h in idx.hits(pairs):
            found.setdefault(h.org_id, []).append((seq, h.value, h.rule))
    if not found:
        return 0
    policies = _policies(s, {by_seq[seq].collection_id for items in found.values() for seq, _, _ in items})
    groups = sorted({gid for gid, _ in policies.values()})
    members = {
        (m.organisation_id, m.group_id): m
        for m in s.scalars(
            select(Membership).where(
                Membership.organisation_id.in_(sorted(found)), Membership.group_id.in_(groups)
            )
        )
    }
    out: list[dict[str, Any]] = []
    for org_id, items in found.items():
        for seq, value, rule in items:
            vr = by_seq[seq]
            found_policy = policies.get(vr.collection_id)
            if found_policy is None:
                continue
            group_id, cpol = found_policy
            m = members.get((org_id, group_id))
            reader = Reader(
                org_id=org_id,
                role=cast(Role, m.role) if m else None,
                clearance=Tlp(m.clearance) if m else Tlp.CLEAR,
            )
            if not may_read(reader, cpol, Tlp(vr.tlp), vr.producer_id).allowed:
                continue
            level = read_clearance(reader, cpol)
            if level is not None and vr.redact_tlp is not None and vr.redact_tlp > level:
                # optional content marked above the reader's clearance: match what it receives
                got = store.received(s, seq=seq, collection_id=vr.collection_id, clearance=level)
                if got is None or value not in {h.value for h in hits_of(got, idx) if h.org_id == org_id}:
                    continue
            out.append(
                {
                    "organisation_id": org_id,
                    "version_seq": seq,
                    "value": value[:2048],
                    "rule": rule[:300],
                    "matched_at_us": now,
                }
            )
    _insert_matches(s, out)
    return len(out)


def match_new(
    sm: sessionmaker[Session],
    *,
    worker_id: str,
    settle_s: int = 5,
    lease_s: int = LEASE_S,
    batch: int = MATCH_BATCH,
    max_batches: int | None = None,
) -> tuple[int, int]:
    """Match the versions stored since the cursor; (versions read, matches recorded). Nothing when
    another worker holds the matcher's lease. It stops at the first version added less than `settle_s`
    ago: one stored before it may still be committing."""
    now = now_us()
    if not _claim_matcher(sm, worker_id, now, lease_s):
        return 0, 0
    versions = matched = batches = 0
    try:
        with sm() as s, s.begin():
            idx = RuleIndex(confirmed_rules(s))
        upto = now - settle_s * US
        while max_batches is None or batches < max_batches:
            batches += 1
            with sm() as s, s.begin():
                begin_write(s)
                st = s.get(WatchState, MATCHER)
                if st is None or st.leased_by != worker_id:
                    break  # the lease expired and another worker took it over
                fetched = list(store.new_versions(s, after_seq=st.cursor_seq, limit=batch))
                rows = list(itertools.takewhile(lambda r: r.date_added_us <= upto, fetched))
                if not rows:
                    break
                if idx:
                    matched += match_batch(s, rows, idx, now=now)
                notices = feedback_batch(s, rows, now=now)
                _insert_matches(s, notices)
                matched += len(notices)
                versions += len(rows)
                st.cursor_us, st.cursor_seq = rows[-1].date_added_us, rows[-1].seq
                st.updated_us = now_us()
                st.lease_until_us = now_us() + lease_s * US
            if len(rows) < batch:
                break
    finally:
        _release_matcher(sm, worker_id)
    return versions, matched


# ---------------------------------------------------------------- deliveries


def _of_events(events: set[str]) -> ColumnElement[bool]:
    """Matches of these subscription events."""
    notice = WatchMatch.rule.startswith(FEEDBACK)
    conds = [c for e, c in (("inside", ~notice), ("feedback", notice)) if e in events]
    return or_(*conds) if conds else false()


def _events(sub: Subscription) -> set[str]:
    return {e for e in sub.events.split(",") if e}


def _pending() -> Any:
    notice = WatchMatch.rule.startswith(FEEDBACK)
    return exists().where(
        WatchMatch.organisation_id == Subscription.organisation_id,
        WatchMatch.id > Subscription.cursor,
        or_(
            and_(Subscription.events.contains("inside"), ~notice),
            and_(Subscription.events.contains("feedback"), notice),
        ),
    )


def claim_subscription(
    sm: sessionmaker[Session], *, worker_id: str, now: int, lease_s: int = LEASE_S
) -> Subscription | None:
    """Claim the most overdue active subscription with undelivered matches, or None."""
    with sm() as s, s.begin():
        begin_write(s)
        stmt = (
            select(Subscription)
            .where(
                Subscription.active.is_(True),
                Subscription.next_attempt_us <= now,
                or_(Subscription.lease_until_us.is_(None), Subscription.lease_until_us < now),
                _pending(),
            )
            .order_by(Subscription.next_attempt_us, Subscription.id)
            .limit(1)
        )
        if _pg(s):
            stmt = stmt.with_for_update(skip_locked=True, of=Subscription)
        sub = s.scalar(stmt)
        if sub is not None:
            sub.lease_until_us, sub.leased_by = now + lease_s * US, worker_id
        return sub


def _undelivered(s: Session, sub: Subscription) -> tuple[str, list[WatchMatch]]:
    """The subscription's next undelivered matches of the events it takes, all of one event (a delivery
    carries one: `inside` matches or `feedback` notices), and that event."""
    matches = list(
        s.scalars(
            select(WatchMatch)
            .where(
                WatchMatch.organisation_id == sub.organisation_id,
                WatchMatch.id > sub.cursor,
                _of_events(_events(sub)),
            )
            .order_by(WatchMatch.id)
            .limit(MAX_ITEMS)
        )
    )
    if not matches:
        return "inside", []
    event = event_of(matches[0].rule)
    return event, list(itertools.takewhile(lambda m: event_of(m.rule) == event, matches))


def readable_matches(s: Session, sub: Subscription) -> tuple[list[Item], int]:
    """The subscription's undelivered matches (or notices) its organisation may read now, and the last
    match id read.

    Read again through the visibility predicate as the organisation: a version withdrawn, reclassified
    above its clearance, or in a collection it no longer reads is left out.
    """
    event, matches = _undelivered(s, sub)
    if not matches:
        return [], sub.cursor
    upto = matches[-1].id
    org = s.get(Organisation, sub.organisation_id)
    if org is None or not org.active:
        return [], upto
    if event == "feedback":
        return feedback_notices(s, org, matches), upto
    colls = store.collections_of(s, [m.version_seq for m in matches])
    clearances = access.read_clearances(s, org_id=org.id, collection_ids=colls.values())
    visible = store.visible_versions(
        s, reader_org_id=org.id, clearances=clearances, seqs=[m.version_seq for m in matches]
    )
    coll_rows, names = labels(s, visible.values())
    items: list[Item] = []
    for m in matches:
        r = visible.get(m.version_seq)
        if r is None:
            continue
        alias, group = coll_rows.get(r.collection_id, ("", ""))
        items.append(
            Item(
                m.id,
                {
                    "value": m.value,
                    "rule": m.rule,
                    "object_id": r.stix_id,
                    "type": r.type,
                    "collection": r.collection_id,
                    "collection_alias": alias,
                    "group": group,
                    "tlp": Tlp(min(r.tlp, Tlp.RED)).name.lower().replace("_", "+"),
                    "publisher": names.get(r.producer_id, ""),
                    "date_added": format_us(r.date_added_us),
                    "matched_at": format_us(m.matched_at_us),
                },
            )
        )
    return items, upto


def signature(secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 value of a body: sha256=<hex HMAC-SHA256 with the secret>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_webhook(
    url: str,
    secret: str,
    body: bytes,
    *,
    guard: OutboundGuard,
    timeout: float,
    delivery: str,
    event: str = "inside",
) -> str | None:
    """POST the body to the receiver, signed; None on a 2xx answer, else what the organisation is told."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Hub-Event": event,
        "X-Hub-Delivery": delivery,
        "X-Hub-Signature-256": signature(secret, body),
    }
    try:
        with httpx.Client(
            transport=guarded_transport(guard),
            timeout=timeouts(timeout),
            follow_redirects=False,
            trust_env=False,
        ) as client:
            r = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        log.info("webhook %s: %s", url, exc)
        return UNREACHABLE
    if 200 <= r.status_code < 300:
        return None
    return f"the receiver answered HTTP {r.status_code}"


_CONTROL = str.maketrans(dict.fromkeys([*map(chr, range(32)), "\x7f", "\u2028", "\u2029"], " "))


def digest_text(org: str, items: list[Item]) -> str:
    """The plain-text body of an email digest (text/plain: nothing in it is markup)."""
    lines = [
        f"{len(items)} object(s) shared on the hub hold values inside the constituency of {org}.",
        "",
    ]
    for it in items:
        d = it.data
        lines.append(f"- {str(d['value']).translate(_CONTROL)}")
        lines.append(f"  rule: {str(d['rule']).translate(_CONTROL)}")
        lines.append(
            f"  object: {d['object_id']} ({d['type']}), TLP:{str(d['tlp']).upper()}, "
            f"{d['group']}/{d['collection_alias']}, published by {d['publisher']}, added {d['date_added']}"
        )
    lines += ["", "Each object keeps its TLP: share it only as its marking allows."]
    return "\n".join(lines) + "\n"


def send_email(cfg: SmtpConfig, *, to: str, subject: str, text: str) -> str | None:
    """Send one text/plain email through the operator's SMTP server; None when it was accepted."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = cfg.sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain=cfg.sender.rpartition("@")[2] or "hub")
    msg.set_content(text)
    try:
        with smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout) as smtp:
            if cfg.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if cfg.username:
                smtp.login(cfg.username, cfg.password)
            smtp.send_message(msg)
    except (smtplib.SMTPException, OSError) as exc:
        log.warning("email digest to %s failed: %s", to, exc)
        return f"the mail server did not accept the digest ({type(exc).__name__})"
    return None


def backoff_s(attempts: int) -> int:
    """Seconds before the next attempt after the n-th consecutive failure: 30, 60, 120, ... at most 3600."""
    return min(BACKOFF_MAX_S, BACKOFF_BASE_S * (1 << min(max(attempts - 1, 0), 20)))


def deliver(sm: sessionmaker[Session], sub: Subscription, config: NotifyConfig) -> Delivery:
    """Deliver a claimed subscription's pending matches; record the outcome and release the lease."""
    with sm() as s, s.begin():
        items, upto = readable_matches(s, sub)
        event = "feedback" if items and "notice" in items[0].data else "inside"
        org = s.get(Organisation, sub.organisation_id)
        slug = org.slug if org is not None else ""
        more = (
            s.scalar(
                select(WatchMatch.id)
                .where(
                    WatchMatch.organisation_id == sub.organisation_id,
                    WatchMatch.id > upto,
                    _of_events(_events(sub)),
                )
                .limit(1)
            )
            is not None
        )
    error: str | None = None
    delivery = str(uuid.uuid4())
    if items:
        if sub.kind == "webhook":
            body = json.dumps(
                {
                    "event": event,
                    "delivery": delivery,
                    "organisation": slug,
                    "sent_at": format_us(now_us()),
                    ("notices" if event == "feedback" else "matches"): [it.data for it in items],
                },
                sort_keys=True,
            ).encode()
            error = send_webhook(
                sub.url or "",
                sub.secret or "",
                body,
                guard=config.guard,
                timeout=config.timeout,
                delivery=delivery,
                event=event,
            )
        elif config.smtp is None:
            error = "the hub has no mail server configured (HUB_SMTP_HOST)"
        elif event == "feedback":
            subject = f"[hub] {len(items)} feedback notice(s) on objects of {slug}"
            error = send_email(
                config.smtp, to=sub.to_addr or "", subject=subject, text=feedback_text(slug, items)
            )
        else:
            subject = f"[hub] {len(items)} new object(s) inside the constituency of {slug}"
            error = send_email(
                config.smtp, to=sub.to_addr or "", subject=subject, text=digest_text(slug, items)
            )
    now = now_us()
    with sm() as s, s.begin():
        begin_write(s)
        row = s.get(Subscription, sub.id)
        if row is not None:
            row.lease_until_us, row.leased_by = None, None
            if items:
                row.last_attempt_us = now
            if error is None:
                row.cursor = max(row.cursor, upto)
                row.attempts, row.last_error = 0, None
                if items:
                    row.last_success_us = now
                    row.delivered += len(items)
                period = DIGEST_S.get(row.digest, 0)
                row.next_attempt_us = now if more or not items or not period else now + period * US
            else:
                row.attempts += 1
                row.last_error = error
                row.next_attempt_us = now + backoff_s(row.attempts) * US
            if items:
                record(
                    s,
                    action=f"notify-{sub.kind}",
                    organisation_id=sub.organisation_id,
                    target_org_id=sub.organisation_id,
                    target=f"subscription {sub.id}",
                    count=len(items) if error is None else 0,
                    detail=("delivered " + delivery) if error is None else f"failed: {error}"[:300],
                )
    return Delivery(sub.id, slug, sub.kind, len(items), error)


def deliver_due(
    sm: sessionmaker[Session], *, worker_id: str, config: NotifyConfig, lease_s: int = LEASE_S
) -> list[Delivery]:
    """Deliver every subscription due now, each at most once in this pass."""
    start = now_us()
    done: list[Delivery] = []
    seen: set[int] = set()
    while (sub := claim_subscription(sm, worker_id=worker_id, now=start, lease_s=lease_s)) is not None:
        if sub.id in seen:  # due again at once (more than one delivery's worth): the next pass goes on
            with sm() as s, s.begin():
                begin_write(s)
                row = s.get(Subscription, sub.id)
                if row is not None:
                    row.lease_until_us, row.leased_by = None, None
            break
        seen.add(sub.id)
        try:
            done.append(deliver(sm, sub, config))
        except OperationalError:
            raise  # the database is away: the lease expires and the subscription is retried
        except Exception:  # a bug must not hold the subscription: record it and back off
            log.exception("delivery of subscription %s failed", sub.id)
            with sm() as s, s.begin():
                begin_write(s)
                row = s.get(Subscription, sub.id)
                if row is not None:
                    row.lease_until_us, row.leased_by = None, None
                    row.attempts += 1
                    row.last_error = "the hub failed to prepare the delivery; it is retried"
                    row.next_attempt_us = now_us() + backoff_s(row.attempts) * US
    return done


def run_once(sm: sessionmaker[Session], *, worker_id: str, config: NotifyConfig) -> PassReport:
    """One pass: match what was added since the last one, then deliver what is due."""
    versions, matched = match_new(sm, worker_id=worker_id, settle_s=config.settle_s)
    return PassReport(versions, matched, deliver_due(sm, worker_id=worker_id, config=config))
