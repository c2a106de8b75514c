"""Console sign-in throttling that strangers cannot turn against an account's owner.

A stranger (a browser that never signed in as this account) is limited per account and per address. A
browser that did sign in as the account carries a signed device cookie and is limited on its own, so five
failures from anywhere else never lock its owner out. Past a stranger's limit, an attempt carrying a
two-step code is still checked: a right password plus a right code passes, anything else is the same 429,
which tells nothing about the password. A ceiling per address bounds that checking (argon2 costs).

Rates come from the `limits` package (moving windows in this process's memory, as PyPI's warehouse keeps
its sign-in limits); like the API-key throttle, each replica counts on its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

WINDOW_MINUTES = 5
ACCOUNT = RateLimitItemPerMinute(5, WINDOW_MINUTES)  # a stranger's failures per account
ADDRESS = RateLimitItemPerMinute(50, WINDOW_MINUTES)  # a stranger's failures per address (offices share one)
DEVICE = RateLimitItemPerMinute(5, WINDOW_MINUTES)  # a known browser's failures for its account
CEILING = RateLimitItemPerMinute(200, WINDOW_MINUTES)  # failures per address checked past a limit
DEVICE_COOKIE = "hub_console_device"
DEVICE_LIFETIME = 180 * 86_400


def _mac(key: bytes, nonce: str, user: str) -> str:
    mac = hmac.new(key, f"device:{nonce}:{user.lower()}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def device_cookie(key: bytes, user: str) -> str:
    """The device cookie a browser gets when it signs in as `user` (it does not name the user)."""
    nonce = secrets.token_urlsafe(12)
    return f"{nonce}.{_mac(key, nonce, user)}"


def device_known(key: bytes, cookie: str | None, user: str) -> str | None:
    """The browser's device id when its cookie says it signed in as `user` before, else None."""
    if not cookie or len(cookie) > 100 or not user:
        return None
    nonce, _, mac = cookie.partition(".")
    return nonce if nonce and hmac.compare_digest(mac, _mac(key, nonce, user)) else None


@dataclass(frozen=True)
class Gate:
    """Whether an attempt is over a limit (`wait` seconds to go) and, if so, whether it is still checked."""

    wait: int | None
    checked: bool

    @property
    def open(self) -> bool:
        return self.wait is None


class SignInLimits:
    """The console's sign-in limits of one process."""

    def __init__(self) -> None:
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def _subjects(
        self, user: str, address: str, device: str | None
    ) -> list[tuple[RateLimitItem, tuple[str, ...]]]:
        if device is not None:
            return [(DEVICE, ("device", device, user.lower()))]
        return [(ACCOUNT, ("user", user.lower())), (ADDRESS, ("addr", address))]

    def gate(self, *, user: str, address: str, device: str | None, code: str) -> Gate:
        """Where this attempt stands: open, or over a limit and checked only when it carries a code."""
        waits = []
        for item, ids in self._subjects(user, address, device):
            if not self.limiter.test(item, *ids):
                reset = self.limiter.get_window_stats(item, *ids).reset_time
                waits.append(max(1, math.ceil(reset - time.time())))
        if not waits:
            return Gate(None, True)
        checked = bool(code.strip()) and self.limiter.test(CEILING, "ceiling", address)
        return Gate(max(waits), checked)

    def failed(self, *, user: str, address: str, device: str | None, gate: Gate) -> None:
        """Count a failed attempt."""
        for item, ids in self._subjects(user, address, device):
            self.limiter.hit(item, *ids)
        if not gate.open:
            self.limiter.hit(CEILING, "ceiling", address)
