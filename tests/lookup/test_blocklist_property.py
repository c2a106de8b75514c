"""Property: a device list line is only ever a canonical, fit, non-benign value of a live indicator or
observable its key may read, whatever was stored (issue 18, "done when")."""

from __future__ import annotations

import ipaddress

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.lookup.benign import benign_list
from hub.lookup.values import Value, normalise, problem
from hub.stix import InvalidObject, check_and_serialise
from tests.lookup.helpers import pattern_indicator
from tests.lookup.test_blocklist_values import BASE, _store_without_the_door

# per kind: the pattern it is written in, known-benign values, and values no device may get
KINDS = {
    "ip": (
        "[ipv4-addr:value = '{}']",
        ["8.8.8.8", "1.1.1.1", "127.0.0.1", "192.168.1.1", "10.1.2.3"],
        [
            "0.0.0.0/0",
            "0.0.0.0/1",
            "not-an-ip; 10.0.0.0/8",
            "1.2.3.4\u2028",
            "1.2.3.4\x0b",
            "1.2.3.4\x85",
            "::/0",
        ],
    ),
    "domain": (
        "[domain-name:value = '{}']",
        ["google.com", "www.microsoft.com", "dns.google"],
        [
            "com",
            "org",
            "co.uk",
            "github.io",
            "evil\u2028.example.net",
            "bad\x0bdomain.net",
            "-.net",
            "a..b.net",
        ],
    ),
    "url": (
        "[url:value = '{}']",
        ["https://www.google.com/search"],
        [
            "javascript:alert(1)",
            "file:///etc/passwd",
            "http://",
            "https://x.example\u2029/a",
            "gopher://h.net/",
        ],
    ),
    "hash": (
        "[file:hashes.MD5 = '{}']",
        ["d41d8cd98f00b204e9800998ecf8427e"],
        [
            "d41d8cd98f00b204e9800998ecf8427",
            "zz1d8cd98f00b204e9800998ecf8427e",
            "d41d8cd98f00b204e980099\n8ecf8427e",
        ],
    ),
}

v4 = st.integers(min_value=0, max_value=2**32 - 1).map(lambda i: str(ipaddress.IPv4Address(i)))
v4_net = st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)).map(
    lambda t: str(ipaddress.IPv4Network((t[0], t[1]), strict=False))
)
label = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
domain = st.tuples(
    st.lists(label, min_size=1, max_size=3), st.sampled_from(["net", "org", "co.uk", "example"])
).map(lambda t: ".".join([*t[0], t[1]]))
url = st.tuples(st.sampled_from(["http", "https", "ftp", "HTTP", "ldap"]), domain, label).map(
    lambda t: f"{t[0]}://{t[1]}/{t[2]}"
)
md5 = st.text("0123456789abcdefABCDEF", min_size=30, max_size=34)
GENERATED = {"ip": st.one_of(v4, v4_net), "domain": domain, "url": url, "hash": md5}
CONTROLS = ["\u2028", "\u2029", "\x0b", "\x85", "\n", "\r", "\x00", "\x1b"]


def _values(kind: str) -> st.SearchStrategy[str]:
    _pattern, benign, junk = KINDS[kind]
    noisy = st.tuples(GENERATED[kind], st.sampled_from(CONTROLS)).map(lambda t: t[0][:3] + t[1] + t[0][3:])
    return st.one_of(GENERATED[kind], noisy, st.sampled_from(benign + junk), st.text(max_size=20))


entry = st.sampled_from(sorted(KINDS)).flatmap(
    lambda kind: st.tuples(
        st.just(kind),
        _values(kind),
        st.sampled_from(["live", "revoked", "expired"]),
        st.sampled_from(["clear", "amber"]),
    )
)
_LIVE: dict[int, dict[str, set[str]]] = {}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(entry, min_size=1, max_size=12))
def test_every_device_list_line_is_a_fit_value_of_a_live_readable_object(client, sm, world, entries):
    # examples share the test's database (rolled back after the test): what earlier ones stored counts
    readable_live = _LIVE.setdefault(id(world), {kind: set() for kind in KINDS})
    objs = []
    for i, (kind, raw, state, tlp) in enumerate(entries):
        literal = raw.replace("\\", "\\\\").replace("'", "\\'")
        extra = {"revoked": True} if state == "revoked" else {}
        if state == "expired":
            extra["valid_until"] = "2024-06-01T00:00:00Z"
        obj = pattern_indicator(
            KINDS[kind][0].format(literal), tlp=tlp, seed=f"{i}{kind}{raw}{state}{tlp}", **extra
        )
        try:
            check_and_serialise(obj)
        except (InvalidObject, TypeError, ValueError):
            continue  # not storable at all (e.g. a lone surrogate): nothing to list
        objs.append(obj)
        if state == "live" and tlp == "clear":
            readable_live[kind].add(raw.strip())
    _store_without_the_door(sm, world, objs)
    for kind in KINDS:
        r = client.get(
            f"{BASE}/africa/blocklist.txt?kind={kind}",
            headers={"Authorization": f"Bearer {world.keys['vendor']}"},
        )
        assert r.status_code == 200
        for line in r.text.split("\n")[:-1]:
            v = Value(kind, KINDS[kind][0][1:].split(":", 1)[0], line, "MD5" if kind == "hash" else None)
            assert problem(v) is None, (kind, line)
            assert normalise(kind, line) == line, (kind, line)  # canonical
            assert benign_list(v) is None, (kind, line)
            assert any(normalise(kind, raw) == line for raw in readable_live[kind]), (kind, line)
