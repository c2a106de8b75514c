"""Opaque, stateless `next` tokens for keyset pagination: any replica can answer them.

A token stands for the position (date added, sequence) of the last row served. The sequence is
hub-wide, so a token a reader could decode would count the objects stored between two of its pages,
hidden ones included. Tokens are therefore encrypted as well as authenticated: HMAC-SHA256 of a random
nonce is the keystream (a PRF used as a stream cipher; the 17-byte payload fits one block) and a second
HMAC over nonce and ciphertext authenticates it (encrypt-then-MAC). The standard library suffices, so
the hub needs no cipher package for this.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct

from hub.errors import BadRequest

VERSION = 2
_FMT = ">Bqq"  # token version, date added (µs), sequence
_SIZE = struct.calcsize(_FMT)
_NONCE = 16
_MAC = 16


def _keys(key: bytes) -> tuple[bytes, bytes]:
    return (
        hmac.new(key, b"hub next-token encryption", hashlib.sha256).digest(),
        hmac.new(key, b"hub next-token authentication", hashlib.sha256).digest(),
    )


def _xor(data: bytes, key: bytes, nonce: bytes) -> bytes:
    stream = hmac.new(key, nonce, hashlib.sha256).digest()
    return bytes(a ^ b for a, b in zip(data, stream, strict=False))


def encode(position: tuple[int, int], key: bytes) -> str:
    """A token continuing after the given (date added, sequence), unreadable without the key."""
    enc, auth = _keys(key)
    nonce = secrets.token_bytes(_NONCE)
    cipher = _xor(struct.pack(_FMT, VERSION, *position), enc, nonce)
    mac = hmac.new(auth, nonce + cipher, hashlib.sha256).digest()[:_MAC]
    return base64.urlsafe_b64encode(nonce + cipher + mac).rstrip(b"=").decode()


def decode(token: str, key: bytes) -> tuple[int, int]:
    """The position a token stands for; a forged, altered or stale-format token is a 400."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        raw = b""
    if len(raw) != _NONCE + _SIZE + _MAC:
        raise BadRequest("The 'next' token is not one this server issued.")
    enc, auth = _keys(key)
    nonce, cipher, mac = raw[:_NONCE], raw[_NONCE:-_MAC], raw[-_MAC:]
    if not hmac.compare_digest(mac, hmac.new(auth, nonce + cipher, hashlib.sha256).digest()[:_MAC]):
        raise BadRequest("The 'next' token is not one this server issued.")
    version, added, seq = struct.unpack(_FMT, _xor(cipher, enc, nonce))
    if version != VERSION:
        raise BadRequest("The 'next' token is from another version of this server; start the listing again.")
    return added, seq
