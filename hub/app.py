"""create_app(settings): builds the FastAPI app, mounts the routers, installs the error handlers."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub import metrics
from hub.admin import watch_routes as _watch_routes  # noqa: F401 - registers its routes on the admin router
from hub.admin.explain_routes import router as admin_router
from hub.admin.routes import docs_router as admin_docs_router
from hub.admin.routes import router as admin_v1_router
from hub.console import routes as console
from hub.console.web import error_page, is_console
from hub.db import SqliteCheckpointer, make_engine, make_sessionmaker
from hub.errors import HubError
from hub.lookup.api import api_router as lookup_api_router
from hub.lookup.benign import use_operator_lists
from hub.lookup.device_cache import DeviceListCache
from hub.lookup.export_routes import router as export_router
from hub.lookup.inside_routes import router as inside_router
from hub.lookup.routes import router as lookup_router
from hub.middleware import HardeningMiddleware, allowed_host_names
from hub.observability import ObservabilityMiddleware, health_router, request_id
from hub.schema import check_schema, head_revision
from hub.settings import Settings
from hub.store.audit import AuditWriter
from hub.taxii.media import TAXII
from hub.taxii.routes import router as taxii_router
from hub.trust.auth import AuthGuard

log = logging.getLogger("hub")


def _error(
    status: int,
    title: str,
    description: str = "",
    headers: dict[str, str] | None = None,
    request: Request | None = None,
) -> Response:
    if request is not None and is_console(request):  # the console's errors are HTML pages
        return error_page(request, status, title, description, headers)
    body: dict[str, Any] = {"title": title, "http_status": str(status)}
    if description:
        body["description"] = description
    # the admin API speaks plain JSON; its errors are the same TAXII error resources
    media = "application/json" if request is not None and _is_admin(request) else TAXII
    return Response(orjson.dumps(body), status_code=status, media_type=media, headers=headers)


def _is_admin(request: Request) -> bool:
    return request.url.path.startswith("/admin/")


def create_app(settings: Settings | None = None, *, sessionmaker: Any = None) -> FastAPI:
    """Build the hub. The engine is made in the lifespan, unless a session factory is given (tests)."""
    settings = settings or Settings()
    # the operator's known-benign lists, read once at start: an unreadable file stops the hub here
    use_operator_lists(settings.benign_lists.split(","))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = None
        checkpointer = None
        if sessionmaker is None:
            engine = make_engine(
                settings.database_url,
                pool_size=settings.pool_size,
                background_checkpoints=True,
                sqlite_cache_mb=settings.sqlite_cache_mb,
                sqlite_wal_limit_mb=settings.sqlite_wal_limit_mb,
                prepared_statements=settings.database_prepared_statements,
            )
            check_schema(engine)
            metrics.POOLS.watch(engine)
            app.state.sessionmaker = make_sessionmaker(engine)
            path = engine.url.database if engine.dialect.name == "sqlite" else None
            if path and path != ":memory:":
                checkpointer = SqliteCheckpointer(
                    path, limit_bytes=settings.sqlite_wal_limit_mb * 1024 * 1024
                ).start()
                metrics.WAL.watch(checkpointer)
            # the modules, routes and engine of a started server live as long as it does: kept out of the
            # cycle collector's full passes, which an envelope's objects otherwise make traverse them
            # again and again (about a fifth of ingest's CPU; docs/lookup-api.md, "What ingest costs")
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            app.state.audit.close()
            if app.state.device_lists is not None:
                app.state.device_lists.close()
            if checkpointer is not None:
                checkpointer.stop()
            if engine is not None:
                engine.dispose()

    app = FastAPI(title=settings.title, lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.auth_guard = AuthGuard(
        limit=settings.auth_failure_limit,
        window=settings.auth_failure_window,
    )
    app.state.schema_head = head_revision()
    # a given session factory may be bound to one connection (tests): no second thread may use it
    app.state.audit = AuditWriter(lambda: app.state.sessionmaker(), inline=sessionmaker is not None)
    if sessionmaker is not None:
        app.state.sessionmaker = sessionmaker
    # device lists kept on disk for HUB_DEVICE_LIST_MAX_AGE seconds (off at 0: each download is built)
    app.state.device_lists = (
        DeviceListCache(
            max_age_s=settings.device_list_max_age,
            stale_s=settings.device_list_stale_while_revalidate,
            max_entries=settings.device_list_cache_entries,
            max_bytes=settings.device_list_cache_bytes,
            parent=settings.device_list_cache_dir,
        )
        if settings.device_list_max_age > 0
        else None
    )
    allowed = allowed_host_names(settings.allowed_hosts, settings.public_url)
    if not allowed and not settings.public_url:
        log.info(
            "HUB_PUBLIC_URL and HUB_ALLOWED_HOSTS are unset: discovery links use the Host header of "
            "each request. Set one of them when the hub is reachable under names you do not control."
        )
    app.add_middleware(HardeningMiddleware, allowed=allowed, public_url=settings.public_url)
    app.include_router(taxii_router)
    app.include_router(admin_router)
    app.include_router(admin_v1_router)
    app.include_router(inside_router)
    app.include_router(admin_docs_router)
    app.include_router(health_router)
    console.install(app)
    app.include_router(lookup_router)
    app.include_router(export_router)
    app.include_router(lookup_api_router)
    app.add_middleware(ObservabilityMiddleware)

    @app.exception_handler(HubError)
    async def hub_error(request: Request, exc: HubError) -> Response:
        return _error(exc.http_status, exc.title, exc.description, exc.headers, request)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        if _is_admin(request):  # a JSON API: a value breaking the schema is a 422, as its OpenAPI says
            return _error(
                422, "Unprocessable request", f"{where}: {first.get('msg', 'invalid')}", None, request
            )
        return _error(400, "Bad request", f"{where}: {first.get('msg', 'invalid request')}", None, request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        titles = {404: "Not found", 405: "Method not allowed"}
        return _error(
            exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail or ""), None, request
        )

    @app.exception_handler(OperationalError)
    async def database_busy(request: Request, exc: OperationalError) -> Response:
        # the database is unreachable or, on SQLite, locked past busy_timeout: retrying is the remedy
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc.orig)
        return _error(
            503,
            "Service unavailable",
            "The database is busy or unreachable; retry shortly.",
            headers={"Retry-After": "2"},
            request=request,
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        rid = request_id.get()
        return _error(
            500,
            "Internal error",
            "The hub hit an unexpected error; it has been logged.",
            headers={"X-Request-ID": rid} if rid else None,
            request=request,
        )

    return app
