"""Feed connectors: raw bytes of a feed in, STIX 2.1 objects and rejected records out; no I/O."""

from __future__ import annotations

from connectors.base import (
    ColumnMap,
    Connector,
    FeedSettings,
    Normalised,
    Rejected,
    Summary,
    collect,
)
from connectors.csv_blocklist import (
    CsvBlocklistConnector,
    FeodoCsvConnector,
    ThreatfoxCsvConnector,
    UrlhausCsvConnector,
)
from connectors.intelmq import IntelmqConnector
from connectors.misp import MispConnector
from connectors.stix_bundle import StixBundleConnector
from connectors.text_blocklist import TextBlocklistConnector

FORMATS: dict[str, type[Connector]] = {
    cls.format_name: cls
    for cls in (
        StixBundleConnector,
        MispConnector,
        CsvBlocklistConnector,
        UrlhausCsvConnector,
        FeodoCsvConnector,
        ThreatfoxCsvConnector,
        TextBlocklistConnector,
        IntelmqConnector,
    )
}


def get_connector(format_name: str, settings: FeedSettings) -> Connector:
    """Return the connector for a format name (see `FORMATS`) configured with the feed's settings."""
    try:
        cls = FORMATS[format_name]
    except KeyError:
        known = ", ".join(sorted(FORMATS))
        raise ValueError(f"unknown feed format {format_name!r}; known: {known}") from None
    return cls(settings)


__all__ = [
    "FORMATS",
    "ColumnMap",
    "Connector",
    "CsvBlocklistConnector",
    "FeedSettings",
    "FeodoCsvConnector",
    "IntelmqConnector",
    "MispConnector",
    "Normalised",
    "Rejected",
    "StixBundleConnector",
    "Summary",
    "TextBlocklistConnector",
    "ThreatfoxCsvConnector",
    "UrlhausCsvConnector",
    "collect",
    "get_connector",
]
