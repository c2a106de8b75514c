"""SOA serials of response-policy zones: a new serial only when a zone's records change."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.store.models import ZoneSerial

MAX_SERIAL = 2**32 - 1  # RFC 1035: an unsigned 32-bit number


def zone_serial(session: Session, *, key: str, digest: str, now_s: int) -> int:
    """The serial of zone `key` whose records hash to `digest`: the stored one while the records are
    the same, else a new one above it (the time in seconds, or the old serial plus one when that is
    not above it). The caller owns the (writing) transaction."""
    row = session.get(ZoneSerial, key)
    if row is not None and row.digest == digest:
        return row.serial
    serial = max(now_s, (row.serial + 1) if row is not None else 1) % (MAX_SERIAL + 1)
    if row is None:
        try:
            with session.begin_nested():
                session.add(ZoneSerial(key=key, digest=digest, serial=serial))
        except IntegrityError:  # another replica stored it first: take its serial, or move on from it
            row = session.scalars(select(ZoneSerial).where(ZoneSerial.key == key)).one()
            if row.digest == digest:
                return row.serial
            serial = max(now_s, row.serial + 1) % (MAX_SERIAL + 1)
            row.digest, row.serial = digest, serial
    else:
        row.digest, row.serial = digest, serial
    session.flush()
    return serial
