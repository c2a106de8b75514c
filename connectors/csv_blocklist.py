"""CSV blocklists read by header name from a declared column mapping, with abuse.ch presets."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import ClassVar

from connectors.base import (
    ColumnMap,
    Connector,
    FeedSettings,
    Normalised,
    Rejected,
    Result,
    excerpt,
    split_lines,
)
from connectors.normalise import Draft, InvalidValue, build, parse_time, parse_value, with_port

# URLhaus `csv_recent`: `# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter`
URLHAUS = ColumnMap(
    value="url",
    fixed_type="url",
    id="id",
    first_seen="dateadded",
    last_seen="last_online",
    status="url_status",
    threat="threat",
    tags="tags",
    reference="urlhaus_link",
)
# Feodo Tracker `ipblocklist.csv`:
# `# "first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"`
FEODO = ColumnMap(
    value="dst_ip",
    fixed_type="ip",
    port="dst_port",
    first_seen="first_seen_utc",
    last_seen="last_online",
    status="c2_status",
    malware="malware",
)
# ThreatFox `export/csv/recent`: quoted fields with a space after each comma; `ioc_type` is one of
# `ip:port`, `domain`, `url`, `md5_hash`, `sha1_hash`, `sha256_hash`.
THREATFOX = ColumnMap(
    value="ioc_value",
    type="ioc_type",
    id="ioc_id",
    first_seen="first_seen_utc",
    last_seen="last_seen_utc",
    threat="threat_type",
    malware="malware_printable",
    tags="tags",
    reference="reference",
    confidence="confidence_level",
)

_NO_VALUE = frozenset({"", "none", "null", "n/a", "unknown malware"})


def _fields(text: str) -> list[str]:
    # One physical line at a time, strict: an unbalanced quote costs its own line, never the rest of
    # the file (blocklists have no multi-line fields).
    return next(csv.reader((text,), skipinitialspace=True, strict=True))


class CsvBlocklistConnector(Connector):
    """CSV with a header row, or with the header in the last `#` comment line before the data."""

    format_name = "csv"
    preset: ClassVar[ColumnMap | None] = None

    def __init__(self, settings: FeedSettings) -> None:
        super().__init__(settings)
        columns = settings.columns or self.preset
        if columns is None:
            raise ValueError(f"the {self.format_name} format needs a column mapping (FeedSettings.columns)")
        self.columns = columns

    def _normalise(self, raw: bytes) -> Iterator[Result]:
        columns = self.columns
        header: list[str] | None = None
        last_comment: str | None = None
        for number, line in split_lines(raw):
            ref = f"line {number}"
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                yield Rejected(ref, "line is not UTF-8", excerpt(line))
                continue
            stripped = text.strip()
            if not stripped:
                continue
            if stripped[0] == "#":
                if header is None:
                    comment = stripped.lstrip("#").strip()
                    if comment:
                        last_comment = comment
                continue
            try:
                fields = [f.strip() for f in _fields(stripped)]
            except csv.Error as exc:
                yield Rejected(ref, f"unreadable CSV line: {exc}", excerpt(line))
                continue
            if header is None:
                if columns.value in fields:
                    header = fields
                    continue
                if last_comment is not None:
                    try:
                        candidate = [f.strip() for f in _fields(last_comment)]
                    except csv.Error:
                        candidate = []
                    if columns.value in candidate:
                        header = candidate
                if header is None:
                    yield Rejected(
                        ref,
                        f"no header names the value column {columns.value!r}; nothing can be read",
                        excerpt(line),
                    )
                    return
            if len(fields) > len(header):
                yield Rejected(ref, f"row has {len(fields)} fields, the header {len(header)}", excerpt(line))
                continue
            row = dict(zip(header, fields, strict=False))
            yield from self._row(row, columns, ref, line)

    def _row(self, row: dict[str, str], columns: ColumnMap, ref: str, line: bytes) -> Iterator[Result]:
        text = row.get(columns.value)
        if not text:
            yield Rejected(ref, f"no value in column {columns.value!r}", excerpt(line))
            return
        type_hint = row.get(columns.type) if columns.type else columns.fixed_type
        if columns.type and not type_hint:
            yield Rejected(ref, f"no value type in column {columns.type!r}", excerpt(line))
            return
        try:
            value = parse_value(text, type_hint)
            if columns.port:
                value = with_port(value, row.get(columns.port))
        except InvalidValue as exc:
            yield Rejected(ref, str(exc), excerpt(line))
            return
        labels: list[str] = []
        for column in (columns.threat, columns.malware):
            label = row.get(column) if column else None
            if label and label.strip().lower() not in _NO_VALUE:
                labels.append(label.strip())
        tags = row.get(columns.tags) if columns.tags else None
        if tags and tags.strip().lower() not in _NO_VALUE:
            labels.extend(tag.strip() for tag in tags.split(",") if tag.strip())
        reference = row.get(columns.reference) if columns.reference else None
        if reference and not reference.startswith(("https://", "http://")):
            reference = None
        status = row.get(columns.status) if columns.status else None
        confidence = None
        raw_confidence = (row.get(columns.confidence) if columns.confidence else None) or ""
        if raw_confidence.isascii() and raw_confidence.isdigit() and int(raw_confidence) <= 100:
            confidence = int(raw_confidence)
        draft = Draft(
            value,
            first_seen=parse_time(row.get(columns.first_seen)) if columns.first_seen else None,
            last_seen=parse_time(row.get(columns.last_seen)) if columns.last_seen else None,
            labels=labels,
            confidence=confidence,
            description=f"status: {status}" if status else None,
            external_id=(row.get(columns.id) or None) if columns.id else None,
            url=reference,
        )
        for obj in build(draft, self.settings):
            yield Normalised(obj, ref)


class UrlhausCsvConnector(CsvBlocklistConnector):
    """URLhaus `csv_recent` / `csv_online` dumps."""

    format_name = "urlhaus-csv"
    preset = URLHAUS


class FeodoCsvConnector(CsvBlocklistConnector):
    """Feodo Tracker botnet C2 IP blocklist (CSV)."""

    format_name = "feodo-csv"
    preset = FEODO


class ThreatfoxCsvConnector(CsvBlocklistConnector):
    """ThreatFox IOC export (CSV)."""

    format_name = "threatfox-csv"
    preset = THREATFOX
