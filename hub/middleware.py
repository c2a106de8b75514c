"""ASGI middleware every response passes through: security headers, the allowed-hosts check and the refusal
of cross-site writes to the admin API and TAXII."""

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


def origin_of(url: str) -> str:
    """The origin (scheme://host[:port], lowercased) of a URL, '' when it has none."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return ""
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


# Writes a browser could be made to send from another site: an HTML form posts cross-site with whatever
# credentials the browser holds for the hub (a Basic password it once typed), so the admin API and TAXII
# refuse unsafe methods whose Origin is not the hub's or whose Sec-Fetch-Site says another site sent them.
# Clients that are not browsers (taxii2-client, MISP, curl, the hub's own CLI) send neither header.
_GUARDED_PREFIXES = ("/admin/", "/taxii2/")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FOREIGN_FETCH_SITES = frozenset({"cross-site", "same-site"})


def cross_site_write(scope: Scope, public_origin: str) -> bool:
    """Whether this request is an unsafe-method call of the admin API or TAXII sent by another site."""
    if scope.get("method", "GET") in _SAFE_METHODS or not scope["path"].startswith(_GUARDED_PREFIXES):
        return False
    headers = Headers(scope=scope)
    if headers.get("sec-fetch-site", "").strip().lower() in _FOREIGN_FETCH_SITES:
        return True
    origin = headers.get("origin")
    if origin is None:
        return False
    own = origin_of(origin)
    if not own:  # "null" (a sandboxed frame, a file:// page, a redirect) or garbage
        return True
    if public_origin and own == public_origin:
        return False
    # without a public URL (or behind a proxy that ends TLS) the hub's own origin is the host it was
    # asked for: the scheme may differ from what this process sees, the host and port may not
    return own.partition("://")[2] != headers.get("host", "").strip().lower()


def allowed_host_names(setting: str, public_url: str) -> frozenset[str]:
    """The names of `allowed_hosts` (comma-separated), plus the host of the public URL; empty: any."""
    names = {h.strip().lower() for h in setting.split(",") if h.strip()}
    if names and public_url:
        names.add(host_name(urlsplit(public_url).netloc))
    return frozenset(names)


class HardeningMiddleware:
    """Adds SECURITY_HEADERS to every response; refuses unknown Host headers (when `allowed` is given),
    URLs holding NUL (400) and cross-site writes to the admin API and TAXII (403)."""

    def __init__(self, app: ASGIApp, *, allowed: Iterable[str] = (), public_url: str = ""):
        self.app = app
        self.allowed = frozenset(allowed)
        self.public_origin = origin_of(public_url) if public_url else ""

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
        status = 400
        title = "Bad request"
        host = host_name(Headers(scope=scope).get("host", ""))
        if self.allowed and "*" not in self.allowed and host not in self.allowed:
            problem = "This hub does not answer for that host name (see HUB_ALLOWED_HOSTS)."
        query = scope.get("query_string", b"")
        if "\x00" in scope["path"] or b"\x00" in query or b"%00" in query:
            # no identifier, filter or token holds a NUL, and PostgreSQL text cannot carry one
            problem = "The URL holds a NUL character (%00), which no TAXII path or parameter may contain."
        if problem is None and cross_site_write(scope, self.public_origin):
            status, title = 403, "Forbidden"
            problem = (
                "A cross-site request may not change anything here (its Origin or Sec-Fetch-Site names "
                "another site). Call the API from a client, or from the hub's own pages."
            )
        if problem is not None:
            body = orjson.dumps({"title": title, "http_status": str(status), "description": problem})
            media = "application/json" if status == 403 and scope["path"].startswith("/admin/") else TAXII
            await send_with_headers(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", media.encode()),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send_with_headers({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send_with_headers)
