"""FastAPI dependencies every HTTP surface shares: the session, the settings, the authenticated caller."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from hub.errors import Unauthorized
from hub.settings import Settings
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


def principal(request: Request, session: Session = Depends(db_session)) -> Principal:
    """The authenticated caller; 401 with WWW-Authenticate otherwise."""
    key = api_key_from(request.headers.get("authorization"))
    if key is None:
        raise Unauthorized()
    with session.begin():
        who = authenticate(session, key)
    if who is None:
        raise Unauthorized("The API key is unknown, revoked or expired.")
    return who


def optional_principal(request: Request, session: Session = Depends(db_session)) -> Principal | None:
    """The caller when it sent a key (which must then be valid), None when it sent none."""
    if not request.headers.get("authorization"):
        return None
    return principal(request, session)
