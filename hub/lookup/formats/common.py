"""What the device formats share: text safe to print, publishers by id, and lifecycle times."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from hub.stix import timestamp_us

# characters a message, a description or a comment may hold: no quotes, semicolons, backslashes,
# angle brackets, control characters or anything a rule, a log line or a terminal would interpret
_UNSAFE = re.compile(r"[^A-Za-z0-9 ._:/+@=,()#-]")
_SPACES = re.compile(r"\s+")


def safe_text(text: str, limit: int = 120) -> str:
    """`text` reduced to a printable alphabet with no quoting, markup or control characters."""
    out = _SPACES.sub(" ", _UNSAFE.sub("", _SPACES.sub(" ", text))).strip()
    return out[:limit].rstrip()


@dataclass(frozen=True)
class Publisher:
    """The member organisation that put a version in the hub, as consumers name it."""

    name: str
    uuid: str


class Publishers:
    """Publishers by organisation id, each read once per export."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._seen: dict[int, Publisher] = {}

    def get(self, org_id: int) -> Publisher:
        """The publisher of `org_id` (a placeholder for an organisation no longer stored)."""
        found = self._seen.get(org_id)
        if found is None:
            from hub.trust.models import Organisation

            org = self._session.get(Organisation, org_id)
            if org is None:
                found = Publisher(f"organisation {org_id}", str(uuid.uuid5(uuid.NAMESPACE_OID, str(org_id))))
            else:
                ident = org.identity_id.partition("--")[2]
                try:
                    oid = str(uuid.UUID(ident))
                except ValueError:
                    oid = str(uuid.uuid5(uuid.NAMESPACE_OID, org.identity_id))
                found = Publisher(_printable(org.name) or org.slug, oid)
            self._seen[org_id] = found
        return found


def _printable(text: str) -> str:
    return "".join(c for c in text if c.isprintable())[:255].strip()


def printable(text: str, limit: int = 255) -> str:
    """`text` without control, format or separator characters (for JSON consumers that show it)."""
    return _printable(text)[:limit]


def url_parts(url: str) -> tuple[str, str]:
    """(host, request target) of a URL as they go on the wire (the Host header and the request line):
    `http://u@h:81?q` is ("h:81", "/?q"); credentials and the fragment never leave the client."""
    rest = url.partition("://")[2].partition("#")[0]
    m = re.search(r"[/?]", rest)
    authority, path = (rest, "") if m is None else (rest[: m.start()], rest[m.start() :])
    host = authority.rpartition("@")[2]
    return host, path if not path or path.startswith("/") else "/" + path


def ascii_name(domain: str) -> str | None:
    """A domain name as DNS carries it (IDNA, `xn--` labels), or None when it has no such form."""
    if domain.isascii():
        return domain
    import idna

    try:
        return str(idna.encode(domain, uts46=True).decode("ascii"))
    except idna.IDNAError:
        return None


def created_us(obj: dict[str, Any]) -> int | None:
    """The object's `created` time (stable across its versions), or None."""
    created = obj.get("created")
    if not isinstance(created, str):
        return None
    try:
        return timestamp_us(created, "created")
    except ValueError:
        return None


def valid_until_us(obj: dict[str, Any]) -> int | None:
    """The indicator's `valid_until` time, or None."""
    until = obj.get("valid_until")
    if not isinstance(until, str):
        return None
    try:
        return timestamp_us(until, "valid_until")
    except ValueError:
        return None
