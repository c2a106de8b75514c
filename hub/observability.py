"""Operating the hub: request ids, the access log, request metrics, logging set-up, health and readiness."""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hub import metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID_HEADER = "x-request-id"
# an incoming id is kept only when it is short and plain, so it cannot forge log lines or bloat them
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("hub_request_id", default=None)

access_log = logging.getLogger("hub.access")

# Secrets a caller may paste where the hub logs text (a URL path, an error message): API keys
# (hub_<16 hex id>_<secret>), invitation tokens (inv_<id>_<secret>) keep their public id; a bare secret or
# console session token (43 URL-safe characters, from secrets.token_urlsafe(32)) and any longer run of
# them goes whole. Two kinds of run are kept, as neither is a secret and both help reading a log: a
# STIX id (mutex--<uuid> is 43 characters; the whole run must be one, since a secret may hold "--" too)
# and a digest in hex (a hash value, a request id): whole bytes, so an even count of hex digits, where
# every secret the hub hands out is 43 characters.
_PREFIXED_SECRET = re.compile(r"\b(hub|inv)_([0-9a-f]{16})_[A-Za-z0-9_-]+", re.IGNORECASE)
_LONG_RUN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{40,}(?![A-Za-z0-9_-])")
_KEPT_RUN = re.compile(
    r"[a-z][a-z0-9-]*[a-z0-9]--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|(?:[0-9a-fA-F]{2})+"
)
REDACTED = "[redacted]"


def _bare(match: re.Match[str]) -> str:
    return match[0] if _KEPT_RUN.fullmatch(match[0]) else REDACTED


def redact(text: str) -> str:
    """The text with anything shaped like a key, invitation token or session token replaced."""
    if len(text) < 40:
        return text
    text = _PREFIXED_SECRET.sub(lambda m: f"{m[1]}_{m[2]}_{REDACTED}", text)
    return _LONG_RUN.sub(_bare, text)


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SANE_ID.fullmatch(text) else None
    return None


def _has_credentials(scope: Scope) -> bool:
    return any(name == b"authorization" for name, _ in scope.get("headers", ()))


class ObservabilityMiddleware:
    """Gives each request an id (a sane incoming X-Request-ID, or a new one) echoed in the response,
    counts and times it by route template, counts 401s, and writes one access-log line.

    The access log has the method, the path (never the query string; anything shaped like a secret
    redacted), the status, the duration, the caller's organisation slug (set by the authentication
    dependency on `request.state`) and the request id; never a key or an Authorization header.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _incoming_id(scope) or uuid.uuid4().hex
        token = request_id.set(rid)
        scope.setdefault("state", {})
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", ()))
                headers.append((b"x-request-id", rid.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        failed = False
        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            failed = True  # the catch-all handler outside this middleware answers and logs with the id
            raise
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "<unmatched>"
            method = str(scope.get("method", ""))
            metrics.HTTP_REQUESTS.labels(method=method, route=route, status=str(status)).inc()
            metrics.HTTP_DURATION.labels(method=method, route=route).observe(elapsed)
            if status == 401:
                reason = "rejected" if _has_credentials(scope) else "missing"
                metrics.AUTH_FAILURES.labels(reason=reason).inc()
            org = scope["state"].get("organisation")
            path = redact(str(scope.get("path", "")))
            access_log.info(
                "%s %s %s %.1f ms",
                method,
                path,
                status,
                elapsed * 1000,
                extra={
                    "method": method,
                    "path": path,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "organisation": org,
                    "request_id": rid,
                },
            )
            if not failed:
                request_id.reset(token)


# ------------------------------------------------------------------ logging


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", None)
        return f"{line} [{rid}]" if rid else line


class _Redacting(logging.Formatter):
    """Wraps a formatter: every line it writes (message, extra fields, traceback) passes `redact`, so an
    error logged with a URL or an exception text holding a pasted key does not keep the secret."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a record is emitted (test runners swap it)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> Any:
        return sys.stderr


def log_handler(fmt: str = "auto", stream: Any = None) -> logging.Handler:
    """A handler writing one JSON object a line (`json`), or plain text (`text`); `auto` picks text
    for a terminal and JSON otherwise."""
    from pythonjsonlogger.json import JsonFormatter

    handler: logging.StreamHandler[Any] = logging.StreamHandler(stream) if stream is not None else _Stderr()
    if fmt == "auto":
        fmt = "text" if getattr(handler.stream, "isatty", lambda: False)() else "json"
    handler.addFilter(_RequestIdFilter())
    if fmt == "json":
        formatter: logging.Formatter = JsonFormatter(
            ["asctime", "levelname", "name", "message"],
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            datefmt="%Y-%m-%dT%H:%M:%S%z",
        )
    else:
        formatter = _TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(_Redacting(formatter))
    return handler


def configure_logging(fmt: str = "auto", level: str = "info") -> Callable[[], None]:
    """Send the hub's and uvicorn's logs to stderr through one handler; returns a function undoing it
    (a long-running command calls this at start and the undo at exit)."""
    root = logging.getLogger()
    handler = log_handler(fmt)
    saved_level = root.level
    root.addHandler(handler)
    root.setLevel(level.upper())
    quiet = logging.getLogger("alembic")  # its INFO lines at every schema check are noise in a server log
    saved_quiet = quiet.level
    quiet.setLevel(max(logging.WARNING, root.level))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True

    def undo() -> None:
        root.removeHandler(handler)
        root.setLevel(saved_level)
        quiet.setLevel(saved_quiet)

    return undo


# ------------------------------------------------------------------ health and readiness

health_router = APIRouter()


@health_router.get("/healthz", include_in_schema=False)
def healthz() -> JSONResponse:
    """Liveness: the process answers. Needs no credentials and says nothing else."""
    return JSONResponse({"status": "ok"})


def _schema_current(request: Request) -> bool:
    from alembic.runtime.migration import MigrationContext

    head = request.app.state.schema_head
    try:
        with request.app.state.sessionmaker() as session:
            current = MigrationContext.configure(session.connection()).get_current_revision()
    except Exception:  # any database failure means "not ready"; the reason goes to the log only
        logging.getLogger("hub").warning("readiness check: the database is unreachable", exc_info=True)
        return False
    if current != head:
        logging.getLogger("hub").warning("readiness check: schema at %s, this hub needs %s", current, head)
    return bool(current == head)


@health_router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> JSONResponse:
    """Readiness: the database answers and its schema is the one this hub needs. Says nothing else."""
    if await run_in_threadpool(_schema_current, request):
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "not ready"}, status_code=503, headers={"Retry-After": "5"})
