"""Device lists carry only values fit for a firewall: checked at the door and again on the way out."""

from __future__ import annotations

import pytest

from hub.ingest import Candidate, Prepared, Submission, add_prepared, now_us
from hub.lookup.values import Value, door_problem, problem
from hub.stix import check_and_serialise
from tests.factories import World
from tests.lookup.helpers import MD5, file_sco, pattern_indicator, sco
from tests.taxii_helpers import post_ok, store

BASE = "/console/downloads"

# issue 18, observation 1: what ke-cirt stored, and every member's firewall then blocked
BAD_IPS = ["0.0.0.0/0", "0.0.0.0/1", "not-an-ip; 10.0.0.0/8", "10.0.0.0/8"]
BAD_DOMAINS = ["com", "org", "co.uk", "evil\u2028.example", "evil.example\x0b", "evil.example\x85"]
BAD_URLS = ["javascript:alert(1)", "file:///etc/passwd", "http://evil.example/\x0bx"]


def _download(client, world: World, kind: str, org: str = "vendor") -> list[str]:
    r = client.get(
        f"{BASE}/africa/blocklist.txt?kind={kind}", headers={"Authorization": f"Bearer {world.keys[org]}"}
    )
    assert r.status_code == 200, r.text
    return r.text.split("\n")[:-1] if r.text else []


def test_observation_1_bad_values_are_refused_at_the_door_and_the_rest_is_kept(client, world):
    bad = (
        [sco("ipv4-addr", v, tlp="clear") for v in BAD_IPS]
        + [sco("ipv6-addr", "::/0", tlp="clear")]
        + [sco("domain-name", v, tlp="clear") for v in BAD_DOMAINS]
        + [sco("url", v, tlp="clear") for v in BAD_URLS]
        + [pattern_indicator(f"[ipv4-addr:value = '{v}']", tlp="clear") for v in BAD_IPS]
        + [pattern_indicator("[domain-name:value = 'com']", tlp="clear")]
        + [pattern_indicator("[url:value = 'javascript:alert(1)']", tlp="clear")]
        + [file_sco({"MD5": "abc"}, tlp="clear")]
    )
    good = [
        sco("ipv4-addr", "203.0.113.9", tlp="clear"),
        sco("ipv4-addr", "198.51.100.0/24", tlp="clear"),
        sco("domain-name", "evil.example", tlp="clear"),
        sco("url", "http://evil.example/a", tlp="clear"),
        pattern_indicator("[ipv6-addr:value = '2001:db8::/48']", tlp="clear"),
    ]
    status = post_ok(client, world, bad + good)
    assert status["success_count"] == len(good) and status["failure_count"] == len(bad)
    reasons = {f["id"]: f["message"] for f in status["failures"]}
    assert all(m.startswith("value refused: ") for m in reasons.values())
    assert "broader than /12" in reasons[bad[0]["id"]]
    assert "public suffix" in reasons[sco("domain-name", "co.uk")["id"]]
    assert "control character" in reasons[sco("domain-name", "evil.example\x0b")["id"]]
    assert "http, https or ftp" in reasons[sco("url", "file:///etc/passwd")["id"]]
    assert sorted(_download(client, world, "ip")) == ["198.51.100.0/24", "2001:db8::/48", "203.0.113.9"]
    assert _download(client, world, "domain") == ["evil.example"]
    assert _download(client, world, "url") == ["http://evil.example/a"]
    assert _download(client, world, "hash") == []


def _store_without_the_door(sm, world: World, objs: list[dict]) -> None:
    """Store objects as an older hub did, before values were checked at the door."""
    from hub.trust.access import collection_policy
    from hub.trust.models import Collection, Organisation, TrustGroup

    prepared = Prepared(started=now_us())
    for obj in objs:
        prepared.candidates.append(Candidate(obj, *check_and_serialise(obj)))
    with sm() as s, s.begin():
        from hub.db import begin_write
        from hub.policy.rules import Submitter

        begin_write(s)
        coll = s.get(Collection, world.collections["africa/indicators"])
        group = s.get(TrustGroup, coll.group_id)
        org = s.query(Organisation).filter_by(slug="cert-a").one()
        sub = Submission(
            collection=collection_policy(coll, group, frozenset()),
            submitter=Submitter(org_id=org.id, role="contributor", identity_id=org.identity_id),
            group_id=group.id,
        )
        out = add_prepared(s, submission=sub, prepared=prepared)
        assert not out.failures, out.failures


def test_values_stored_before_the_checks_stay_off_device_lists(client, sm, world):
    _store_without_the_door(
        sm,
        world,
        [sco("ipv4-addr", "0.0.0.0/0", tlp="clear"), sco("domain-name", "com", tlp="clear"),
         sco("domain-name", "evil.example\u2028", tlp="clear"), sco("url", "file:///etc/passwd", tlp="clear"),
         file_sco({"SHA-256": "0" * 63}, tlp="clear"), sco("ipv4-addr", "203.0.113.10", tlp="clear")],
    )  # fmt: skip
    # a pattern of several comparisons passes the door; its bad side never reaches a list
    store(client, world, [pattern_indicator(
        "[ipv4-addr:value = '0.0.0.0/1'] OR [ipv4-addr:value = '203.0.113.11']", tlp="clear")])  # fmt: skip
    assert sorted(_download(client, world, "ip")) == ["203.0.113.10", "203.0.113.11"]
    assert _download(client, world, "domain") == []
    assert _download(client, world, "url") == []
    assert _download(client, world, "hash") == []
    r = client.get(
        f"{BASE}/africa/blocklist.csv", headers={"Authorization": f"Bearer {world.keys['vendor']}"}
    )
    assert "0.0.0.0/0" not in r.text and "file:" not in r.text and "\u2028" not in r.text


def test_policy_explain_says_why_a_value_is_not_on_device_lists(client, world):
    ind = pattern_indicator("[ipv4-addr:value = '0.0.0.0/1'] OR [domain-name:value = 'evil.example']")
    store(client, world, [ind])
    r = client.get(
        "/admin/api/groups/africa/policy/explain",
        params={"object": ind["id"], "reader": "vendor"},
        headers=world.auth("cert-a"),
    )
    assert r.status_code == 200, r.text
    text = r.json()["answers"][0]["text"]
    assert "'0.0.0.0/1' is not on any device list" in text and "broader than /12" in text
    assert "'evil.example' goes on the domain device list" in text
    anded = pattern_indicator("[ipv4-addr:value = '203.0.113.5' AND ipv4-addr:value = '203.0.113.6']")
    store(client, world, [anded])
    r = client.get(
        "/admin/api/groups/africa/policy/explain",
        params={"object": anded["id"], "reader": "vendor"},
        headers=world.auth("cert-a"),
    )
    assert "none of its values goes on a device list" in r.json()["answers"][0]["text"]


@pytest.mark.parametrize(
    ("kind", "stype", "value", "algorithm"),
    [
        ("ip", "ipv4-addr", "203.0.113.1", None),
        ("ip", "ipv4-addr", "223.166.0.0/15", None),
        ("ip", "ipv6-addr", "2001:db8::/32", None),
        ("domain", "domain-name", "xn--e1afmkfd.xn--p1ai", None),
        ("domain", "domain-name", "пример.рф", None),
        ("domain", "domain-name", "_dmarc.evil.example", None),
        ("url", "url", "ftp://evil.example/x", None),
        ("hash", "file", MD5, "MD5"),
    ],
)
def test_valid_values_pass(kind, stype, value, algorithm):
    assert problem(Value(kind, stype, value, algorithm)) is None


@pytest.mark.parametrize(
    ("kind", "stype", "value", "algorithm", "why"),
    [
        ("ip", "ipv4-addr", "10.0.0.0/11", None, "broader than /12"),
        ("ip", "ipv4-addr", "2001:db8::1", None, "not an IPv4"),
        ("ip", "ipv6-addr", "2001:db8::/31", None, "broader than /32"),
        ("ip", "ipv6-addr", "fe80::1%eth0", None, "not an IPv6"),
        ("domain", "domain-name", "github.io", None, "public suffix"),
        ("domain", "domain-name", "evil..example", None, "not a valid domain"),
        ("domain", "domain-name", "*.evil.example", None, "not a valid domain"),
        ("url", "url", "http:///path", None, "with a host"),
        ("url", "url", "data:text/html,x", None, "http, https or ftp"),
        ("hash", "file", MD5 + "0", "MD5", "32 hexadecimal"),
        ("hash", "file", "g" * 64, "SHA-256", "64 hexadecimal"),
        ("email", "email-addr", "a@b.example\r\nBcc: x", None, "control character"),
    ],
)
def test_unfit_values_are_named(kind, stype, value, algorithm, why):
    reason = problem(Value(kind, stype, value, algorithm))
    assert reason is not None and why in reason


def test_door_judges_one_comparison_patterns_only():
    assert door_problem(pattern_indicator("[ipv4-addr:value = '0.0.0.0/0']")) is not None
    assert (
        door_problem(pattern_indicator("[domain-name:value = 'com'] OR [domain-name:value = 'a.example']"))
        is None
    )
    assert door_problem({"type": "note", "content": "0.0.0.0/0"}) is None
    feodo = (
        "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '{}'"
        " AND network-traffic:dst_port = 443]"
    )
    assert "broader than /12" in (door_problem(pattern_indicator(feodo.format("0.0.0.0/0"))) or "")
    assert door_problem(pattern_indicator(feodo.format("192.0.2.1"))) is None


def test_observation_3_device_downloads_leave_out_revoked_and_expired_by_default(client, world):
    past = "2024-06-01T00:00:00Z"
    store(client, world, [
        pattern_indicator("[ipv4-addr:value = '203.0.113.20']", tlp="clear"),
        pattern_indicator("[ipv4-addr:value = '203.0.113.21']", tlp="clear", revoked=True),
        pattern_indicator("[ipv4-addr:value = '203.0.113.22']", tlp="clear", valid_until=past),
    ])  # fmt: skip
    assert _download(client, world, "ip") == ["203.0.113.20"]
    r = client.get(
        f"{BASE}/africa/blocklist.csv?kind=ip", headers={"Authorization": f"Bearer {world.keys['vendor']}"}
    )
    assert "203.0.113.21" not in r.text and "203.0.113.22" not in r.text
    r = client.get(
        f"{BASE}/africa/blocklist.txt?kind=ip&valid=false",
        headers={"Authorization": f"Bearer {world.keys['vendor']}"},
    )
    assert sorted(r.text.splitlines()) == ["203.0.113.20", "203.0.113.21", "203.0.113.22"]


def test_observation_2_known_benign_values_are_stored_but_left_off_device_lists(client, world):
    benign = {
        "ip": ["8.8.8.8", "1.1.1.1", "127.0.0.1", "192.168.1.1"],
        "domain": ["google.com", "www.microsoft.com"],
        "hash": [MD5],
    }
    objs = [pattern_indicator(f"[ipv4-addr:value = '{v}']", tlp="clear") for v in benign["ip"]]
    objs += [pattern_indicator(f"[domain-name:value = '{v}']", tlp="clear") for v in benign["domain"]]
    objs += [pattern_indicator(f"[file:hashes.MD5 = '{MD5}']", tlp="clear")]
    objs += [pattern_indicator("[url:value = 'https://docs.google.com/evil']", tlp="clear")]
    objs += [pattern_indicator("[ipv4-addr:value = '203.0.113.60']", tlp="clear")]
    status = store(client, world, objs)  # flagged, not refused: every object is stored
    assert status["success_count"] == len(objs)
    assert _download(client, world, "ip") == ["203.0.113.60"]
    assert _download(client, world, "domain") == [] and _download(client, world, "hash") == []
    assert _download(client, world, "url") == []
    auth = {"Authorization": f"Bearer {world.keys['vendor']}"}
    r = client.get(f"{BASE}/africa/blocklist.txt?kind=ip&include_flagged=true", headers=auth)
    assert sorted(r.text.splitlines()) == sorted([*benign["ip"], "203.0.113.60"])
    r = client.get(
        "/admin/api/groups/africa/policy/explain",
        params={"object": objs[0]["id"], "reader": "vendor"},
        headers=world.auth("cert-a"),
    )
    assert "known-benign list 'MISP warninglist public-dns-v4'" in r.json()["answers"][0]["text"]


def test_public_suffix_shortcut_agrees_with_the_list_on_every_name_it_could_matter_for():
    """`is_public_suffix` asks the Public Suffix List only for names near one of its rules; for every
    name a rule names or implies (each rule, its ancestors, children and grandchildren of each, with the
    wildcard and exception forms) it answers exactly as the list does, and the shortcut is taken."""
    from hub.lookup.values import _public_suffixes, _suffix_names, is_public_suffix

    psl = _public_suffixes()
    known = _suffix_names()
    assert known is not None, "publicsuffixlist's rules moved: every name would be asked of the list"
    names: set[str] = set()
    for rule in psl._publicsuffix:
        base = rule.lstrip("!").removeprefix("*.")
        labels = base.split(".")
        for i in range(len(labels)):
            names.add(".".join(labels[i:]))
        names.update({f"x.{base}", f"y.x.{base}", f"city.{base}", f"www.city.{base}"})
    names = {n for n in names if "." in n and n.isascii()}
    assert len(names) > 10_000
    differ = [n for n in names if is_public_suffix(n) != psl.is_public(n)]
    assert differ == []
    # the ones asked of the list are few; an ordinary name is answered without it
    assert not is_public_suffix("evil-corp-login.com") and is_public_suffix("co.uk")
    assert is_public_suffix("kobe.jp") and not is_public_suffix("city.kobe.jp")


def test_a_domain_name_is_judged_as_its_labels_are():
    """The whole-name pattern refuses exactly what the per-label check refused."""
    from hypothesis import given
    from hypothesis import strategies as st

    from hub.lookup.values import _ASCII_NAME
    from hub.vocab.values import _ASCII_LABEL

    label = st.text(alphabet="abz09-_.A", min_size=0, max_size=70)

    @given(st.lists(label, min_size=1, max_size=4).map(".".join))
    def check(name: str) -> None:
        per_label = all(_ASCII_LABEL.match(x) for x in name.split("."))
        assert bool(_ASCII_NAME.match(name)) == per_label

    check()


def test_a_benign_list_holds_a_name_or_a_parent_with_two_labels_or_more():
    """BenignIndex matches a host when the list holds it or any of its parents of two labels or more
    (never a bare TLD, never a one-label host), whatever dots the text holds."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from hub.lookup.benign import BenignIndex

    held = {"a.b": "L1", "b": "tld", "x.a.b": "L3", "": "empty", ".b": "dot-b", "c.": "c-dot", "a..b": "DD"}
    index = BenignIndex()
    index.hosts = held

    def expected(host: str) -> str | None:
        labels = host.split(".")
        for i in range(len(labels) - 1):  # the host, then each parent keeping two labels or more
            hit = held.get(".".join(labels[i:]))
            if hit is not None:
                return hit
        return None

    @settings(max_examples=3000)
    @given(st.text(alphabet="abcx.", max_size=8))
    def check(host: str) -> None:
        assert index._host(host) == expected(host)

    check()
    assert index._host("x.a.b") == "L3" and index._host("y.a.b") == "L1" and index._host("b") is None
