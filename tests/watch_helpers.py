"""Shared pieces of the constituency watch tests: ke-cirt in the test world, a real SMTP server and a
real HTTP receiver on 127.0.0.1, and a pass of the watch jobs."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiosmtpd.controller import Controller

from hub.db import begin_write
from hub.net import OutboundGuard
from hub.sync.notify import NotifyConfig, PassReport, SmtpConfig, run_once
from hub.trust.keys import bootstrap_admin_key
from hub.trust.schemas import TrustConfig
from hub.trust.service import apply_config
from tests.conftest import free_port
from tests.factories import TLP, World

KE = {
    "organisations": [
        {"slug": "ke-cirt", "name": "KE-CIRT", "country": "KE", "accounts": [{"name": "taxii"}]}
    ],
    "groups": [
        {
            "slug": "africa",
            "name": "Africa",
            "community": "south",
            "members": [{"org": "ke-cirt", "role": "contributor", "clearance": "green"}],
        }
    ],
}


def add_ke_cirt(sm: Any, world: World) -> None:
    """ke-cirt joins africa as a contributor with clearance GREEN; world.keys gets its key and 'admin'."""
    with sm() as session, session.begin():
        begin_write(session)
        issued = apply_config(session, TrustConfig.model_validate(KE), update=False)
    for k in issued:
        world.keys[k.organisation] = k.key
    if "admin" not in world.keys:
        with sm() as session, session.begin():
            _info, secret = bootstrap_admin_key(session)
        world.keys["admin"] = secret


def ip_indicator(ip: str, *, tlp: str = "green", n: str | None = None) -> dict[str, Any]:
    """An indicator of one IP address (a fresh id unless `n` names one)."""
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, n or ip + tlp + str(uuid.uuid4()))}",
        "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z",
        "name": f"c2 {ip}",
        "pattern": f"[ipv4-addr:value = '{ip}']",
        "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z",
        "object_marking_refs": [TLP[tlp]],
    }


def domain_sco(name: str, *, tlp: str = "green") -> dict[str, Any]:
    return {
        "type": "domain-name",
        "spec_version": "2.1",
        "id": f"domain-name--{uuid.uuid5(uuid.NAMESPACE_URL, name)}",
        "value": name,
        "object_marking_refs": [TLP[tlp]],
    }


def post(
    client: Any, world: World, who: str, objs: list[dict[str, Any]], *, alias: str = "indicators"
) -> None:
    r = client.post(
        world.objects_url("africa", alias),
        content=orjson.dumps({"objects": objs}),
        headers=world.post_headers(who),
    )
    assert r.status_code == 202, r.text
    assert r.json()["success_count"] == len(objs), r.text


def admin(client: Any, world: World, who: str, method: str, path: str, **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {world.keys[who]}"}
    return client.request(method, "/admin/v1" + path, headers=headers, **kw)


# ---------------------------------------------------------------- a real HTTP receiver


@dataclass
class Receiver:
    """Requests received: (headers, body); `status` is what it answers."""

    port: int
    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    status: int = 204

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@contextmanager
def http_receiver() -> Iterator[Receiver]:
    rec = Receiver(free_port())

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            rec.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(rec.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", rec.port), Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()


def valid_signature(secret: str, headers: dict[str, str], body: bytes) -> bool:
    want = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers.get("x-hub-signature-256", ""), want)


# ---------------------------------------------------------------- a real SMTP server


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[tuple[SmtpConfig, _Mailbox]]:
    box = _Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpConfig(host="127.0.0.1", port=port, sender="hub@hub.test", timeout=10), box
    finally:
        controller.stop()


def config(smtp: SmtpConfig | None, *, allow: str = "127.0.0.1") -> NotifyConfig:
    """The jobs' configuration: the guard allowing `allow` (as HUB_OUTBOUND_ALLOW), no settle delay."""
    return NotifyConfig(
        OutboundGuard.from_environ({"HUB_OUTBOUND_ALLOW": allow}), smtp, settle_s=0, timeout=5
    )


def run_pass(sm: Any, cfg: NotifyConfig, worker: str = "test-worker") -> PassReport:
    return run_once(sm, worker_id=worker, config=cfg)
