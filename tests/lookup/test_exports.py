"""The device formats beside blocklist.txt (issue 24): each checked by its consumer's own parser or tool,
through HTTP with a download key, on both databases."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import dns.rdatatype
import dns.zone
import orjson
import pytest
from idstools import rule as idsrule
from pymisp import MISPEvent
from sqlalchemy import select

from hub.lookup.formats import misp_feed, rpz, suricata, zeek
from hub.store.models import AuditEvent
from hub.trust.models import Account, Organisation
from hub.trust.service import create_api_key
from tests.factories import World
from tests.lookup.helpers import MD5, SHA256, file_sco, pattern_indicator, sco
from tests.lookup.test_blocklist_values import _store_without_the_door
from tests.taxii_helpers import store as post

BASE = "/console/downloads/africa"
SHA1 = "a9993e364706816aba3e25717850c26c9cd0d89d"
URL_ODD = "http://evil.example/a;b\"c|d\\e?q=1&x='y'"
FORMATS = ("suricata.rules", "zeek.intel", "rpz.zone", "misp-feed/manifest.json", "misp-feed/hashes.csv")
NAMED_CHECKZONE = shutil.which("named-checkzone") or "/usr/bin/named-checkzone"


def _h(world: World, org: str = "vendor") -> dict[str, str]:
    return {"Authorization": f"Bearer {world.keys[org]}"}


def _get(client, world: World, path: str, org: str = "vendor", **headers: str):
    r = client.get(f"{BASE}/{path}", headers={**_h(world, org), **headers})
    assert r.status_code == 200, (path, r.status_code, r.text)
    return r


@pytest.fixture
def data(client, sm, world):
    """What the vendor (GREEN) may read, what it may not, and what no device list takes."""
    post(client, world, [
        sco("ipv4-addr", "203.0.113.7", tlp="clear"),
        sco("ipv4-addr", "198.51.100.0/24", tlp="green"),
        sco("ipv6-addr", "2001:db8:0:0:1::/80", tlp="green"),
        pattern_indicator("[ipv6-addr:value = '2001:db8::7']", tlp="green"),
        sco("domain-name", "evil.example", tlp="green"),
        sco("domain-name", "bücher.example", tlp="green"),
        sco("url", URL_ODD, tlp="green"),
        sco("url", "https://phish.example/login", tlp="green"),
        file_sco({"MD5": "0" * 31 + "1", "SHA-1": SHA1, "SHA-256": SHA256}, tlp="green"),
        pattern_indicator(
            "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '192.0.2.44' "
            "AND network-traffic:dst_port = 443]", tlp="green"),
        # above the vendor's clearance
        sco("ipv4-addr", "203.0.113.99", tlp="amber"),
        sco("domain-name", "amber.example", tlp="amber"),
        # revoked and expired: off device lists, said with to_ids in MISP
        pattern_indicator("[domain-name:value = 'revoked.example']", tlp="green", revoked=True),
        pattern_indicator("[ipv4-addr:value = '203.0.113.66']", tlp="green",
                          valid_until="2024-06-01T00:00:00Z"),
        # known-benign: off unless include_flagged=true
        pattern_indicator("[ipv4-addr:value = '8.8.8.8']", tlp="green"),
        file_sco({"MD5": MD5}, tlp="green"),
    ])  # fmt: skip
    _store_without_the_door(sm, world, [
        sco("ipv4-addr", "0.0.0.0/1", tlp="clear"), sco("domain-name", "com", tlp="clear"),
        sco("url", "javascript:alert(1)", tlp="clear"),
        sco("domain-name", "bad\u2028name.example", tlp="clear"),
    ])  # fmt: skip


NEVER = ("203.0.113.99", "amber.example", "8.8.8.8", MD5, "0.0.0.0/1", "javascript", "\u2028", "com CNAME")


# ---------------------------------------------------------------- Suricata


def _rules(text: str) -> list[idsrule.Rule]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        parsed = idsrule.parse(line)
        assert parsed is not None, line
        out.append(parsed)
    return out


def test_suricata_rules_parse_with_stable_sids_in_the_range_and_safe_messages(client, world, data, app):
    text = _get(client, world, "suricata.rules").text
    rules = _rules(text)
    cfg = app.state.settings
    sids = [r.sid for r in rules]
    assert len(set(sids)) == len(sids)
    assert all(cfg.suricata_sid_base <= s < cfg.suricata_sid_base + cfg.suricata_sid_range for s in sids)
    for r in rules:
        assert r.msg.isprintable() and not set(r.msg) & set("\";\\<>|'"), r.msg
        assert r.rev == 1
    by_proto = {}
    for r in rules:
        by_proto.setdefault(r.proto, []).append(r)
    ips = {r.dest_addr for r in by_proto["ip"]}
    want = ("203.0.113.7", "198.51.100.0/24", "2001:db8:0:0:1::/80", "2001:db8::7", "192.0.2.44")
    assert ips == {f"[{v}]" for v in want}
    dns_rule = next(r for r in by_proto["dns"] if "evil.example" in r.raw)
    assert 'dns.query; dotprefix; content:".evil.example"; nocase; endswith;' in dns_rule.raw
    assert any('content:".xn--bcher-kva.example"' in r.raw for r in by_proto["tls"])
    http = next(r for r in by_proto["http"] if "evil.example" in r.raw)
    # quotes, semicolons, pipes and backslashes of the URL are bytes in hex, never rule syntax
    assert "http.uri.raw; content:\"/a|3b|b|22|c|7c|d|5c|e?q=1&x='y'\"; startswith; endswith;" in http.raw
    keywords = sorted(m for r in by_proto["http"] for m in re.findall(r"; (file(?:md5|sha1|sha256)):", r.raw))
    assert keywords == ["filemd5", "filesha1", "filesha256"]
    assert "filemd5:hub-africa-md5.txt;" in text
    for value in NEVER:
        assert value not in text
    assert "revoked.example" not in text and "203.0.113.66" not in text
    # the same state gives the same file; a new value leaves every other rule's SID as it was
    assert _get(client, world, "suricata.rules").text == text
    post(client, world, [sco("ipv4-addr", "203.0.113.8", tlp="green")])
    again = {r.raw for r in _rules(_get(client, world, "suricata.rules").text)}
    assert {r.raw for r in rules} < again


def test_suricata_rules_pass_suricata_check_without_errors(client, world, data):
    import logging

    from suricata_check import analyze_rule
    from suricata_check.utils.rule import parse

    logging.getLogger("suricata_check").setLevel(logging.CRITICAL)  # it logs our metadata keys as unknown
    for line in _get(client, world, "suricata.rules").text.splitlines():
        if line.startswith("#") or re.match(r"alert ip \S+ any -> \[[0-9a-f:]+[:/]", line):
            continue  # suricata-check's header grammar has no IPv6 addresses (idstools parses them above)
        out = analyze_rule(parse(line))  # raises InvalidRuleError for a rule Suricata's syntax refuses
        assert not [i for i in out.issues if i.severity >= logging.ERROR], line
        assert not [i for i in out.issues if i.code == "S301"], line  # SIDs in the local range


def test_sids_take_the_next_free_one_on_collision_and_stop_when_the_range_is_full():
    sids = suricata.Sids(100, 3, "g")
    taken = [sids.take(f"k{i}") for i in range(3)]
    assert sorted(taken) == [100, 101, 102]  # type: ignore[type-var]
    assert sids.take("k3") is None


# ---------------------------------------------------------------- Zeek


def test_zeek_intel_lines_follow_the_framework_columns(client, world, data):
    text = _get(client, world, "zeek.intel").text
    lines = text.split("\n")
    assert lines[0] == "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url"
    assert lines[-1] == ""
    rows = [line.split("\t") for line in lines[1:-1]]
    types = {"Intel::ADDR", "Intel::SUBNET", "Intel::DOMAIN", "Intel::URL", "Intel::FILE_HASH"}
    for row in rows:
        assert len(row) == 5, row
        assert all(cell and cell.isprintable() and cell not in ("(empty)",) for cell in row), row
        assert row[1] in types and row[2] == "hub-africa"
        assert row[4] == "-"  # no HUB_PUBLIC_URL in the tests
    got = {(r[0], r[1]) for r in rows}
    assert ("203.0.113.7", "Intel::ADDR") in got and ("198.51.100.0/24", "Intel::SUBNET") in got
    assert ("evil.example", "Intel::DOMAIN") in got and ("phish.example/login", "Intel::URL") in got
    assert ("evil.example/a;b\"c|d\\x5ce?q=1&x='y'", "Intel::URL") in got  # Zeek reads \x5c back as \
    assert {(SHA1, "Intel::FILE_HASH"), (SHA256, "Intel::FILE_HASH")} <= got
    assert not any(r[0].startswith(("http://", "https://")) for r in rows)
    for value in NEVER:
        assert value not in text


# ---------------------------------------------------------------- RPZ


def _zone(text: str) -> dns.zone.Zone:
    return dns.zone.from_text(text, origin="rpz.hub.test.", relativize=False)


def _serial(text: str) -> int:
    z = _zone(text)
    return int(z.find_rdataset("rpz.hub.test.", dns.rdatatype.SOA)[0].serial)


def test_rpz_zone_loads_in_dnspython_with_domains_and_response_ips(client, world, data):
    text = _get(client, world, "rpz.zone").text
    z = _zone(text)
    names = {n.to_text() for n in z.nodes}
    for name in ("evil.example", "*.evil.example", "xn--bcher-kva.example", "32.7.113.0.203.rpz-ip",
                 "24.0.100.51.198.rpz-ip", "128.7.zz.db8.2001.rpz-ip", "80.zz.1.0.0.db8.2001.rpz-ip",
                 "32.44.2.0.192.rpz-ip"):  # fmt: skip
        assert f"{name}.rpz.hub.test." in names, name
        rr = z.find_rdataset(f"{name}.rpz.hub.test.", dns.rdatatype.CNAME)
        assert rr[0].target.to_text() == "."
    assert not any("phish" in n for n in names)  # URLs have no place in a zone
    for value in ("99.113.0.203", "amber.example", "8.8.8.8", "revoked.example", "66.113.0.203", "com.rpz"):
        assert value not in text


@pytest.mark.skipif(
    not Path(NAMED_CHECKZONE).exists(),
    reason="named-checkzone is absent (./dev test installs Debian's bind9-utils when run as root)",
)
def test_rpz_zone_passes_named_checkzone(client, world, data, tmp_path):
    path = tmp_path / "rpz.zone"
    path.write_bytes(_get(client, world, "rpz.zone").content)
    out = subprocess.run([NAMED_CHECKZONE, "-k", "fail", "-n", "fail", "rpz.hub.test", str(path)],
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "OK" in out.stdout


def test_rpz_serial_changes_only_when_the_records_do(client, world, data):
    first = _get(client, world, "rpz.zone").text
    serial = _serial(first)
    # a new object whose value is already in the zone, and one with no zone value: the same records
    post(client, world, [pattern_indicator("[domain-name:value = 'evil.example']", tlp="green"),
                         file_sco({"SHA-256": "1" * 64}, tlp="green")])  # fmt: skip
    second = _get(client, world, "rpz.zone").text
    assert second == first and _serial(second) == serial
    post(client, world, [sco("domain-name", "new.example", tlp="green")])
    third = _get(client, world, "rpz.zone").text
    assert _serial(third) > serial and "new.example CNAME ." in third
    assert _serial(_get(client, world, "rpz.zone").text) == _serial(third)


def test_rpz_ip_names_follow_the_draft():
    assert rpz.rpz_ip("192.0.2.1") == "32.1.2.0.192.rpz-ip"
    assert rpz.rpz_ip("2001:db8::/48") == "48.zz.db8.2001.rpz-ip"
    assert rpz.rpz_ip("2001:db8:0:0:1:0:0:1") == "128.1.0.0.1.zz.db8.2001.rpz-ip"
    assert rpz.rpz_ip("::1") == "128.1.zz.rpz-ip"


def test_rpz_origin_and_apex_come_from_the_settings(sm, world, data, settings):
    from fastapi.testclient import TestClient

    from hub.app import create_app

    apex = {"rpz_origin": "rpz.cirt.example.", "rpz_nameserver": "ns1.cirt.example.",
            "rpz_hostmaster": "dns.cirt.example.", "rpz_ttl": 60}  # fmt: skip
    cfg = settings.model_copy(update=apex)
    with TestClient(create_app(cfg, sessionmaker=sm), base_url="http://hub.test") as c:
        text = c.get(f"{BASE}/rpz.zone", headers=_h(world)).text
    assert "$ORIGIN rpz.cirt.example.\n$TTL 60\n@ SOA ns1.cirt.example. dns.cirt.example. " in text
    z = dns.zone.from_text(text, origin="rpz.cirt.example.", relativize=False)
    assert z.find_rdataset("evil.example.rpz.cirt.example.", dns.rdatatype.CNAME)


# ---------------------------------------------------------------- MISP feed


def _feed(client, world: World, query: str = "", org: str = "vendor") -> tuple[dict, dict[str, dict], str]:
    manifest = _get(client, world, f"misp-feed/manifest.json{query}", org).json()
    events = {}
    for eid in manifest:
        events[eid] = _get(client, world, f"misp-feed/{eid}.json{query}", org).json()
    hashes = _get(client, world, f"misp-feed/hashes.csv{query}", org).text
    return manifest, events, hashes


def test_misp_feed_loads_in_pymisp_and_matches_its_manifest_and_hashes(client, world, data):
    manifest, events, hashes = _feed(client, world)
    assert manifest
    attrs = {}
    lines = set(hashes.splitlines())
    for eid, raw in events.items():
        ev = MISPEvent()
        ev.load(raw)
        assert ev.uuid == eid
        theirs = ev.manifest[eid]
        assert [(t["name"], t["colour"]) for t in theirs.pop("Tag")] == [
            (t["name"], t["colour"]) for t in manifest[eid]["Tag"]]  # fmt: skip
        assert theirs == {k: v for k, v in manifest[eid].items() if k != "Tag"}
        assert ev.Orgc.name == "CERT-A" and ev.Orgc.uuid
        assert [t.name for t in ev.tags] == [manifest[eid]["Tag"][0]["name"]]
        for a in ev.attributes:
            attrs[a.value] = a
            assert a.tags[0].name in ("tlp:clear", "tlp:green")
            # MISP's own rule: only a composite type's value is hashed part by part
            for digest in a.hash_values("md5"):
                assert f"{digest},{eid}" in lines
    assert attrs["203.0.113.7"].type == "ip-dst" and attrs["203.0.113.7"].to_ids is True
    assert attrs["203.0.113.7"].tags[0].name == "tlp:clear"
    assert attrs["192.0.2.44|443"].type == "ip-dst|port"
    assert attrs[SHA1].type == "sha1" and attrs[SHA256].type == "sha256"
    assert attrs[URL_ODD].type == "url"
    assert attrs["revoked.example"].to_ids is False and attrs["revoked.example"].deleted is True
    assert attrs["203.0.113.66"].to_ids is False and attrs["203.0.113.66"].deleted is False
    for value in ("203.0.113.99", "amber.example", "8.8.8.8", MD5, "0.0.0.0/1", "com", "javascript:alert(1)"):
        assert value not in attrs
    text = repr(events) + repr(manifest) + hashes
    assert "amber.example" not in text and "203.0.113.99" not in text
    assert len(lines) == sum(len(a.hash_values("md5")) for a in attrs.values())
    # URL_ODD holds a '|': hashed whole, never as parts (which MISP would never look up)
    odd = [hashlib.md5(p.encode()).hexdigest() for p in URL_ODD.split("|")]  # noqa: S324
    assert not any(line.startswith(d) for d in odd for line in lines)


def test_misp_hashes_of_a_url_ending_in_a_pipe_hold_no_empty_part(client, world):
    """A URL whose '|' leaves an empty part put the MD5 of nothing (the empty file's known-benign hash)
    in hashes.csv; the URL is listed by its whole value."""
    url = "http://pipe.example/a|"
    post(client, world, [sco("url", url, tlp="green")])
    _, events, hashes = _feed(client, world)
    assert url in repr(events)
    whole = hashlib.md5(url.encode()).hexdigest()  # noqa: S324
    assert any(line.startswith(whole + ",") for line in hashes.splitlines())
    assert MD5 not in hashes and hashlib.md5(b"").hexdigest() == MD5  # noqa: S324


def test_misp_event_uuids_are_stable_and_a_new_version_updates_the_same_attribute(client, world, data):
    manifest, _events, _ = _feed(client, world)
    ind = pattern_indicator("[domain-name:value = 'moving.example']", tlp="green", seed="moving")
    post(client, world, [ind])
    m2, e2, _ = _feed(client, world)
    eid = next(
        e for e, ev in e2.items() if "moving.example" in {a["value"] for a in ev["Event"]["Attribute"]}
    )
    attr = next(a for a in e2[eid]["Event"]["Attribute"] if a["value"] == "moving.example")
    assert set(manifest) <= set(m2)
    revoked = pattern_indicator("[domain-name:value = 'moving.example']", tlp="green", seed="moving",
                                modified="2024-02-01T00:00:00.000Z", revoked=True)  # fmt: skip
    post(client, world, [revoked])
    m3, e3, _ = _feed(client, world)
    after = next(a for a in e3[eid]["Event"]["Attribute"] if a["value"] == "moving.example")
    assert after["uuid"] == attr["uuid"] and after["to_ids"] is False and after["deleted"] is True
    assert int(after["timestamp"]) >= int(attr["timestamp"])
    assert m3[eid]["timestamp"] >= m2[eid]["timestamp"]
    assert misp_feed.day_of(eid) == 19723  # 2024-01-01, the indicator's created day


def test_misp_feed_per_collection_and_unknown_events(client, world, data):
    whole, _, _ = _feed(client, world)
    manifest, _, _ = _feed(client, world, "?collection=indicators")
    assert manifest == whole  # the vendor reads one collection of africa
    # MISP appends the file names to the feed URL: the collection goes in the path
    in_path = _get(client, world, "misp-feed/indicators/manifest.json").json()
    assert in_path == manifest
    for eid in in_path:
        assert _get(client, world, f"misp-feed/indicators/{eid}.json").json()["Event"]["uuid"] == eid
    assert _get(client, world, "misp-feed/indicators/hashes.csv").text
    assert client.get(f"{BASE}/misp-feed/a-to-b/manifest.json", headers=_h(world)).status_code == 404
    both = client.get(f"{BASE}/misp-feed/indicators/manifest.json?collection=indicators", headers=_h(world))
    assert both.status_code == 400
    r = client.get(f"{BASE}/misp-feed/{uuid.uuid4()}.json", headers=_h(world))
    assert r.status_code == 404
    r = client.get(f"{BASE}/misp-feed/not-a-uuid.json", headers=_h(world))
    assert r.status_code == 404
    # an event of the group the caller may not read is absent too
    r = client.get(f"{BASE}/misp-feed/{next(iter(manifest))}.json", headers=_h(world, "outsider"))
    assert r.status_code == 404


def test_misp_tlp_tags_use_the_taxonomy_spelling():
    from hub.policy.tlp import Tlp

    assert [misp_feed.tag(t)["name"] for t in Tlp] == [
        "tlp:clear", "tlp:green", "tlp:amber", "tlp:amber+strict", "tlp:red"]  # fmt: skip


# ---------------------------------------------------------------- the door of every format


@pytest.mark.parametrize("path", FORMATS)
def test_every_format_answers_304_to_its_etag(client, world, data, path):
    for _ in range(2):  # the ETag holds for the hour (values expire with time): once more across its end
        hour = time.time() // 3600
        etag = _get(client, world, path).headers["etag"]
        again = client.get(f"{BASE}/{path}", headers={**_h(world), "If-None-Match": etag})
        if time.time() // 3600 == hour:
            break
    assert again.status_code == 304 and again.content == b""
    post(client, world, [sco("ipv4-addr", "203.0.113.31", tlp="green")])
    changed = client.get(f"{BASE}/{path}", headers={**_h(world), "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


@pytest.mark.parametrize("path", FORMATS)
def test_every_format_needs_the_download_scope_and_hides_the_group_from_outsiders(client, sm, world, path):
    with sm() as s, s.begin():
        org = s.scalar(select(Organisation).where(Organisation.slug == "vendor"))
        account = s.scalar(select(Account).where(Account.organisation_id == org.id))
        _row, secret = create_api_key(s, account=account, scopes=frozenset({"read"}))
    r = client.get(f"{BASE}/{path}", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 403
    outsider = client.get(f"{BASE}/{path}", headers=_h(world, "outsider"))
    absent = client.get(f"/console/downloads/no-such-group/{path}", headers=_h(world, "outsider"))
    assert outsider.status_code == absent.status_code == 404
    assert client.get(f"{BASE}/{path}").status_code == 401


@pytest.mark.parametrize(
    ("path", "query", "message"),
    [
        ("rpz.zone", "added_after=2024-01-01T00:00:00Z", "Unknown parameter 'added_after'"),
        ("rpz.zone", "kind=url", "kind=ip or kind=domain"),
        ("misp-feed/manifest.json", "valid=false", "Unknown parameter 'valid'"),
        ("suricata.rules", "tlp_max=purple", "unknown TLP level"),
        ("zeek.intel", "kind=nope", "kind must be one of"),
    ],
)
def test_bad_parameters_are_a_clear_400(client, world, data, path, query, message):
    r = client.get(f"{BASE}/{path}?{query}", headers=_h(world))
    assert r.status_code == 400, r.text
    assert message in r.json()["description"]


def test_tlp_max_and_include_flagged_apply_to_every_format(client, world, data):
    for path in ("suricata.rules", "zeek.intel", "rpz.zone"):
        assert "203.0.113.7" in _get(client, world, f"{path}?tlp_max=clear").text.replace(
            "32.7.113.0.203.rpz-ip", "203.0.113.7")  # fmt: skip
        assert "198.51.100" not in _get(client, world, f"{path}?tlp_max=clear").text
        assert "evil.example" not in _get(client, world, f"{path}?tlp_max=clear").text
        flagged = _get(client, world, f"{path}?include_flagged=true").text
        assert "8.8.8.8" in flagged or "32.8.8.8.8.rpz-ip" in flagged
    manifest = _get(client, world, "misp-feed/manifest.json?tlp_max=clear").json()
    assert {m["Tag"][0]["name"] for m in manifest.values()} == {"tlp:clear"}


def test_every_format_is_audited(client, world, data, sm):
    for path in (*FORMATS,):
        _get(client, world, path)
    with sm() as s:
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.action.like("download-%"))))
    actions = {e.action for e in events}
    assert {"download-suricata", "download-zeek", "download-rpz", "download-misp"} <= actions
    assert all(e.collection_id == world.collections["africa/indicators"] for e in events)


def test_zeek_and_suricata_format_helpers():
    assert zeek.field("-") == "(unnamed)" and zeek.field("a\tb") == "a b"
    assert suricata.content('a"b;c') == "a|22|b|3b|c"


def test_zeek_meta_url_points_at_the_object_page_when_the_public_url_is_set(sm, world, data, settings):
    from fastapi.testclient import TestClient

    from hub.app import create_app

    cfg = settings.model_copy(update={"public_url": "https://hub.example"})
    with TestClient(create_app(cfg, sessionmaker=sm), base_url="https://hub.example") as c:
        text = c.get(f"{BASE}/zeek.intel", headers=_h(world)).text
    row = next(line.split("\t") for line in text.splitlines() if line.startswith("evil.example\t"))
    assert re.fullmatch(r"https://hub\.example/console/objects/domain-name--[0-9a-f-]{36}", row[4])


def test_misp_feedback_hook_puts_sightings_on_attributes(sm, world, data):
    from hub.lookup import downloads
    from hub.lookup.downloads import DownloadFilters
    from tests.lookup.helpers import principal_of

    who = principal_of(sm, world, "vendor")
    calls = []

    def feedback(row, value):
        calls.append(value.value)
        return (
            [{"type": "1", "date_sighting": "1700000000", "source": "hub"}]
            if value.value == "evil.example"
            else None
        )

    with sm() as s:
        accs = downloads.scope(s, who, "africa")
        f = DownloadFilters()
        manifest = orjson.loads(b"".join(misp_feed.manifest(s, who, accs, f, group_name="Africa", now_us=0)))
        attrs = []
        for eid in manifest:
            body = b"".join(misp_feed.event(s, who, accs, f, event_id=eid, group_name="Africa", now_us=0,
                                            feedback=feedback))  # fmt: skip
            ev = MISPEvent()
            ev.load(body.decode())
            attrs += ev.attributes
    sighted = {a.value: a for a in attrs if a.get("Sighting")}
    assert list(sighted) == ["evil.example"] and "evil.example" in calls


def test_url_parts_are_what_goes_on_the_wire():
    from hub.lookup.formats.common import url_parts

    assert url_parts("http://h.example:81?q=1#frag") == ("h.example:81", "/?q=1")
    assert url_parts("https://u:p@h.example/a/b#x") == ("h.example", "/a/b")
    assert url_parts("http://h.example") == ("h.example", "")


@pytest.mark.parametrize(
    "bad",
    [
        {"rpz_origin": "rpz.hub.example"},  # not absolute
        {"rpz_nameserver": "ns 1.example."},
        {"rpz_hostmaster": "a;b.example."},
        {"suricata_sid_base": 4_000_000_000, "suricata_sid_range": 1_000_000_000},
        {"suricata_sid_range": 10},
    ],
)
def test_export_settings_refuse_what_a_consumer_would(bad):
    from pydantic import ValidationError

    from hub.settings import Settings

    with pytest.raises(ValidationError):
        Settings(**bad)
