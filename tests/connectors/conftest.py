"""Fixtures for the connector tests: feed settings, fixture files and a STIX 2.1 validity check."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import stix2

from connectors import FeedSettings

FIXTURES = Path(__file__).parent / "fixtures"
PRODUCER_A = "identity--11111111-2222-4333-8444-555555555555"
PRODUCER_B = "identity--99999999-8888-4777-8666-555555555555"


def fixture_bytes(name: str) -> bytes:
    """The raw bytes of a fixture file."""
    return (FIXTURES / name).read_bytes()


def make_settings(**changes: Any) -> FeedSettings:
    """Feed settings of producer A, with `changes` applied."""
    values: dict[str, Any] = {"producer_id": PRODUCER_A, "producer_name": "CERT-A", "feed_name": "test-feed"}
    values.update(changes)
    return FeedSettings(**values)


@pytest.fixture
def settings() -> FeedSettings:
    return make_settings()


def assert_stix21(objects: Iterable[dict[str, Any]]) -> None:
    """Every object parses with stix2 as plain STIX 2.1, no custom content allowed."""
    for obj in objects:
        stix2.parse(obj, allow_custom=False, version="2.1")
