"""FastAPI dependencies every HTTP surface shares: the session, the settings, the authenticated caller."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from hub.db import begin_write
from hub.errors import Unauthorized
from hub.settings import Settings
from hub.store.secrets import PAGE_TOKEN, shared_secret
from hub.trust.auth import AuthGuard, authenticate_request
from hub.trust.service import Principal


def db_session(request: Request) -> Iterator[Session]:
    """A session for this request; the route owns its transaction (`with session.begin():`)."""
    session = request.app.state.sessionmaker()
    try:
        yield session
    finally:
        session.close()


async def settings(request: Request) -> Settings:
    """The settings the app was built with (an attribute look-up: on the event loop, no thread hop)."""
    cfg: Settings = request.app.state.settings
    return cfg


def page_key(request: Request, session: Session = Depends(db_session)) -> bytes:
    """The key that signs page tokens: HUB_SECRET_KEY, else the secret kept in the database.

    Read once per process; a database without one (made before it existed) gets one now.
    """
    key: bytes | None = getattr(request.app.state, "page_key", None)
    if key is None:
        cfg: Settings = request.app.state.settings
        configured = cfg.secret_key.get_secret_value()
        if configured:
            key = configured.encode()
        else:
            with session.begin():
                begin_write(session)
                key = shared_secret(session, name=PAGE_TOKEN).encode()
        request.app.state.page_key = key
    return key


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
    """The authenticated caller; 401 with WWW-Authenticate otherwise, 429 when throttled."""
    key = api_key_from(request.headers.get("authorization"))
    if key is None:
        raise Unauthorized()
    guard: AuthGuard = request.app.state.auth_guard
    address = request.client.host if request.client else ""
    who = authenticate_request(session, key, address=address, guard=guard)
    request.state.organisation = who.org_slug  # for the access log
    return who


def scoped(scope: str) -> Callable[..., Principal]:
    """A dependency: the authenticated caller, whose key must hold `scope` (403 otherwise)."""

    def caller(request: Request, session: Session = Depends(db_session)) -> Principal:
        who = principal(request, session)
        who.require(scope)
        return who

    caller.__name__ = f"principal_with_{scope}"
    return caller


# the scopes a key needs on each surface: device lists; TAXII GETs and lookups; TAXII writes and
# publishing; keys and the admin API
downloader = scoped("download")
reader = scoped("read")
writer = scoped("write")
manager = scoped("manage")


def optional_principal(request: Request, session: Session = Depends(db_session)) -> Principal | None:
    """The caller when it sent a key (which must then be valid), None when it sent none."""
    if not request.headers.get("authorization"):
        return None
    return principal(request, session)
