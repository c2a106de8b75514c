"""The STIX 2.1 timestamp: its text form, read to and written from microseconds since the epoch."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Final

__all__ = ["EPOCH", "TIMESTAMP_RE", "format_ms", "format_us", "parse_us"]

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

# RFC 3339 in UTC with a 'Z', to at most nanoseconds: STIX producers use milli- to nanoseconds, and the
# stored version text is bounded.
TIMESTAMP_RE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")


_NAIVE_EPOCH: Final = EPOCH.replace(tzinfo=None)


def format_us(us: int) -> str:
    """The STIX timestamp text, to the microsecond, of microseconds since the epoch."""
    # integer arithmetic, exact at any date (a float of seconds rounds .999999 up to the next second, a
    # whole second off, at dates from about the year 2500 on),
    # and isoformat is several times faster than strftime: one call per object of every TAXII page
    return (_NAIVE_EPOCH + timedelta(microseconds=us)).isoformat(timespec="microseconds") + "Z"


@lru_cache(maxsize=4096)
def format_ms(when: datetime) -> str:
    """The STIX timestamp text to the millisecond, e.g. `2024-01-02T03:04:05.000Z` (`when` is UTC)."""
    # isoformat is several times faster than strftime; the offset it appends is always +00:00 here.
    return when.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def parse_us(value: str) -> int | str:
    """Microseconds since the epoch of a STIX timestamp (digits past the microsecond are cut).

    A text that is not one comes back as a word: "format" when it is not written as a STIX timestamp,
    "date" when it is but names no real date and time (February 30th). Texts longer than 40 characters
    are never remembered, so the cache behind it stays small.
    """
    return _parse_us(value) if len(value) <= 40 else "format"


@lru_cache(maxsize=65536)
def _parse_us(value: str) -> int | str:
    # feeds repeat the same few timestamps (created, valid_from) across thousands of objects: the
    # cache makes those free; an error comes back as a word so that it is cached too
    if not TIMESTAMP_RE.match(value):
        return "format"
    try:
        dt = datetime.fromisoformat(value[:26].rstrip("Z") + "+00:00" if len(value) > 27 else value)
    except ValueError:
        return "date"
    delta = dt - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
