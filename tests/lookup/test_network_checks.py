"""A device list's IPv4 networks are checked without `ipaddress` when written canonically: the answers
must be those `ipaddress` gives, whatever the text (a stored value, or one a group's limits now refuse)."""

from __future__ import annotations

import ipaddress

from hypothesis import example, given
from hypothesis import strategies as st

from hub.lookup.benign import BenignIndex
from hub.lookup.values import Limits, Value, _ip_problem, _show, problem

# a few networks and addresses on a benign list: a value may hold one, sit in one, or miss them all
_INDEX = BenignIndex()
_INDEX.add("test list", ["192.0.2.0/24", "198.51.100.7", "10.0.0.0/8", "203.0.113.128/25"])
_INDEX.finish()

_octet = st.one_of(st.integers(0, 255).map(str), st.sampled_from(["00", "01", "256", "010", "1a"]))
_prefix = st.one_of(st.integers(0, 32).map(str), st.sampled_from(["033", "024", "", "-1", "40", "8 "]))
_text = st.builds(lambda a, b, c, d, p: f"{a}.{b}.{c}.{d}/{p}", _octet, _octet, _octet, _octet, _prefix)
_near = st.builds(  # near the listed networks, so that holding and overlapping both happen
    lambda a, c, d, p: f"{a}.{c}.{d}/{p}",
    st.sampled_from(["192.0", "10.0", "203.0", "198.51", "10.200"]),
    st.sampled_from(["2", "0", "113", "100", "255"]),
    st.sampled_from(["0", "7", "128", "200"]),
    st.integers(0, 32),
)


def _slow_listed(value: str) -> str | None:
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None
    return _INDEX._within(
        net.version, net.max_prefixlen, net.prefixlen, int(net.network_address), int(net.broadcast_address)
    )


@given(text=st.one_of(_text, _near), floor=st.integers(0, 40))
@example(text="10.0.0.0/8", floor=12)
@example(text="0.0.0.0/0", floor=12)
@example(text="192.0.2.77/32", floor=12)
def test_canonical_ipv4_networks_are_judged_as_ipaddress_judges_them(text: str, floor: int) -> None:
    v = Value("ip", "ipv4-addr", text)
    limits = Limits(min_prefix_v4=floor)
    assert problem(v, limits) == _ip_problem(v, _show(text), limits)
    assert _INDEX._ip(text) == _slow_listed(text)
