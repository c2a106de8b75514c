"""Page tokens (hub/tokens.py): AES-GCM sealed positions that only the key's holder reads or makes."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import BadRequest
from hub.tokens import PAGE_TOKEN_VERSION, decode_page_token, encode_page_token

KEY = b"k" * 40
positions = st.tuples(st.integers(0, 2**62), st.integers(0, 2**62))


def _raw(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def _text(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@given(positions)
def test_a_token_round_trips_its_position(position: tuple[int, int]) -> None:
    assert decode_page_token(encode_page_token(position, KEY), KEY) == position


def test_two_tokens_for_one_position_differ_and_hold_no_readable_sequence() -> None:
    position = (1_700_000_000_000_000, 4242)
    a, b = encode_page_token(position, KEY), encode_page_token(position, KEY)
    assert a != b
    for token in (a, b):
        raw = _raw(token)
        assert raw[0] == PAGE_TOKEN_VERSION
        assert (4242).to_bytes(8, "big") not in raw


def test_a_token_of_another_key_is_400() -> None:
    with pytest.raises(BadRequest, match="not one this server issued"):
        decode_page_token(encode_page_token((1, 2), b"other key"), KEY)


@given(st.integers(0, 44 * 8 - 1))
def test_any_flipped_bit_is_400(bit: int) -> None:
    raw = bytearray(_raw(encode_page_token((123, 456), KEY)))
    raw[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(BadRequest):
        decode_page_token(_text(bytes(raw)), KEY)


@pytest.mark.parametrize("token", ["", "x", "!!!!", "A" * 59, "A" * 200, "AAAA" * 11])
def test_garbage_is_400(token: str) -> None:
    with pytest.raises(BadRequest, match="not one this server issued"):
        decode_page_token(token, KEY)


def test_an_earlier_releases_token_asks_to_start_again() -> None:
    with pytest.raises(BadRequest, match="another version"):
        decode_page_token(_text(bytes(49)), KEY)
