"""Fetching feed payloads: local files, HTTP(S) URLs, MISP feeds and upstream TAXII collections."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpcore
import httpx
import requests
import urllib3

from hub.net import UNREACHABLE, OutboundGuard, OutboundRefused

log = logging.getLogger(__name__)

MAX_FEED_BYTES = 1024 * 1024 * 1024  # a feed larger than 1 GiB is almost certainly a mistake
# a coordinator's feed is read on the hub's machine, into memory: a smaller cap
GUARDED_MAX_FEED_BYTES = 128 * 1024 * 1024
DEFAULT_TIMEOUT_S = 30.0  # per read (or connect): how long an upstream may stay silent
CONNECT_TIMEOUT_S = 10.0
# query parameters that carry a secret: a URL is stored and printed, so it never holds one
SECRET_PARAMS = frozenset({"apikey", "api_key", "key", "token", "access_token", "password", "secret"})


def _user_agent() -> str:
    try:
        v = version("cirt-hub")
    except PackageNotFoundError:  # pragma: no cover - a checkout run without installing
        v = "dev"
    return f"cirt-hub/{v} (TAXII 2.1 sharing hub; feed sync)"


USER_AGENT = _user_agent()


class FetchError(RuntimeError):
    """A feed could not be fetched; the message says where and why."""


class RunInterrupted(RuntimeError):
    """A run was asked to stop (SIGTERM) or lost its lease; the message says which."""


class PeerError(FetchError):
    """A TAXII peer could not be reached or refused a request; the message says which and why."""


def is_url(source: str) -> bool:
    """True for http:// and https:// sources, whatever the scheme's case (`HTTP://` is a URL too)."""
    return urlsplit(source.strip()).scheme.lower() in ("http", "https")


def credentials_in_url(url: str) -> str | None:
    """What secret a URL carries (user info or a key-like query parameter), or None."""
    if not is_url(url):
        return None
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        return "user name or password in the URL"
    for key, _value in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower() in SECRET_PARAMS:
            return f"query parameter {key!r}"
    return None


def masked_url(url: str) -> str:
    """The URL with any user info and key-like query values replaced by ***, for display."""
    if not is_url(url) or credentials_in_url(url) is None:
        return url
    from urllib.parse import urlencode, urlunsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = ("***@" if parts.username or parts.password else "") + host
    if parts.port:
        netloc += f":{parts.port}"
    query = urlencode(
        [
            (k, "***" if k.lower() in SECRET_PARAMS else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def timeouts(seconds: float | None) -> httpx.Timeout:
    """Connect and read timeouts: `seconds` for reads (default 30), at most 10 s to connect."""
    t = seconds or DEFAULT_TIMEOUT_S
    return httpx.Timeout(t, connect=min(CONNECT_TIMEOUT_S, t))


class _GuardedBackend(httpcore.SyncBackend):
    """httpcore's network backend, connecting only to addresses the guard vetted at connect time."""

    def __init__(self, guard: OutboundGuard):
        self.guard = guard

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self.guard.addresses(host, port)
        except OutboundRefused as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        for address in addresses[:-1]:  # the URL's host name still goes in Host and TLS SNI
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                continue
        return super().connect_tcp(addresses[-1], port, timeout, local_address, socket_options)


def guarded_transport(guard: OutboundGuard) -> httpx.HTTPTransport:
    """An httpx transport whose every connection (each redirect hop included) the guard vets."""
    transport = httpx.HTTPTransport(trust_env=False)  # no proxy from the environment: it would be
    # the proxy's address that is checked, not the target's
    pool = transport._pool
    if not isinstance(pool, httpcore.ConnectionPool):  # pragma: no cover - httpx changed its insides
        raise RuntimeError("httpx's transport has no connection pool to guard")
    pool._network_backend = _GuardedBackend(guard)
    return transport


def http_client(
    *,
    timeout: float | None = None,
    auth: httpx.Auth | None = None,
    headers: Mapping[str, str] | None = None,
    guard: OutboundGuard | None = None,
) -> httpx.Client:
    """An httpx client with the hub's User-Agent, connect/read timeouts and redirects followed; with a
    guard, every connection (every redirect hop) goes only where the guard allows."""
    return httpx.Client(
        timeout=timeouts(timeout),
        follow_redirects=True,
        auth=auth,
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        transport=guarded_transport(guard) if guard is not None else None,
        trust_env=guard is None,
    )


@dataclass
class Conditional:
    """The validators of a URL feed's last download, sent back as a conditional GET.

    `not_modified` is set when the server answered 304: the feed has not changed since.
    """

    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False

    def headers(self) -> dict[str, str]:
        """If-None-Match / If-Modified-Since for the next request."""
        out = {}
        if self.etag:
            out["If-None-Match"] = self.etag
        if self.last_modified:
            out["If-Modified-Since"] = self.last_modified
        return out


@dataclass
class Access:
    """How to reach a source: credentials, timeout, validators of the last download."""

    user: str | None = None
    password: str | None = None
    auth_header: str | None = None  # send the password in this header instead of HTTP Basic
    timeout: float | None = None
    conditional: Conditional | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # a coordinator's feed: public addresses only, a smaller cap, errors that never echo the target
    guard: OutboundGuard | None = None

    def httpx_auth(self) -> httpx.Auth | None:
        """HTTP Basic credentials, unless the password goes in a header of its own."""
        if self.password is None or self.auth_header:
            return None
        return httpx.BasicAuth(self.user or "", self.password)

    def headers(self) -> dict[str, str]:
        """The header carrying the secret (when `auth_header`) and the conditional GET headers."""
        out = dict(self.extra)
        if self.auth_header and self.password is not None:
            out[self.auth_header] = self.password
        if self.conditional is not None:
            out.update(self.conditional.headers())
        return out


def read_source(
    source: str,
    *,
    client: httpx.Client | None = None,
    headers: dict[str, str] | None = None,
    access: Access | None = None,
) -> bytes:
    """The bytes of a local file or an HTTP(S) URL, refusing anything over MAX_FEED_BYTES.

    With `access.conditional`, a 304 answer returns b"" and sets `not_modified`; a 200 answer records
    the new ETag and Last-Modified there.
    """
    access = access or Access()
    guard = access.guard
    if not is_url(source):
        if guard is not None:
            raise FetchError("a coordinator's feed reads http(s) URLs only, never a file of the hub")
        path = Path(source)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise FetchError(f"{source}: {exc.strerror or exc}") from None
        if size > MAX_FEED_BYTES:
            raise FetchError(f"{source}: {size} bytes is over the {MAX_FEED_BYTES}-byte limit for one feed")
        return path.read_bytes()
    own = client is None
    http = client or http_client(timeout=access.timeout, auth=access.httpx_auth(), guard=guard)
    cond = access.conditional
    cap = MAX_FEED_BYTES if guard is None else GUARDED_MAX_FEED_BYTES
    shown = masked_url(source)
    try:
        with http.stream("GET", source, headers={**access.headers(), **(headers or {})}) as resp:
            if resp.status_code == 304 and cond is not None and cond.headers():
                cond.not_modified = True
                return b""
            if resp.status_code != 200:
                raise FetchError(f"{shown}: HTTP {resp.status_code}")
            if cond is not None:
                cond.etag = resp.headers.get("ETag")
                cond.last_modified = resp.headers.get("Last-Modified")
            declared = resp.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > cap:
                raise FetchError(f"{shown}: {declared} bytes is over the {cap}-byte limit for one feed")
            buf, size = bytearray(), 0
            for chunk in resp.iter_bytes():  # read as a stream, stopping at the cap
                size += len(chunk)
                if size > cap:
                    raise FetchError(f"{shown}: over the {cap}-byte limit for one feed")
                buf += chunk
            return bytes(buf)
    except (httpx.HTTPError, OutboundRefused) as exc:
        if guard is not None:  # one message for DNS, refused, unreachable and not public: no port scan
            log.info("coordinator feed %s: %s: %s", shown, type(exc).__name__, exc)
            raise FetchError(f"{shown}: {UNREACHABLE}") from None
        raise FetchError(f"{shown}: {type(exc).__name__}: {exc}") from None
    finally:
        if own:
            http.close()


def looks_like_html(raw: bytes) -> bool:
    """True for an HTML page (a maintenance, error or login page served where a feed should be)."""
    head = raw[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in head[:256]


def misp_feed_loader(
    source: str, *, client: httpx.Client | None = None, access: Access | None = None
) -> tuple[bytes, Callable[[str], bytes]]:
    """A MISP feed's manifest.json and a loader of its event files, from a folder or a base URL."""
    base = source.rstrip("/")
    plain = (
        Access(access.user, access.password, access.auth_header, access.timeout, guard=access.guard)
        if access
        else None
    )
    manifest = read_source(f"{base}/manifest.json", client=client, access=plain)
    return manifest, lambda name: read_source(f"{base}/{name}", client=client, access=plain)


def _guarded_pools(guard: OutboundGuard) -> dict[str, type[urllib3.HTTPConnectionPool]]:
    """urllib3 connection pools whose connections go only to addresses the guard vetted."""

    def new_conn(conn: urllib3.connection.HTTPConnection) -> socket.socket:
        timeout = conn.timeout if isinstance(conn.timeout, int | float) else None
        sock = guard.connect(conn._dns_host, conn.port, timeout, conn.source_address)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    class Conn(urllib3.connection.HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return new_conn(self)

    class TlsConn(urllib3.connection.HTTPSConnection):  # the URL's host name still goes in SNI
        def _new_conn(self) -> socket.socket:
            return new_conn(self)

    class Pool(urllib3.HTTPConnectionPool):
        ConnectionCls = Conn

    class TlsPool(urllib3.HTTPSConnectionPool):
        ConnectionCls = TlsConn

    return {"http": Pool, "https": TlsPool}


class _Timeouts(requests.adapters.HTTPAdapter):
    """A requests adapter that gives every request a timeout (taxii2-client passes none); with a guard,
    every connection goes only where the guard allows."""

    def __init__(self, timeout: tuple[float, float], guard: OutboundGuard | None = None):
        self.guard = guard
        super().__init__()
        self.timeout = timeout

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        if self.guard is not None:
            self.poolmanager.pool_classes_by_scheme = _guarded_pools(self.guard)

    def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


@dataclass
class TaxiiPage:
    """One page pulled from an upstream TAXII collection, and where the next pull should start."""

    objects: list[Any]
    date_added_last: str | None  # as the upstream sent it: the caller validates it


def taxii_pages(
    url: str,
    *,
    user: str | None = None,
    password: str | None = None,
    added_after: str | None = None,
    per_request: int = 1000,
    version: str = "2.1",
    timeout: float | None = None,
    guard: OutboundGuard | None = None,
) -> Iterator[TaxiiPage]:
    """Pull every object of an upstream TAXII 2.1 (or 2.0) collection added after `added_after`.

    taxii2-client does the paging (TAXII 2.1 `next`, TAXII 2.0 Range headers); the cursor for the next
    incremental pull is the X-TAXII-Date-Added-Last header of the last page, read through a response
    hook on taxii2-client's requests session (the client does not expose headers itself). Every request
    has connect and read timeouts, and a page that is not an envelope (`objects` not a list) fails.
    """
    if version == "2.0":
        from taxii2client.v20 import Collection, as_pages
    else:
        from taxii2client.v21 import Collection, as_pages
    last: dict[str, str | None] = {"added": None}

    def remember(resp: Any, *_args: Any, **_kwargs: Any) -> Any:
        last["added"] = resp.headers.get("X-TAXII-Date-Added-Last") or last["added"]
        return resp

    t = timeouts(timeout)
    adapter = _Timeouts((float(t.connect or CONNECT_TIMEOUT_S), float(t.read or DEFAULT_TIMEOUT_S)), guard)
    shown = masked_url(url)
    try:
        if guard is not None and not is_url(url):
            raise FetchError("a coordinator's feed reads http(s) URLs only")
        coll = Collection(url, user=user, password=password)
        session = coll._conn.session
        if guard is not None:
            session.trust_env = False  # a proxy from the environment would bypass the guard
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        coll._conn.user_agent = USER_AGENT  # taxii2-client sets the header on each request from this
        session.hooks["response"].append(remember)
        kwargs = {"added_after": added_after} if added_after else {}
        for envelope in as_pages(coll.get_objects, per_request=per_request, **kwargs):
            objects = envelope.get("objects", []) if isinstance(envelope, dict) else None
            if not isinstance(objects, list):
                raise FetchError(
                    f"{url}: the upstream's page is not a TAXII envelope "
                    + (
                        f"(`objects` is {type(objects).__name__}, not a list)"
                        if isinstance(envelope, dict)
                        else "(not a JSON object)"
                    )
                )
            yield TaxiiPage(objects, last["added"])
    except FetchError:
        raise
    except Exception as exc:  # taxii2-client raises requests' errors and its own alike
        if guard is not None:  # never echo what the target answered, nor how it failed
            log.info("coordinator feed %s: %s: %s", shown, type(exc).__name__, exc)
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if isinstance(status, int):
                raise FetchError(f"{shown}: HTTP {status}") from None
            raise FetchError(f"{shown}: {UNREACHABLE}") from None
        raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from None
