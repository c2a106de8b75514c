"""ASGI middleware every response passes through: security headers and the allowed-hosts check."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

import orjson
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.taxii.media import TAXII

SECURITY_HEADERS = {
    # answers carry shared intelligence and per-caller views: no cache may keep or replay them
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


def host_name(host_header: str) -> str:
    """The host of a Host header, without its port, lowercased ('[::1]:8000' -> '[::1]')."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def allowed_host_names(setting: str, public_url: str) -> frozenset[str]:
    """The names of `allowed_hosts` (comma-separated), plus the host of the public URL; empty: any."""
    names = {h.strip().lower() for h in setting.split(",") if h.strip()}
    if names and public_url:
        names.add(host_name(urlsplit(public_url).netloc))
    return frozenset(names)


class HardeningMiddleware:
    """Adds SECURITY_HEADERS to every response; refuses unknown Host headers (when `allowed` is given)
    and URLs holding NUL."""

    def __init__(self, app: ASGIApp, *, allowed: Iterable[str] = ()):
        self.app = app
        self.allowed = frozenset(allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        problem = None
        host = host_name(Headers(scope=scope).get("host", ""))
        if self.allowed and "*" not in self.allowed and host not in self.allowed:
            problem = "This hub does not answer for that host name (see HUB_ALLOWED_HOSTS)."
        query = scope.get("query_string", b"")
        if "\x00" in scope["path"] or b"\x00" in query or b"%00" in query:
            # no identifier, filter or token holds a NUL, and PostgreSQL text cannot carry one
            problem = "The URL holds a NUL character (%00), which no TAXII path or parameter may contain."
        if problem is not None:
            body = orjson.dumps({"title": "Bad request", "http_status": "400", "description": problem})
            await send_with_headers(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [
                        (b"content-type", TAXII.encode()),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send_with_headers({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send_with_headers)
