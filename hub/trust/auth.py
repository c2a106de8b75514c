"""Authentication of API keys under attack: a cheap throttle of failures per key id and per address.

A key's secret is checked against its SHA-256 digest in constant time, which costs microseconds, so
there is no cache, no cap on concurrent verifications and no slow path to defend. What remains worth
bounding is what failures cost elsewhere: each is logged and audited, so `AuthGuard` allows at most
`limit` failures per key id and per client address in a sliding `window` of seconds; beyond it the caller
gets 429 with `Retry-After` and nothing more is written. A right key is never throttled, so an attacker
hammering a public key id does not lock its owner out. Keys issued before digests hold an argon2 hash
until their first successful use; those verifications take a slot of the same throttle first.

The guard's state is per process, on purpose: it protects this process's log and audit writes, and
nothing another replica needs to answer a request. With N replicas an attacker gets at most N times the
limit. The console's sign-in uses the same guard (`begin` and `end`) for its password checks.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict, deque

from sqlalchemy.orm import Session

from hub.db import begin_write
from hub.errors import TooManyRequests, Unauthorized
from hub.store.audit import record
from hub.trust.service import KeyCheck, Principal, check_key, store_digest, verify_legacy

log = logging.getLogger("hub.auth")


class AuthGuard:
    """Per-process throttle of failed authentications, per subject ("key:<id>", "addr:<ip>", ...)."""

    def __init__(self, *, limit: int, window: float, max_tracked: int = 65_536):
        self.limit = limit
        self.window = window
        self._lock = threading.Lock()
        # subject -> failure times and attempts in flight; LRU-bounded so that a flood of made-up key
        # ids or addresses cannot grow it without limit
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._inflight: dict[str, int] = {}
        self._max_tracked = max_tracked

    def _recent(self, subject: str, now: float) -> deque[float]:
        times = self._failures.get(subject)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def begin(self, subjects: list[str]) -> None:
        """Reserve one attempt for these subjects, or raise 429 when any is over its limit."""
        now = time.monotonic()
        with self._lock:
            for s in subjects:
                times = self._recent(s, now)
                if len(times) + self._inflight.get(s, 0) >= self.limit:
                    wait = (times[0] + self.window - now) if times else 1.0
                    raise TooManyRequests(
                        "Too many failed authentications for this key or address; retry later.",
                        retry_after=max(1, math.ceil(wait)),
                    )
            for s in subjects:
                self._inflight[s] = self._inflight.get(s, 0) + 1

    def end(self, subjects: list[str], *, failed: bool) -> None:
        """Release the reservation of `begin`; a failure is remembered for `window` seconds."""
        now = time.monotonic()
        with self._lock:
            for s in subjects:
                left = self._inflight.get(s, 1) - 1
                if left:
                    self._inflight[s] = left
                else:
                    self._inflight.pop(s, None)
                if failed:
                    times = self._failures.setdefault(s, deque())
                    times.append(now)
                    self._failures.move_to_end(s)
            while len(self._failures) > self._max_tracked:
                self._failures.popitem(last=False)

    def failed(self, subjects: list[str]) -> None:
        """Count one failure; 429 instead when any subject already reached its limit."""
        self.begin(subjects)
        self.end(subjects, failed=True)


def authenticate_request(session: Session, raw_key: str, *, address: str, guard: AuthGuard) -> Principal:
    """The principal of an API key sent by `address`, or 401 / 429; failures are logged and audited."""
    with session.begin():
        check = check_key(session, raw_key)
    if check is not None and check.principal is not None:
        return check.principal
    key_id = check.key_id if check is not None else ""
    subjects = [f"addr:{address}"] + ([f"key:{key_id}"] if key_id else [])
    if check is not None and check.legacy is not None:
        guard.begin(subjects)
        ok = False
        try:
            ok = verify_legacy(check)  # argon2, outside any transaction
        finally:
            guard.end(subjects, failed=not ok)
        if ok:
            with session.begin():
                begin_write(session)
                store_digest(session, check)
            return check.legacy
    else:
        guard.failed(subjects)
    _failed(session, check, address)
    raise Unauthorized("The API key is unknown, revoked or expired.")


def _failed(session: Session, check: KeyCheck | None, address: str) -> None:
    key_id = check.key_id if check is not None else ""
    what = f"key id {key_id}" if key_id else "a malformed key"
    log.warning("authentication failed: %s from %s", what, address or "an unknown address")
    with session.begin():
        begin_write(session)
        record(
            session,
            action="auth-failed",
            organisation_id=check.organisation_id if check is not None else None,
            account_id=check.account_id if check is not None else None,
            detail=f"{what} from {address or 'an unknown address'}"[:300],
        )
