"""Secrets the hub generates once and keeps in the database, so that every replica shares them."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.store.models import HubSecret

PAGE_TOKEN = "page-token"  # noqa: S105 (the name of the secret, not a secret)


def shared_secret(session: Session, *, name: str) -> str:
    """The named secret; generated and stored now if the database has none yet (first replica wins)."""
    value = session.scalar(select(HubSecret.value).where(HubSecret.name == name))
    if value is not None:
        return value
    try:
        with session.begin_nested():
            session.add(HubSecret(name=name, value=secrets.token_urlsafe(32)))
    except IntegrityError:
        pass  # another replica stored one first: use that
    stored: str = session.scalars(select(HubSecret.value).where(HubSecret.name == name)).one()
    return stored
