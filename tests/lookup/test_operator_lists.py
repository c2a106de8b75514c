"""The operator's known-benign lists (HUB_BENIGN_LISTS): text files read at start, for every group."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.lookup.benign import OperatorListError, use_operator_lists
from hub.settings import Settings
from tests.lookup.helpers import pattern_indicator, sco
from tests.taxii_helpers import post_ok

LIST = """# national resolvers of the operator
203.0.113.53   # ns1
198.51.100.0/28
resolver.nat.example

"""


@pytest.fixture
def lists(tmp_path: Path) -> Path:
    path = tmp_path / "national.txt"
    path.write_text(LIST, encoding="utf-8")
    return path


@pytest.fixture
def settings(lists: Path) -> Any:
    yield Settings(database_url="sqlite://", secret_key="test-secret", max_page_size=1000,
                   benign_lists=f"{lists}, ")  # fmt: skip
    use_operator_lists([])  # the lists are process state: leave none behind for other tests


def _ips(client: Any, world: Any, group: str = "africa", extra: str = "") -> list[str]:
    r = client.get(
        f"/console/downloads/{group}/blocklist.txt?kind=ip{extra}",
        headers={"Authorization": f"Bearer {world.keys['cert-a']}"},
    )
    assert r.status_code == 200, r.text
    return sorted(r.text.splitlines())


def test_operator_lists_keep_their_values_off_every_groups_device_lists(client, world):
    objs = [
        sco("ipv4-addr", "203.0.113.53", tlp="clear"),
        sco("ipv4-addr", "198.51.100.9", tlp="clear"),
        sco("ipv4-addr", "203.0.113.54", tlp="clear"),
        pattern_indicator("[domain-name:value = 'www.resolver.nat.example']", tlp="clear"),
    ]
    assert post_ok(client, world, objs, "cert-a", "africa")["success_count"] == len(objs)
    assert _ips(client, world) == ["203.0.113.54"]
    assert _ips(client, world, extra="&include_flagged=true") == [
        "198.51.100.9",
        "203.0.113.53",
        "203.0.113.54",
    ]
    # a group refusing known-benign values refuses them, naming the operator's list
    from hub.db import begin_write
    from hub.trust.models import TrustGroup

    sm = client.app.state.sessionmaker
    with sm() as s, s.begin():
        begin_write(s)
        s.query(TrustGroup).filter_by(slug="asia").one().benign_mode = "refuse"
    status = post_ok(client, world, [sco("ipv4-addr", "198.51.100.3", tlp="clear")], "cert-c", "asia")
    assert status["failure_count"] == 1
    assert "known-benign list 'operator list national.txt'" in status["failures"][0]["message"]


def test_an_unreadable_operator_list_stops_the_hub_at_start(tmp_path, sm):
    from hub.app import create_app

    with pytest.raises(OperatorListError, match=r"missing\.txt"):
        create_app(
            Settings(database_url="sqlite://", benign_lists=str(tmp_path / "missing.txt")), sessionmaker=sm
        )
    use_operator_lists([])
