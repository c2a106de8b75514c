"""Feedback end to end against a live hub, on SQLite and PostgreSQL: a GREEN reader reports over TAXII
with the OASIS taxii2-client, a member from the CLI; the publisher reads both reports in full, another
member gets counts only; two false positives take the value off device lists; the publisher, from the
CLI, puts it back."""

from __future__ import annotations

import json
from typing import Any

import httpx
import orjson
import pytest
import requests
from typer.testing import CliRunner

from hub.cli import app
from tests.factories import TAXII
from tests.feedback.helpers import false_positive, sighting
from tests.feedback.test_reports import ip_indicator
from tests.interop.conftest import hub_collection

pytestmark = pytest.mark.slow


@pytest.fixture
def cli(live: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("HUB_PROFILE", raising=False)
    runner = CliRunner()

    def run(who: str, *args: str, ok: bool = True) -> Any:
        r = runner.invoke(app, ["--url", live.base, *args], env={"HUB_API_KEY": live.keys[who]})
        if ok:
            assert r.exit_code == 0, r.output
        return r

    return run


def reporter(live: Any, org: str) -> Any:
    """taxii2-client on the collection as a member that reads it. The hub says can_write false (the
    member adds no ordinary objects there) and taxii2-client checks that before posting, so the
    client is told the member may post: what it posts is feedback, which the hub takes from readers."""
    coll = hub_collection(live, org)
    assert coll.can_read and not coll.can_write
    coll._can_write = True
    return coll


def _blocklist(live: Any, org: str) -> list[str]:
    r = httpx.get(
        f"{live.base}/console/downloads/africa/blocklist.txt?kind=ip",
        headers={"Authorization": f"Bearer {live.keys[org]}"},
    )
    assert r.status_code == 200, r.text
    return r.text.split()


def test_the_feedback_loop(live: Any, cli: Any) -> None:
    ind = ip_indicator(31, tlp="green")
    r = httpx.post(
        live.base + live.objects_url(), content=orjson.dumps({"objects": [ind]}),
        headers={**live.auth("cert-b"), "Content-Type": TAXII},
    )  # fmt: skip
    assert r.status_code == 202 and r.json()["success_count"] == 1
    assert "203.0.113.31" in _blocklist(live, "cert-g")
    # a GREEN reader (vendor) reports a sighting and a false positive with taxii2-client
    vendor = live.identities["vendor"]
    seen = sighting(ind["id"], identity=vendor, count=7)
    fp = false_positive(ind["id"], identity=vendor)
    status = reporter(live, "vendor").add_objects({"objects": [seen, fp]})
    assert status.success_count == 2 and status.failure_count == 0
    # the publisher reads both in full, by id and in listings
    publisher = hub_collection(live, "cert-b")
    assert publisher.get_object(seen["id"])["objects"][0] == seen
    assert publisher.get_object(fp["id"])["objects"][0] == fp
    listed = {o["id"] for o in publisher.get_objects(type=["sighting", "opinion"])["objects"]}
    assert listed == {seen["id"], fp["id"]}
    # another member: the reports are absent, the counts are there
    other = hub_collection(live, "cert-g")
    with pytest.raises(requests.HTTPError) as hidden:
        other.get_object(seen["id"])
    with pytest.raises(requests.HTTPError) as absent:
        other.get_object("sighting--00000000-0000-4000-8000-000000000031")
    assert hidden.value.response.status_code == absent.value.response.status_code == 404
    assert "objects" not in other.get_objects(type=["sighting", "opinion"])
    counts = json.loads(cli("cert-g", "feedback", "show", ind["id"], "--json").stdout)
    assert (counts["sightings"], counts["false_positives"], counts["reports"]) == (1, 1, [])
    full = json.loads(cli("cert-b", "feedback", "show", ind["id"], "--json").stdout)
    assert sorted((r["kind"], r["reporter"]) for r in full["reports"]) == [
        ("false-positive", "vendor"), ("sighting", "vendor"),
    ]  # fmt: skip
    assert "203.0.113.31" in _blocklist(live, "cert-g")
    # a second organisation's false positive, from the CLI: the value leaves every device list
    out = json.loads(
        cli("cert-c", "feedback", "false-positive", ind["id"], "--text", "our proxy", "--json").stdout
    )
    assert out["held"] is True
    assert "203.0.113.31" not in _blocklist(live, "cert-g")
    assert "203.0.113.31" not in _blocklist(live, "cert-b")
    held = json.loads(cli("cert-b", "feedback", "held", "--json").stdout)
    assert [h["object_id"] for h in held] == [ind["id"]]
    # only the publisher decides; it confirms from the CLI and the value is back
    denied = cli("cert-g", "feedback", "confirm", ind["id"], ok=False)
    assert denied.exit_code != 0 and "403" in denied.output
    cli("cert-b", "feedback", "confirm", ind["id"])
    assert "203.0.113.31" in _blocklist(live, "cert-g")
    assert json.loads(cli("cert-b", "feedback", "held", "--json").stdout) == []


def test_a_report_on_a_hidden_object_reads_as_one_on_an_absent_id(live: Any, cli: Any) -> None:
    amber = ip_indicator(32, tlp="amber")
    httpx.post(
        live.base + live.objects_url(), content=orjson.dumps({"objects": [amber]}),
        headers={**live.auth("cert-b"), "Content-Type": TAXII},
    )  # fmt: skip
    absent_id = "indicator--00000000-0000-4000-8000-000000000032"
    vendor = reporter(live, "vendor")
    hidden = vendor.add_objects({"objects": [sighting(amber["id"])]})
    absent = vendor.add_objects({"objects": [sighting(absent_id)]})
    assert hidden.failure_count == absent.failure_count == 1
    assert hidden.failures[0]["message"].replace(amber["id"], "X") == absent.failures[0]["message"].replace(
        absent_id, "X"
    )
    a = cli("vendor", "feedback", "sighting", amber["id"], ok=False)
    b = cli("vendor", "feedback", "sighting", absent_id, ok=False)
    assert a.exit_code == b.exit_code != 0
    assert a.output.replace(amber["id"], "X") == b.output.replace(absent_id, "X")
