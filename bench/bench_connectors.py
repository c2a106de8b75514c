"""Connector throughput: a CSV blocklist and a 1,000-attribute MISP event (fast path and misp-stix)."""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors import FeedSettings, collect, get_connector

SETTINGS = FeedSettings(
    producer_id="identity--11111111-2222-4333-8444-555555555555",
    producer_name="CERT-BENCH",
    feed_name="bench",
    tlp="green",
)


def urlhaus_csv(rows: int, seed: int = 5) -> bytes:
    """A URLhaus-shaped CSV of `rows` data lines, in memory."""
    rng = random.Random(seed)
    lines = [
        "################################################################",
        "# abuse.ch URLhaus Database Dump (CSV - recent URLs only)      #",
        "#",
        "# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter",
    ]
    for n in range(rows):
        host = f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        if n % 3 == 0:
            host = f"host{n}.example"
        lines.append(
            f'"{3000000 + n}","2024-03-04 09:{n % 60:02d}:{n % 59:02d}",'
            f'"http://{host}:{rng.randrange(80, 9000)}/bins/{n}.sh","online","2024-03-04 10:00:00",'
            '"malware_download","elf,mips,Mozi",'
            f'"https://urlhaus.abuse.ch/url/{3000000 + n}/","reporter{n % 17}"'
        )
    return ("\n".join(lines) + "\n").encode()


def misp_event(attributes: int, seed: int = 7) -> bytes:
    """A MISP event of plain attributes of the fast-path types."""
    rng = random.Random(seed)
    kinds = ["ip-dst", "ip-src", "domain", "hostname", "url", "md5", "sha256", "email-src"]
    attrs = []
    for n in range(attributes):
        kind = kinds[n % len(kinds)]
        value = {
            "ip-dst": f"198.51.{n // 256 % 256}.{n % 256}",
            "ip-src": f"203.0.{n // 256 % 256}.{n % 256}",
            "domain": f"d{n}.evil.example",
            "hostname": f"h{n}.evil.example",
            "url": f"http://u{n}.evil.example/p?q={n}",
            "md5": f"{rng.getrandbits(128):032x}",
            "sha256": f"{rng.getrandbits(256):064x}",
            "email-src": f"s{n}@evil.example",
        }[kind]
        attrs.append(
            {
                "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "type": kind,
                "category": "Network activity",
                "value": value,
                "to_ids": True,
                "distribution": "5",
                "timestamp": "1709539200",
            }
        )
    event = {
        "Event": {
            "uuid": "5f0c1a2b-aaaa-4bbb-8ccc-00000000b001",
            "info": "benchmark event",
            "date": "2024-03-01",
            "timestamp": "1709539300",
            "publish_timestamp": "1709539400",
            "published": True,
            "distribution": "1",
            "Orgc": {"name": "CERT-BENCH", "uuid": "6a1c5b0e-1111-4222-8333-444455556666"},
            "Tag": [{"name": "tlp:green"}],
            "Attribute": attrs,
        }
    }
    return orjson.dumps(event)


def timed(label: str, connector_name: str, raw: bytes, settings: FeedSettings, records: int) -> float:
    connector = get_connector(connector_name, settings)
    start = time.perf_counter()
    objects, summary = collect(connector.normalise(raw))
    elapsed = time.perf_counter() - start
    print(
        f"{label:<44} {elapsed:8.3f} s  {records / elapsed:>10,.0f} records/s  "
        f"({len(objects):,} objects; {summary})"
    )
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000, help="CSV data lines (default 100,000)")
    parser.add_argument("--attributes", type=int, default=1_000, help="MISP attributes (default 1,000)")
    args = parser.parse_args()

    raw_csv = urlhaus_csv(args.rows)
    print(f"CSV blocklist: {args.rows:,} lines, {len(raw_csv) / 1e6:.1f} MB")
    timed("urlhaus-csv, indicators only", "urlhaus-csv", raw_csv, SETTINGS, args.rows)
    timed(
        "urlhaus-csv, with observables",
        "urlhaus-csv",
        raw_csv,
        replace(SETTINGS, with_observables=True),
        args.rows,
    )

    raw_event = misp_event(args.attributes)
    print(f"\nMISP event: {args.attributes:,} plain attributes, {len(raw_event) / 1e3:.0f} kB")
    timed("misp fast path", "misp", raw_event, SETTINGS, args.attributes)
    try:
        timed(
            "misp through misp-stix",
            "misp",
            raw_event,
            replace(SETTINGS, misp_fast_path=False),
            args.attributes,
        )
    except Exception as exc:  # misp-stix is an optional extra
        print(f"misp through misp-stix: not measured ({exc})")


if __name__ == "__main__":
    main()
