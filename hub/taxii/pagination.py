"""Opaque, stateless, signed `next` tokens for keyset pagination: any replica can answer them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct

from hub.errors import BadRequest

VERSION = 1
_FMT = ">Bqq"  # token version, date added (µs), sequence


def encode(position: tuple[int, int], key: bytes) -> str:
    """A token continuing after the given (date added, sequence)."""
    payload = struct.pack(_FMT, VERSION, *position)
    mac = hmac.new(key, payload, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(payload + mac).rstrip(b"=").decode()


def decode(token: str, key: bytes) -> tuple[int, int]:
    """The position a token stands for; a forged, altered or stale-format token is a 400."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        raw = b""
    size = struct.calcsize(_FMT)
    if len(raw) != size + 16:
        raise BadRequest("The 'next' token is not one this server issued.")
    payload, mac = raw[:size], raw[size:]
    if not hmac.compare_digest(mac, hmac.new(key, payload, hashlib.sha256).digest()[:16]):
        raise BadRequest("The 'next' token is not one this server issued.")
    version, added, seq = struct.unpack(_FMT, payload)
    if version != VERSION:
        raise BadRequest("The 'next' token is from another version of this server; start the listing again.")
    return added, seq
