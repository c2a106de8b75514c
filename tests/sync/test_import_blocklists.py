"""`hub import` of C2 lists, then the device download: what a feed's rows put on members' firewalls."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hub.lookup.search import search
from tests.lookup.helpers import principal_of

FEODO = Path(__file__).parents[1] / "connectors" / "fixtures" / "feodo_ipblocklist.csv"


def _get(client, world, path: str, org: str = "vendor") -> str:
    r = client.get(
        f"/console/downloads/africa/{path}", headers={"Authorization": f"Bearer {world.keys[org]}"}
    )
    assert r.status_code == 200, r.text
    return r.text


def test_observation_4_feodo_addresses_reach_the_ip_blocklist_search_and_csv_ports(cli, client, sm, world):
    r = cli("import", str(FEODO), "--format", "feodo-csv", "--group", "africa", "--collection", "indicators",
            "--as", "cert-b", "--tlp", "clear")  # fmt: skip
    assert r.exit_code == 0, r.output
    lines = _get(client, world, "blocklist.txt?kind=ip").splitlines()
    assert {"192.0.2.10", "198.51.100.23", "2001:db8::dead:beef"} <= set(lines)
    assert len(lines) == len(set(lines))
    rows = list(csv.DictReader(io.StringIO(_get(client, world, "blocklist.csv?kind=ip"))))
    ports = {(row["value"], row["port"]) for row in rows}
    assert ("192.0.2.10", "443") in ports and ("198.51.100.23", "8080") in ports
    with sm() as s:
        found = search(s, principal_of(sm, world, "vendor"), "198.51.100.23")
    assert [h.matched for h in found.hits] == ["198.51.100.23"] and found.hits[0].in_pattern
