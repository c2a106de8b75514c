"""A feed's records as connector results, for any import format: shared by `hub import` and sync jobs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from connectors import FORMATS, FeedSettings, Normalised, Rejected, get_connector
from connectors.misp import MispConnector
from hub.stix import InvalidObject, timestamp_us
from hub.sync.fetch import Access, FetchError, looks_like_html, misp_feed_loader, read_source, taxii_pages
from hub.trust.feed_models import TAXII_FORMATS as TAXII_FORMATS
from hub.vocab.time import format_us

PULL_FORMATS = tuple(sorted({*FORMATS, "misp-feed", *TAXII_FORMATS}))
# formats whose documents are JSON: an HTML page fails their parser with its own clear reason
JSON_FORMATS = frozenset({"stix", "misp", "intelmq"})


@dataclass
class PullCursor:
    """Where the next incremental pull of an upstream TAXII collection starts (its Date-Added-Last).

    `last` only ever holds a timestamp that parsed (normalised to the microsecond); an upstream header
    that does not parse is kept in `bad`, for the run to report, and never becomes the cursor.
    """

    last: str | None = None
    bad: str | None = None

    def follow(self, header: str | None) -> None:
        """Move to the upstream's X-TAXII-Date-Added-Last, when it is a timestamp."""
        if not header:
            return
        try:
            self.last = format_us(timestamp_us(header, "X-TAXII-Date-Added-Last"))
        except InvalidObject:
            self.bad = header[:200]


def valid_cursor(value: str) -> str:
    """A cursor as stored: a STIX timestamp to the microsecond; ValueError with the reason otherwise."""
    try:
        return format_us(timestamp_us(value, "cursor"))
    except InvalidObject as exc:
        raise ValueError(str(exc)) from None


def feed_results(
    fmt: str,
    source: str,
    settings: FeedSettings,
    *,
    user: str | None = None,
    password: str | None = None,
    added_after: str | None = None,
    cursor: PullCursor | None = None,
    access: Access | None = None,
) -> Iterator[Normalised | Rejected]:
    """Fetch and normalise a feed lazily; fetching happens as the results are consumed.

    `user`, `password` (or `access`) and `added_after` apply to TAXII sources; for them `cursor.last`
    follows the pages read, so a caller that consumed every result knows where the next pull starts.
    An HTML page where a feed should be fails with a reason instead of being read line by line.
    """
    if fmt not in PULL_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(PULL_FORMATS)}")
    access = access or Access(user=user, password=password)
    if fmt == "misp-feed":
        manifest, loader = misp_feed_loader(source, access=access)
        yield from MispConnector(settings).normalise_feed(manifest, loader)
    elif fmt in TAXII_FORMATS:
        stix = get_connector("stix", settings)
        version = "2.0" if fmt == "taxii20" else "2.1"
        for page in taxii_pages(
            source,
            user=access.user,
            password=access.password,
            added_after=added_after,
            version=version,
            timeout=access.timeout,
            guard=access.guard,
        ):
            if cursor is not None:
                cursor.follow(page.date_added_last)
            yield from stix.normalise(orjson.dumps({"objects": page.objects}))
    else:
        raw = read_source(source, access=access)
        if access.conditional is not None and access.conditional.not_modified:
            return
        if fmt not in JSON_FORMATS and looks_like_html(raw):
            raise FetchError(
                f"{source}: served an HTML page, not a {fmt} feed (a maintenance, error or login page?)"
            )
        yield from get_connector(fmt, settings).normalise(raw)
