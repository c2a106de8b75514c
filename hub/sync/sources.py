"""A feed's records as connector results, for any import format: shared by `hub import` and sync jobs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from connectors import FORMATS, FeedSettings, Normalised, Rejected, get_connector
from connectors.misp import MispConnector
from hub.sync.fetch import misp_feed_loader, read_source, taxii_pages

TAXII_FORMATS = ("taxii", "taxii20")
PULL_FORMATS = tuple(sorted({*FORMATS, "misp-feed", *TAXII_FORMATS}))


@dataclass
class PullCursor:
    """Where the next incremental pull of an upstream TAXII collection starts (its Date-Added-Last)."""

    last: str | None = None


def feed_results(
    fmt: str,
    source: str,
    settings: FeedSettings,
    *,
    user: str | None = None,
    password: str | None = None,
    added_after: str | None = None,
    cursor: PullCursor | None = None,
) -> Iterator[Normalised | Rejected]:
    """Fetch and normalise a feed lazily; fetching happens as the results are consumed.

    `user`, `password` and `added_after` apply to TAXII sources; for them `cursor.last` follows the
    pages read, so a caller that consumed every result knows where the next pull starts.
    """
    if fmt not in PULL_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(PULL_FORMATS)}")
    if fmt == "misp-feed":
        manifest, loader = misp_feed_loader(source)
        yield from MispConnector(settings).normalise_feed(manifest, loader)
    elif fmt in TAXII_FORMATS:
        stix = get_connector("stix", settings)
        version = "2.0" if fmt == "taxii20" else "2.1"
        for page in taxii_pages(
            source, user=user, password=password, added_after=added_after, version=version
        ):
            if cursor is not None:
                cursor.last = page.date_added_last or cursor.last
            yield from stix.normalise(orjson.dumps({"objects": page.objects}))
    else:
        yield from get_connector(fmt, settings).normalise(read_source(source))
