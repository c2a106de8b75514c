"""FastAPI dependencies of the TAXII surface: the session, the caller, content negotiation."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from hub.errors import Unauthorized
from hub.settings import Settings
from hub.taxii.media import check_accept
from hub.trust.service import Principal, authenticate


def db_session(request: Request) -> Iterator[Session]:
    """A session for this request; the route owns its transaction (`with session.begin():`)."""
    session = request.app.state.sessionmaker()
    try:
        yield session
    finally:
        session.close()


def settings(request: Request) -> Settings:
    """The settings the app was built with."""
    cfg: Settings = request.app.state.settings
    return cfg


def api_key_from(header: str | None) -> str | None:
    """The API key in an Authorization header: Bearer, or the password of HTTP Basic."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return value.strip() or None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        _user, sep, password = decoded.partition(":")
        return password if sep and password else None
    return None


def taxii_accept(request: Request) -> None:
    """TAXII routes answer only clients that accept the TAXII media type (406 otherwise)."""
    check_accept(request.headers.get("accept"))


def principal(request: Request, session: Session = Depends(db_session)) -> Principal:
    """The authenticated caller; 401 with WWW-Authenticate otherwise."""
    key = api_key_from(request.headers.get("authorization"))
    if key is None:
        raise Unauthorized()
    with session.begin():
        who = authenticate(session, key)
    if who is None:
        raise Unauthorized("The API key is unknown, revoked or expired.")
    request.state.organisation = who.org_slug  # for the access log
    return who
