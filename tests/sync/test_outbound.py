"""What leaves a collection (export, push to a peer) follows the redistribution rule, on every path."""

from __future__ import annotations

import json

import httpx
import orjson
import pytest

from tests.factories import TLP, indicator
from tests.taxii_helpers import store


@pytest.fixture
def shared(client, world):
    objs = {lvl: indicator(n, tlp=lvl) for n, lvl in enumerate(["clear", "green", "amber", "amber+strict"])}
    objs["unmarked"] = indicator(10, tlp=None)
    objs["granular"] = indicator(
        11,
        tlp="green",
        description="context",
        granular_markings=[{"marking_ref": TLP["amber"], "selectors": ["description"]}],
    )
    store(client, world, list(objs.values()))
    return objs


def exported(cli, tmp_path, *extra):
    out = tmp_path / "out.json"
    r = cli("export", "--group", "africa", "--collection", "indicators", "-o", str(out), *extra)
    assert r.exit_code == 0, r.output
    bundle = json.loads(out.read_bytes())
    assert bundle["type"] == "bundle"
    return {o["id"]: o for o in bundle["objects"] if o["type"] != "marking-definition"}, r.output


def test_public_export_carries_only_clear(cli, shared, tmp_path):
    got, _ = exported(cli, tmp_path)
    assert set(got) == {shared["clear"]["id"]}


def test_export_to_a_group_of_the_same_community_carries_green_redacted(cli, shared, tmp_path):
    got, out = exported(cli, tmp_path, "--to-group", "asia")
    assert set(got) == {shared["clear"]["id"], shared["green"]["id"], shared["granular"]["id"]}
    assert "description" not in got[shared["granular"]["id"]]
    assert "next incremental export: --added-after" in out


def test_export_to_a_peer_of_another_community_carries_only_clear(cli, shared, tmp_path):
    got, _ = exported(cli, tmp_path, "--peer-community", "north")
    assert set(got) == {shared["clear"]["id"]}


def test_producer_exception_does_not_let_amber_leave(cli, shared, tmp_path):
    got, _ = exported(cli, tmp_path, "--to-group", "asia")
    assert shared["amber"]["id"] not in got and shared["unmarked"]["id"] not in got


def test_incremental_export_starts_after_the_cursor(cli, client, world, shared, tmp_path):
    _, out = exported(cli, tmp_path, "--to-group", "asia")
    cursor = out.split("--added-after ")[1].split()[0]
    store(client, world, [indicator(50, tlp="clear")])
    got, _ = exported(cli, tmp_path, "--to-group", "asia", "--added-after", cursor)
    assert set(got) == {indicator(50)["id"]}


def test_export_of_an_unknown_collection_fails_clearly(cli, tmp_path):
    r = cli("export", "--group", "africa", "--collection", "nope", "-o", str(tmp_path / "x.json"))
    assert r.exit_code == 2 and "no collection" in r.output


@pytest.mark.interop
def test_push_to_a_peer_hub_sends_what_may_leave(cli, shared, live):
    peer_coll = f"{live.base}/taxii2/asia/collections/{live.collections['asia/indicators']}/"
    r = cli(
        "push",
        peer_coll,
        "--group",
        "africa",
        "--collection",
        "indicators",
        "--peer-community",
        "south",
        "--user",
        "cert-c",
        "--password",
        live.keys["cert-c"],
    )
    assert r.exit_code == 0, r.output
    assert "pushed 3 new objects" in r.output
    got = httpx.get(peer_coll + "objects/", headers=live.auth("cert-c")).json()["objects"]
    got = [o for o in got if o["type"] != "marking-definition"]
    ids = {o["id"] for o in got}
    assert {shared["clear"]["id"], shared["green"]["id"], shared["granular"]["id"]} <= ids
    assert shared["amber"]["id"] not in ids
    assert all("description" not in o for o in got if o["id"] == shared["granular"]["id"])


@pytest.mark.interop
def test_push_to_an_unreachable_peer_fails_clearly(cli, shared):
    from tests.conftest import free_port

    r = cli(
        "push",
        f"http://127.0.0.1:{free_port()}/taxii2/x/collections/y/",
        "--group",
        "africa",
        "--collection",
        "indicators",
    )
    assert r.exit_code == 2 and "ConnectError" in r.output and "Traceback" not in r.output


STATEMENT = {
    "type": "marking-definition",
    "spec_version": "2.1",
    "id": "marking-definition--3a7c1b2e-8d4f-4e6a-9b1c-2f5e7d9a0c11",
    "created": "2024-01-01T00:00:00.000Z",
    "definition_type": "statement",
    "definition": {"statement": "Copyright 2024 CERT-A"},
}


def bundle_of(cli, tmp_path, *extra):
    out = tmp_path / "all.json"
    r = cli("export", "--group", "africa", "--collection", "indicators", "-o", str(out), *extra)
    assert r.exit_code == 0, r.output
    return {o["id"]: o for o in json.loads(out.read_bytes())["objects"]}


def test_statement_and_tlp_marking_definitions_travel_with_the_objects_that_reference_them(
    cli, client, world, tmp_path
):
    marked = indicator(60, tlp="green")
    marked["object_marking_refs"].append(STATEMENT["id"])
    store(client, world, [STATEMENT, marked])
    got = bundle_of(cli, tmp_path, "--to-group", "asia")
    assert marked["id"] in got
    # the statement is stored at africa's default (AMBER) yet goes with the object that references it
    assert got[STATEMENT["id"]] == STATEMENT
    assert got[TLP["green"]]["extensions"]
    ids = list(got)
    assert ids.index(STATEMENT["id"]) < ids.index(marked["id"])  # a definition precedes its first use


def test_unmarked_objects_leave_with_their_stored_level_made_explicit(cli, client, world, sm, tmp_path):
    from sqlalchemy import select

    from hub.trust.models import TrustGroup

    with sm() as s, s.begin():
        s.scalar(select(TrustGroup).where(TrustGroup.slug == "africa")).default_tlp = 1  # GREEN
    sco = {
        "type": "domain-name",
        "spec_version": "2.1",
        "id": "domain-name--1b1f3a0e-0c55-5b6e-9c7e-1d2a3b4c5d6e",
    }
    sco["value"] = "evil.example"
    store(client, world, [indicator(61, tlp=None), sco])
    got = bundle_of(cli, tmp_path, "--to-group", "asia", "--tlp-version", "1")
    tlp1_green = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
    assert got[indicator(61)["id"]]["object_marking_refs"] == [tlp1_green]
    assert got[sco["id"]]["object_marking_refs"] == [tlp1_green]
    assert got[tlp1_green]["definition"] == {"tlp": "green"}
    # a public export carries neither: they are GREEN here, whatever their bytes say
    public = bundle_of(cli, tmp_path)
    assert indicator(61)["id"] not in public and sco["id"] not in public


def test_a_reclassified_object_no_longer_leaves_in_any_version(cli, client, world, tmp_path):
    store(client, world, [indicator(62, tlp="clear")])
    store(client, world, [indicator(62, tlp="amber", modified="2024-03-01T00:00:00.000Z")])
    assert indicator(62)["id"] not in bundle_of(cli, tmp_path, "--to-group", "asia")


def test_another_members_copy_of_an_sco_never_stops_yours_leaving(cli, client, world, tmp_path):
    # SCOs are one object per publisher: cert-b's later AMBER copy of the same address is no
    # reclassification of cert-a's GREEN one, which still leaves (and is never withdrawn at a peer)
    sco = {
        "type": "ipv4-addr",
        "spec_version": "2.1",
        "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd",
        "value": "198.51.100.3",
    }
    store(client, world, [dict(sco, object_marking_refs=[TLP["green"]])])
    store(client, world, [dict(sco, object_marking_refs=[TLP["amber"]], x_note="mine")], org="cert-b")
    out = bundle_of(cli, tmp_path, "--to-group", "asia")
    assert out[sco["id"]]["object_marking_refs"] == [TLP["green"]]


def test_outbound_reads_each_page_in_its_own_transaction_and_sends_each_version_once(client, world, sm):
    """An export or push holds no snapshot while a peer or disk takes the items; versions added meanwhile
    come after the position, so none is sent twice."""
    from hub.policy.rules import Destination
    from hub.sync.outbound import outbound, source_collection

    first = [indicator(100 + n, tlp="clear") for n in range(7)]
    store(client, world, first)
    sent: list[str] = []
    open_between: list[bool] = []
    with sm() as s:
        coll, grp = source_collection(s, group="africa", collection="indicators")
        items = outbound(
            s, collection=coll, group=grp, destination=Destination(kind="export", name="x"), page=2
        )
        for n, item in enumerate(items):
            open_between.append(s.in_transaction())
            if not item.marking:
                sent.append(orjson.loads(item.body)["id"])
            if n == 2:
                store(client, world, [indicator(200, tlp="clear")])
    assert not any(open_between)
    assert len(sent) == len(set(sent)) == 8
    assert set(sent) == {o["id"] for o in first} | {indicator(200, tlp="clear")["id"]}
