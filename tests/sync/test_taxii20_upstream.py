"""Pulling from a TAXII 2.0 upstream: taxii2-client's 2.0 paging (Range headers), STIX 2.0 upgraded to 2.1.

No TAXII 2.0 server is packaged for Python any more (medallion 3 speaks 2.1 only), so the upstream here
is a small HTTP responder implementing the three TAXII 2.0 exchanges taxii2-client makes: the collection
resource, and Get Objects pages selected by `Range: items a-b` and answered with `Content-Range`.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
import uuid

import pytest
from typer.testing import CliRunner

from hub.cli import app
from tests.conftest import free_port

TAXII20 = "application/vnd.oasis.taxii+json; version=2.0"
STIX20 = "application/vnd.oasis.stix+json; version=2.0"
COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"


def stix20_indicator(n: int) -> dict:
    return {
        "type": "indicator",
        "id": f"indicator--{uuid.uuid5(uuid.NAMESPACE_OID, str(n))}",
        "created": "2017-01-01T00:00:00.000Z",
        "modified": "2017-01-01T00:00:00.000Z",
        "labels": ["malicious-activity"],
        "pattern": f"[ipv4-addr:value = '192.0.2.{n}']",
        "valid_from": "2017-01-01T00:00:00Z",
    }


OBJECTS = [stix20_indicator(n) for n in range(1, 8)]


class Taxii20(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def _send(self, status, ctype, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        base = f"/taxii/collections/{COLLECTION}/"
        path = self.path.split("?")[0]
        if path == base:
            return self._send(
                200,
                TAXII20,
                {
                    "id": COLLECTION,
                    "title": "2.0 feed",
                    "can_read": True,
                    "can_write": False,
                    "media_types": [STIX20],
                },
            )
        if path == base + "objects/":
            m = re.match(r"items[ =](\d+)-(\d+)", self.headers.get("Range", ""))
            first, last = (int(m.group(1)), int(m.group(2))) if m else (0, len(OBJECTS) - 1)
            page = OBJECTS[first : last + 1]
            bundle = {
                "type": "bundle",
                "id": f"bundle--{uuid.uuid4()}",
                "spec_version": "2.0",
                "objects": page,
            }
            rng = f"items {first}-{first + len(page) - 1}/{len(OBJECTS)}"
            return self._send(206 if m else 200, STIX20, bundle, {"Content-Range": rng})
        return self._send(404, TAXII20, {"title": "not found"})


@pytest.fixture
def upstream20():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Taxii20)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/taxii/collections/{COLLECTION}/"
    server.shutdown()
    server.server_close()


def test_pull_from_a_taxii20_collection_upgrades_to_21(sm, world, db_url, monkeypatch, upstream20, client):
    monkeypatch.setenv("HUB_DATABASE_URL", db_url)
    monkeypatch.setattr("hub.cli.make_sessionmaker", lambda _engine: sm)
    r = CliRunner().invoke(
        app,
        [
            "import",
            upstream20,
            "--format",
            "taxii20",
            "--group",
            "africa",
            "--collection",
            "indicators",
            "--as",
            "cert-a",
            "--peer-community",
            "south",
            "--upstream-default-tlp",
            "green",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "stored new: 7" in r.output
    got = client.get(world.objects_url(), headers=world.auth("cert-b")).json()["objects"]
    assert len(got) == 7
    assert all(o["spec_version"] == "2.1" and o["indicator_types"] == ["malicious-activity"] for o in got)
    assert all(o["pattern_type"] == "stix" for o in got)


def test_taxii20_pull_follows_range_pages(upstream20):
    from hub.sync.fetch import taxii_pages

    pages = list(taxii_pages(upstream20, version="2.0", per_request=3))
    assert [len(p.objects) for p in pages] == [3, 3, 1]
    assert [o["id"] for p in pages for o in p.objects] == [o["id"] for o in OBJECTS]


def test_unreachable_taxii20_upstream_is_a_fetch_error():
    from hub.sync.fetch import FetchError, taxii_pages

    with pytest.raises(FetchError, match="ConnectionError"):
        list(taxii_pages(f"http://127.0.0.1:{free_port()}/taxii/collections/x/", version="2.0"))
