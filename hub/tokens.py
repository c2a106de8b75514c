"""Opaque tokens the hub hands out: `next` page tokens for keyset pagination, sealed with AES-GCM.

A page token stands for the position (date added, sequence) of the last row served. The sequence is
hub-wide, so a token a reader could decode would count the objects stored between two of its pages,
hidden ones included. Tokens are therefore encrypted as well as authenticated: AES-256-GCM from
`cryptography` (a reviewed AEAD, instead of the HMAC-keystream construction of earlier releases), keyed
by a subkey derived from the settings secret, with a random 96-bit nonce per token and the token format
as associated data. Any replica holding the secret answers any token: nothing is kept in memory.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hub.errors import BadRequest

PAGE_TOKEN_VERSION = 3
_POSITION = struct.Struct(">qq")  # date added (µs), sequence
_NONCE = 12
_TAG = 16
_HEADER = bytes([PAGE_TOKEN_VERSION])
_SIZE = len(_HEADER) + _NONCE + _POSITION.size + _TAG
# earlier releases' tokens (HMAC keystream): 16-byte nonce, 17-byte payload, 16-byte MAC
_V2_SIZE = 16 + 17 + 16
_NOT_OURS = "The 'next' token is not one this server issued."


@lru_cache(maxsize=8)
def _cipher(key: bytes) -> AESGCM:
    # a subkey of its own, so the settings secret never keys AES directly nor two uses at once
    return AESGCM(hmac.new(key, b"hub next-token aes-256-gcm", hashlib.sha256).digest())


def encode_page_token(position: tuple[int, int], key: bytes) -> str:
    """A token continuing after (date added, sequence), unreadable and unforgeable without the key."""
    nonce = secrets.token_bytes(_NONCE)
    sealed = _cipher(key).encrypt(nonce, _POSITION.pack(*position), _HEADER)
    return base64.urlsafe_b64encode(_HEADER + nonce + sealed).rstrip(b"=").decode()


def decode_page_token(token: str, key: bytes) -> tuple[int, int]:
    """The position a token stands for; a forged, altered or stale-format token is a 400."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError, binascii.Error):
        raw = b""
    if len(raw) == _V2_SIZE:
        raise BadRequest("The 'next' token is from another version of this server; start the listing again.")
    if len(raw) != _SIZE or raw[:1] != _HEADER:
        raise BadRequest(_NOT_OURS)
    nonce, sealed = raw[1 : 1 + _NONCE], raw[1 + _NONCE :]
    try:
        plain = _cipher(key).decrypt(nonce, sealed, _HEADER)
    except InvalidTag:
        raise BadRequest(_NOT_OURS) from None
    added, seq = _POSITION.unpack(plain)
    return added, seq
