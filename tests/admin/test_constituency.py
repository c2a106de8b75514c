"""Constituency authority through the admin API: who declares, who confirms, who may know, on both
databases. Attackers: a vendor claiming a country's networks, a coordinator of another group, a member
confirming itself, a stranger probing for organisations."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.watch_helpers import add_ke_cirt, admin, ip_indicator, post

NET = "41.90.0.0/16"


@pytest.fixture
def ke(client, world, sm):
    add_ke_cirt(sm, world)
    return world


def _put(client, world, who, org, **body):
    return admin(client, world, who, "PUT", f"/organisations/{org}/constituency", json=body)


def _inside(client, world, who):
    r = client.get("/lookup/v1/inside", headers={"Authorization": f"Bearer {world.keys[who]}"})
    assert r.status_code == 200, r.text
    return r.json()


def test_a_declaration_is_canonical_and_waits_for_confirmation(client, ke):
    r = _put(client, ke, "ke-cirt", "ke-cirt", networks=["41.90.3.4/16", "2c0f:fe38::/32"],
             asns=["AS36866", 37061], domains=[".KE", "Gov.Ke.", "*.go.ke"])  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["networks"] == ["2c0f:fe38::/32", "41.90.0.0/16"]
    assert body["asns"] == ["36866", "37061"]
    assert sorted(body["domains"]) == [".ke", "go.ke", "gov.ke"]
    assert body["pending"] == 7 and not any(e["confirmed"] for e in body["entries"])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("networks", "0.0.0.0/0"),
        ("networks", "10.0.0.0/8"),
        ("networks", "41.0.0.0/7"),
        ("networks", "not-a-network"),
        ("asns", "AS-FOO"),
        ("asns", "0"),
        ("domains", "com"),
        ("domains", "exa mple.ke"),
        ("domains", "x" * 300),
    ],
)
def test_a_bad_entry_is_a_422_naming_it(client, ke, field, value):
    r = _put(client, ke, "ke-cirt", "ke-cirt", **{field: [value]})
    assert r.status_code == 422, r.text
    assert r.json()["title"]


def test_only_the_organisation_or_an_admin_declares(client, ke):
    # its coordinator may know it, but may not declare for it; strangers do not learn it exists
    r = _put(client, ke, "cert-a", "ke-cirt", networks=[NET])
    assert r.status_code == 403, r.text
    for who in ("cert-c", "vendor", "outsider"):
        r = _put(client, ke, who, "ke-cirt", networks=[NET])
        unknown = _put(client, ke, who, "no-such-org", networks=[NET])
        assert r.status_code == unknown.status_code == 404, (who, r.text)
        assert r.json()["description"].replace("ke-cirt", "X") == unknown.json()["description"].replace(
            "no-such-org", "X"
        )
    assert _put(client, ke, "admin", "ke-cirt", networks=[NET]).status_code == 200


def test_a_vendor_declaring_a_countrys_networks_matches_nothing_until_confirmed(client, ke, sm):
    r = _put(client, ke, "vendor", "vendor", networks=[NET], domains=["ke"])
    assert r.status_code == 200
    post(client, ke, "cert-b", [ip_indicator("41.90.3.4")])
    body = _inside(client, ke, "vendor")
    assert body["results"] == [] and body["rules"] == 0
    # the vendor cannot confirm its own claim
    r = admin(client, ke, "vendor", "POST", "/organisations/vendor/constituency/confirm")
    assert r.status_code == 403, r.text
    assert _inside(client, ke, "vendor")["results"] == []


def test_a_coordinator_confirms_its_members_only_and_never_itself(client, ke):
    _put(client, ke, "ke-cirt", "ke-cirt", networks=[NET])
    _put(client, ke, "cert-a", "cert-a", networks=["196.200.0.0/16"])
    # cert-c coordinates asia only: ke-cirt (africa) is unknown to it, exactly as an absent slug
    r = admin(client, ke, "cert-c", "POST", "/organisations/ke-cirt/constituency/confirm")
    unknown = admin(client, ke, "cert-c", "POST", "/organisations/nobody/constituency/confirm")
    assert r.status_code == unknown.status_code == 404
    assert admin(client, ke, "cert-c", "GET", "/organisations/ke-cirt/constituency").status_code == 404
    # cert-a coordinates africa but may not confirm its own entries
    assert (
        admin(client, ke, "cert-a", "POST", "/organisations/cert-a/constituency/confirm").status_code == 403
    )
    # a plain member of africa confirms nobody
    r = admin(client, ke, "cert-b", "POST", "/organisations/ke-cirt/constituency/confirm")
    assert r.status_code == 404
    r = admin(client, ke, "cert-a", "POST", "/organisations/ke-cirt/constituency/confirm")
    assert r.status_code == 200 and r.json()["pending"] == 0


def test_a_redeclaration_needs_confirmation_for_the_changed_entries_only(client, ke, sm):
    _put(client, ke, "ke-cirt", "ke-cirt", networks=[NET])
    admin(client, ke, "cert-a", "POST", "/organisations/ke-cirt/constituency/confirm")
    post(client, ke, "cert-b", [ip_indicator("41.90.3.4"), ip_indicator("196.201.1.1")])
    assert {r["value"] for r in _inside(client, ke, "ke-cirt")["results"]} == {"41.90.3.4"}
    body = _put(client, ke, "ke-cirt", "ke-cirt", networks=[NET, "196.201.0.0/16"]).json()
    assert {e["value"]: e["confirmed"] for e in body["entries"]} == {NET: True, "196.201.0.0/16": False}
    assert {r["value"] for r in _inside(client, ke, "ke-cirt")["results"]} == {"41.90.3.4"}
    r = admin(client, ke, "cert-a", "POST", "/organisations/ke-cirt/constituency/confirm",
              json={"entries": ["network:196.201.0.0/16"]})  # fmt: skip
    assert r.status_code == 200 and r.json()["pending"] == 0
    assert {r["value"] for r in _inside(client, ke, "ke-cirt")["results"]} == {"41.90.3.4", "196.201.1.1"}
    # dropping an entry drops its matches
    _put(client, ke, "ke-cirt", "ke-cirt", networks=["196.201.0.0/16"])
    assert {r["value"] for r in _inside(client, ke, "ke-cirt")["results"]} == {"196.201.1.1"}


def test_changes_are_audited(client, ke, sm):
    from sqlalchemy import select

    from hub.store.models import AuditEvent

    _put(client, ke, "ke-cirt", "ke-cirt", networks=[NET])
    admin(client, ke, "cert-a", "POST", "/organisations/ke-cirt/constituency/confirm")
    with sm() as s:
        rows = s.execute(
            select(AuditEvent.action, AuditEvent.after).where(AuditEvent.action.like("constituency.%"))
        ).all()
    assert [a for a, _ in rows] == ["constituency.declare", "constituency.confirm"]
    assert f"network:{NET}" in rows[1][1]


def test_asns_match_the_prefixes_of_the_operators_file(client, ke, sm, tmp_path: Path):
    from hub.db import begin_write
    from hub.trust.constituency import load_asn_data

    ipasn = tmp_path / "ipasn.dat"
    ipasn.write_text("; pyasn IPASN\n41.90.0.0/16\t36866\n105.160.0.0/13\t33771\n")
    delegated = tmp_path / "delegated-afrinic-extended"
    delegated.write_text(
        "2|afrinic|20240101|3|19700101|20240101|+0000\n"
        "afrinic|*|asn|*|1|summary\n"
        "afrinic|KE|asn|37061|1|20060316|allocated|F36B9F4B\n"
        "afrinic|KE|ipv4|196.201.216.0|2048|20060316|allocated|F36B9F4B\n"
        "afrinic|KE|ipv6|2c0f:fe38::|32|20060316|allocated|F36B9F4B\n"
    )
    with sm() as s, s.begin():
        begin_write(s)
        assert load_asn_data(s, [ipasn, delegated]) == 4
    _put(client, ke, "ke-cirt", "ke-cirt", asns=["AS36866", "AS37061"])
    admin(client, ke, "admin", "POST", "/organisations/ke-cirt/constituency/confirm")
    post(
        client,
        ke,
        "cert-b",
        [ip_indicator("41.90.1.1"), ip_indicator("196.201.220.1"), ip_indicator("105.160.0.1")],
    )
    got = {(r["value"], r["rule"]) for r in _inside(client, ke, "ke-cirt")["results"]}
    assert got == {
        ("41.90.1.1", "asn AS36866 (41.90.0.0/16)"),
        ("196.201.220.1", "asn AS37061 (196.201.216.0/21)"),
    }
