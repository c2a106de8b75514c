"""Feed settings, connector results, the `Connector` base class and the run summary."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from connectors.tlp import TLP_LEVELS, parse_tlp

_IDENTITY_ID = re.compile(r"identity--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
EXCERPT_CHARS = 200


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """Which CSV header names hold what; every column but `value` is optional.

    `type` names a column holding the value type per row; `fixed_type` gives one type for the whole
    file; with neither, the type is detected from the value.
    """

    value: str
    type: str | None = None
    fixed_type: str | None = None
    first_seen: str | None = None
    last_seen: str | None = None
    tags: str | None = None
    threat: str | None = None
    malware: str | None = None
    reference: str | None = None
    id: str | None = None
    port: str | None = None
    status: str | None = None
    confidence: str | None = None


@dataclass(frozen=True, slots=True)
class FeedSettings:
    """What the operator declares about a feed; the connector applies it to every record."""

    producer_id: str
    producer_name: str
    feed_name: str = ""
    tlp: str = "amber"
    tlp_version: int = 2
    indicator_types: tuple[str, ...] = ("malicious-activity",)
    confidence: int | None = None
    labels: tuple[str, ...] = ()
    with_observables: bool = False
    valid_from: datetime | None = None
    columns: ColumnMap | None = None
    allow_org_only: bool = False
    allow_sharing_groups: bool = False
    misp_fast_path: bool = True
    # seconds an indicator stays valid after its source last saw it: valid_until = last seen + lifetime,
    # where last seen is the record's own date, else `seen_at` (when the hub fetched the source,
    # quantised by the caller so re-imports in one step give the same bytes), else `created`
    lifetime: int | None = None
    seen_at: datetime | None = None

    def __post_init__(self) -> None:
        if not _IDENTITY_ID.match(self.producer_id):
            raise ValueError(f"producer_id must be identity--<uuid>, got {self.producer_id!r}")
        level = parse_tlp(self.tlp)
        if level is None:
            raise ValueError(f"tlp must be one of {', '.join(TLP_LEVELS)}, got {self.tlp!r}")
        object.__setattr__(self, "tlp", level)
        if self.tlp_version not in (1, 2):
            raise ValueError(f"tlp_version must be 1 or 2, got {self.tlp_version!r}")
        if self.confidence is not None and not 0 <= self.confidence <= 100:
            raise ValueError(f"confidence must be 0..100, got {self.confidence!r}")
        if not self.indicator_types:
            raise ValueError("indicator_types must name at least one type")
        if self.valid_from is not None and self.valid_from.tzinfo is None:
            raise ValueError("valid_from must be timezone-aware")
        if self.lifetime is not None and self.lifetime < 1:
            raise ValueError(f"lifetime must be at least 1 second, got {self.lifetime!r}")
        if self.seen_at is not None and self.seen_at.tzinfo is None:
            raise ValueError("seen_at must be timezone-aware")

    @property
    def source_name(self) -> str:
        """The `source_name` of the external references the connector writes."""
        return self.feed_name or self.producer_name


@dataclass(frozen=True, slots=True)
class Normalised:
    """One STIX 2.1 object and the source record it came from (`line 12`, `event <uuid>`...)."""

    obj: dict[str, Any]
    record_ref: str


@dataclass(frozen=True, slots=True)
class Rejected:
    """A source record the connector did not turn into STIX, and why.

    `skipped` marks records left out on purpose (a duplicate, a MISP event the settings do not allow)
    rather than broken ones.
    """

    record_ref: str
    reason: str
    raw_excerpt: str = ""
    skipped: bool = False


Result = Normalised | Rejected


def excerpt(raw: bytes | str) -> str:
    """A short, printable excerpt of a raw record for a rejection message."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else str(raw)
    if len(text) > EXCERPT_CHARS:
        text = text[: EXCERPT_CHARS - 1] + "\u2026"
    return text


# Objects deduplicated silently: the same SCO or relationship follows from many records.
_SHARED_TYPES = frozenset(
    {"relationship", "marking-definition", "identity", "ipv4-addr", "ipv6-addr", "domain-name", "url"}
    | {"email-addr", "file", "network-traffic", "autonomous-system", "mac-addr"}
)


class Connector(ABC):
    """Base of every connector: raw bytes in, `Normalised` and `Rejected` results out, no I/O."""

    format_name: ClassVar[str]

    def __init__(self, settings: FeedSettings) -> None:
        self.settings = settings

    def normalise(self, raw: bytes) -> Iterator[Result]:
        """Normalise one feed payload; broken records become `Rejected` and never stop the rest."""
        return self._guarded(self._normalise(raw))

    def _guarded(self, results: Iterator[Result]) -> Iterator[Result]:
        """Drop duplicate objects, reject conflicting ones, and turn a connector failure into a rejection."""
        seen: dict[tuple[str, str | None], tuple[dict[str, Any], str]] = {}
        try:
            for result in results:
                if isinstance(result, Rejected):
                    yield result
                    continue
                obj = result.obj
                key = (obj["id"], obj.get("modified"))
                first = seen.get(key)
                if first is None:
                    seen[key] = (obj, result.record_ref)
                    yield result
                elif first[0] != obj:
                    yield Rejected(
                        result.record_ref,
                        f"{obj['id']} conflicts with {first[1]}: same id and modified, different content",
                        "",
                    )
                elif obj["type"] not in _SHARED_TYPES:
                    yield Rejected(result.record_ref, f"duplicate of {first[1]}", "", skipped=True)
        except Exception as exc:  # a connector bug must not cost the results already yielded
            yield Rejected("input", f"connector error: {type(exc).__name__}: {exc}", "")

    @abstractmethod
    def _normalise(self, raw: bytes) -> Iterator[Result]:
        """Yield results in source order; the base class removes duplicates."""


@dataclass(slots=True)
class Summary:
    """Counts of a run: records read, objects normalised, records rejected or skipped, first reasons."""

    keep: int = 20
    read: int = 0
    normalised: int = 0
    rejected: int = 0
    skipped: int = 0
    reasons: list[str] = field(default_factory=list)
    _last_ref: str | None = None

    def add(self, result: Result) -> None:
        """Count one result."""
        if result.record_ref != self._last_ref:
            self.read += 1
            self._last_ref = result.record_ref
        if isinstance(result, Normalised):
            self.normalised += 1
            return
        if result.skipped:
            self.skipped += 1
        else:
            self.rejected += 1
        if len(self.reasons) < self.keep:
            kind = "skipped" if result.skipped else "rejected"
            self.reasons.append(f"{result.record_ref}: {kind}: {result.reason}")

    def track(self, results: Iterable[Result]) -> Iterator[Result]:
        """Pass results through while counting them."""
        for result in results:
            self.add(result)
            yield result

    def __str__(self) -> str:
        return (
            f"{self.read} records read, {self.normalised} objects normalised, "
            f"{self.rejected} rejected, {self.skipped} skipped"
        )


def collect(results: Iterable[Result], keep: int = 20) -> tuple[list[dict[str, Any]], Summary]:
    """Run a connector to the end: the STIX objects and the summary."""
    summary = Summary(keep=keep)
    objects = [r.obj for r in summary.track(results) if isinstance(r, Normalised)]
    return objects, summary


def split_lines(raw: bytes) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, line) without the line ending; a UTF-8 BOM on the first line is dropped."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    for number, line in enumerate(raw.split(b"\n"), start=1):
        yield number, line.removesuffix(b"\r")
