"""Authentication of API keys under attack: throttling per key id and per address, bounded argon2 work.

An argon2 verification costs tens to hundreds of milliseconds and megabytes of memory by design, so a
stream of wrong secrets is a cheap way to load a hub. `AuthGuard` bounds that work:

- at most `limit` failed (or in-flight) verifications per key id and per client address in a sliding
  `window` of seconds; beyond it the caller gets 429 with `Retry-After`, without any argon2 work;
- at most `concurrency` verifications at once in the process (a semaphore), outside any database
  transaction;
- a secret already verified in this process (the key cache of `hub.trust.service`) passes without
  argon2 and without throttling, so an attacker hammering a public key id does not lock its owner out.

The guard's state is per process, on purpose: it is a local defence of this process's CPU and memory,
which is what it protects, and nothing another replica needs to answer a request. Each replica allows
`limit` failures per window; with N replicas behind a balancer an attacker gets at most N times that.
Failures are logged (one line with the key id and address, never the secret) and audited.
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
from hub.trust.service import KeyCheck, Principal, find_key, verify_key

log = logging.getLogger("hub.auth")


class AuthGuard:
    """Per-process throttle of failed authentications and cap on concurrent argon2 verifications."""

    def __init__(
        self, *, limit: int, window: float, concurrency: int, wait: float = 5.0, max_tracked: int = 65_536
    ):
        self.limit = limit
        self.window = window
        self.wait = wait
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        # subject ("key:<id>" or "addr:<ip>") -> failure times and attempts in flight; LRU-bounded so
        # that a flood of made-up key ids or addresses cannot grow it without limit
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
        """Reserve one verification for these subjects, or raise 429 when any is over its limit."""
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

    def verify(self, check: KeyCheck) -> bool:
        """argon2-verify a key under the concurrency cap; 429 when no slot frees within `wait` seconds."""
        if not self._slots.acquire(timeout=self.wait):
            raise TooManyRequests("The hub is busy verifying API keys; retry shortly.", retry_after=1)
        try:
            return verify_key(check)
        finally:
            self._slots.release()


def authenticate_request(session: Session, raw_key: str, *, address: str, guard: AuthGuard) -> Principal:
    """The principal of an API key sent by `address`, or 401 / 429; failures are logged and audited.

    The key row is read in a short transaction; the argon2 verification runs after it, outside any
    transaction, so slow verifications never hold database connections or locks.
    """
    with session.begin():
        check = find_key(session, raw_key)
    if check is not None and check.principal is not None and check.cached():
        return check.principal
    key_id = check.key_id if check is not None else ""
    subjects = [f"addr:{address}"] + ([f"key:{key_id}"] if key_id else [])
    guard.begin(subjects)
    ok, busy = False, False
    try:
        ok = check is not None and check.principal is not None and guard.verify(check)
    except TooManyRequests:
        busy = True  # no slot freed in time: not the caller's failure
        raise
    finally:
        guard.end(subjects, failed=not (ok or busy))
    if ok and check is not None and check.principal is not None:
        return check.principal
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
