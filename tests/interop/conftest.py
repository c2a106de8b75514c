"""Real TAXII clients and a real peer over loopback: taxii2-client connections to the live hub, medallion."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from taxii2client.v21 import ApiRoot, Collection, Server

from tests.conftest import free_port
from tests.factories import TAXII

STIX = "application/stix+json;version=2.1"


class BearerAuth(requests.auth.AuthBase):
    """`Authorization: Bearer <key>` on every request (taxii2-client takes any requests auth object)."""

    def __init__(self, key: str):
        self.key = key

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.key}"
        return r


def hub_server(world: Any, org: str, *, bearer: bool = False) -> Server:
    """A taxii2-client Server on the hub's discovery URL, as `org` (Basic by default, any user name)."""
    url = world.base + "/taxii2/"
    if bearer:
        return Server(url, auth=BearerAuth(world.keys[org]))
    return Server(url, user=f"{org}-client", password=world.keys[org])


def hub_root(world: Any, org: str, group: str, *, bearer: bool = False) -> ApiRoot:
    url = f"{world.base}/taxii2/{group}/"
    if bearer:
        return ApiRoot(url, auth=BearerAuth(world.keys[org]))
    return ApiRoot(url, user=f"{org}-client", password=world.keys[org])


def hub_collection(world: Any, org: str, group: str = "africa", alias: str = "indicators") -> Collection:
    """A taxii2-client Collection on a hub collection (its information is fetched from the hub)."""
    cid = world.collections[f"{group}/{alias}"]
    return Collection(
        f"{world.base}/taxii2/{group}/collections/{cid}/", user=f"{org}-client", password=world.keys[org]
    )


# ------------------------------------------------------------------ medallion, the reference peer

MEDALLION_ROOT = "peer"
MEDALLION_COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
MEDALLION_USER, MEDALLION_PASSWORD = "peer-user", "peer-password"
MEDALLION_PAGE = 100


def medallion_data(base: str) -> dict[str, Any]:
    """A memory-backend data set: one API root with one empty read-write collection."""
    return {
        "/discovery": {
            "title": "medallion peer",
            "description": "reference TAXII 2.1 server for differential tests",
            "default": f"{base}/{MEDALLION_ROOT}/",
            "api_roots": [f"{base}/{MEDALLION_ROOT}/"],
        },
        MEDALLION_ROOT: {
            "information": {
                "title": "peer root",
                "description": "medallion API root",
                "versions": [TAXII],
                "max_content_length": 9_765_625,
            },
            "status": [],
            "collections": [
                {
                    "id": MEDALLION_COLLECTION,
                    "title": "peer collection",
                    "description": "read-write",
                    "can_read": True,
                    "can_write": True,
                    "media_types": [STIX],
                    "objects": [],
                    "manifest": [],
                }
            ],
        },
    }


@dataclass
class Medallion:
    """A running medallion 3.0 (Flask, memory backend, HTTP Basic users) on 127.0.0.1."""

    base: str
    app: Any

    def reset(self) -> None:
        """Start from an empty collection (a new memory backend; requests read it per call)."""
        from medallion.backends.memory_backend import MemoryBackend

        backend = MemoryBackend(filename=None, session_timeout=300, check_interval=60)
        backend.data = copy.deepcopy(medallion_data(self.base))
        self.app.medallion_backend = backend

    @property
    def collection_url(self) -> str:
        return f"{self.base}/{MEDALLION_ROOT}/collections/{MEDALLION_COLLECTION}/"

    def collection(self) -> Collection:
        return Collection(self.collection_url, user=MEDALLION_USER, password=MEDALLION_PASSWORD)

    def server(self) -> Server:
        return Server(self.base + "/taxii2/", user=MEDALLION_USER, password=MEDALLION_PASSWORD)


@pytest.fixture(scope="module")
def medallion() -> Iterator[Medallion]:
    """medallion's own Flask app, configured as its `load_app` would, served by werkzeug in a thread.

    medallion keeps one module-level Flask app per process; its blueprints are registered once (each
    xdist worker is its own process, with its own app and port).
    """
    import medallion as m
    from werkzeug.serving import make_server

    app = m.application_instance
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    m.set_config(app, "users", {"users": {MEDALLION_USER: MEDALLION_PASSWORD}})
    m.set_config(app, "taxii", {"taxii": {"max_page_size": MEDALLION_PAGE}})
    if "objects" not in app.blueprints:
        m.register_blueprints(app)
    peer = Medallion(base=base, app=app)
    peer.reset()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
