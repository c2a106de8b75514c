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

BENIGN = ["8.8.8.8", "1.1.1.1", "127.0.0.1", "192.168.1.1", "10.1.2.3"]
JUNK = [
    "0.0.0.0/0",
    "0.0.0.0/1",
    "not-an-ip; 10.0.0.0/8",
    "1.2.3.4\u2028",
    "1.2.3.4\x0b",
    "1.2.3.4\x85",
    "::/0",
]

v4 = st.integers(min_value=0, max_value=2**32 - 1).map(lambda i: str(ipaddress.IPv4Address(i)))
v4_net = st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)).map(
    lambda t: str(ipaddress.IPv4Network((t[0], t[1]), strict=False))
)
noisy = st.tuples(v4, st.sampled_from(["\u2028", "\u2029", "\x0b", "\x85", "\n", "\r", "\x00"])).map(
    lambda t: t[0][:3] + t[1] + t[0][3:]
)
value = st.one_of(v4, v4_net, noisy, st.sampled_from(BENIGN + JUNK), st.text(max_size=20))
_LIVE: dict[int, set[str]] = {}
entry = st.tuples(value, st.sampled_from(["live", "revoked", "expired"]), st.sampled_from(["clear", "amber"]))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(entry, min_size=1, max_size=12))
def test_every_device_list_line_is_a_fit_value_of_a_live_readable_object(client, sm, world, entries):
    # examples share the test's database (rolled back after the test): what earlier ones stored counts
    readable_live = _LIVE.setdefault(id(world), set())
    objs = []
    for i, (raw, state, tlp) in enumerate(entries):
        literal = raw.replace("\\", "\\\\").replace("'", "\\'")
        extra = {"revoked": True} if state == "revoked" else {}
        if state == "expired":
            extra["valid_until"] = "2024-06-01T00:00:00Z"
        obj = pattern_indicator(
            f"[ipv4-addr:value = '{literal}']", tlp=tlp, seed=f"{i}{raw}{state}{tlp}", **extra
        )
        try:
            check_and_serialise(obj)
        except (InvalidObject, TypeError, ValueError):
            continue  # not storable at all (e.g. a lone surrogate): nothing to list
        objs.append(obj)
        if state == "live" and tlp == "clear":
            readable_live.add(raw.strip())
    _store_without_the_door(sm, world, objs)
    r = client.get(
        f"{BASE}/africa/blocklist.txt?kind=ip", headers={"Authorization": f"Bearer {world.keys['vendor']}"}
    )
    assert r.status_code == 200
    for line in r.text.split("\n")[:-1]:
        v = Value("ip", "ipv4-addr", line)
        assert problem(v) is None, line
        assert normalise("ip", line) == line, line  # canonical
        assert benign_list(v) is None, line
        assert any(normalise("ip", raw) == line for raw in readable_live), line
