"""TAXII 2.1 media types and content negotiation."""

from __future__ import annotations

from hub.errors import NotAcceptable, UnsupportedMediaType

TAXII = "application/taxii+json;version=2.1"
STIX = "application/stix+json;version=2.1"


def _parse(item: str) -> tuple[str, dict[str, str]]:
    kind, *params = [p.strip() for p in item.split(";")]
    out = {}
    for p in params:
        k, _, v = p.partition("=")
        out[k.strip().lower()] = v.strip().strip('"')
    return kind.lower(), out


def check_accept(header: str | None) -> None:
    """Raise 406 unless the Accept header admits the TAXII 2.1 media type."""
    if not header:
        return
    for item in header.split(","):
        kind, params = _parse(item)
        if params.get("q") in ("0", "0.0", "0.00", "0.000"):
            continue
        if kind in ("*/*", "application/*"):
            return
        if kind == "application/taxii+json" and params.get("version", "2.1") == "2.1":
            return
    raise NotAcceptable(f"This server serves {TAXII}; the Accept header {header!r} does not admit it.")


def check_content_type(header: str | None) -> None:
    """Raise 415 unless the body is declared as the TAXII 2.1 media type."""
    if header:
        kind, params = _parse(header)
        if kind == "application/taxii+json" and params.get("version", "2.1") == "2.1":
            return
    raise UnsupportedMediaType(f"Send the envelope as Content-Type: {TAXII} (got {header or 'none'!r}).")
