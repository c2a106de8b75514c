"""Zeek intel files from the values device lists take (the intel framework's `Intel::read_files`).

One tab-separated line per indicator: `indicator`, `indicator_type` (Intel::ADDR for an address,
Intel::SUBNET for a network, Intel::DOMAIN, Intel::URL without its scheme, as Zeek sees URLs,
Intel::FILE_HASH), `meta.source` (hub-<group>), `meta.desc` (collection, TLP level and object id, in
a safe alphabet) and `meta.url` (the object's page on the hub when HUB_PUBLIC_URL is set, else `-`,
Zeek's unset field). No field holds a tab or a line break (device values hold no control characters;
the rest is built here), and a backslash is written as Zeek's `\\x5c` escape.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy.orm import Session

from hub.lookup.downloads import Counter, DownloadFilters, device_values
from hub.lookup.formats.common import safe_text, url_parts
from hub.lookup.values import Value
from hub.trust.access import CollectionAccess
from hub.trust.service import Principal

FIELDS = ("indicator", "indicator_type", "meta.source", "meta.desc", "meta.url")
HEADER = "#fields\t" + "\t".join(FIELDS) + "\n"


def indicator(v: Value) -> tuple[str, str] | None:
    """(indicator, Intel type) of a device value, or None for a kind Zeek's intel does not take."""
    if v.kind == "ip":
        return v.value, "Intel::SUBNET" if "/" in v.value else "Intel::ADDR"
    if v.kind == "domain":
        return v.value, "Intel::DOMAIN"
    if v.kind == "url":
        authority, path = url_parts(v.value)
        return (authority + path, "Intel::URL") if authority else None
    if v.kind == "hash":
        return v.value, "Intel::FILE_HASH"
    return None


def field(text: str) -> str:
    """A field Zeek reads back as `text`: no separator or line break, `\\` escaped, never the unset
    (`-`) or empty (`(empty)`) markers."""
    out = text.replace("\\", "\\x5c").replace("\t", " ").replace("\n", " ").replace("\r", " ")
    return out if out not in ("", "-", "(empty)") else "(unnamed)"


def intel(
    session: Session,
    principal: Principal,
    accesses: list[CollectionAccess],
    f: DownloadFilters,
    *,
    group: str,
    public_url: str = "",
    counter: Counter | None = None,
) -> Iterator[bytes]:
    """`zeek.intel` of what the reader may see in `accesses`, as chunks of text."""
    yield HEADER.encode()
    seen: set[tuple[str, str]] = set()
    lines: list[str] = []
    base = public_url.rstrip("/")
    for row, v in device_values(session, principal, accesses, f):
        found = indicator(v)
        if found is None or found in seen:
            continue
        seen.add(found)
        desc = safe_text(f"{row.access.collection.alias} {row.tlp.label} {row.stix_id}", 200)
        url = f"{base}/console/objects/{row.stix_id}" if base else "-"
        lines.append("\t".join((field(found[0]), found[1], field(f"hub-{group}"), field(desc), url)))
        if counter is not None:
            counter.add(row.access.collection.id)
        if len(lines) >= 500:
            yield ("\n".join(lines) + "\n").encode()
            lines = []
    if lines:
        yield ("\n".join(lines) + "\n").encode()
