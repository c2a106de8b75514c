"""create_app(settings): builds the FastAPI app, mounts the routers, installs the error handlers."""

from __future__ import annotations

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
from hub.db import SqliteCheckpointer, make_engine, make_sessionmaker
from hub.errors import HubError
from hub.observability import ObservabilityMiddleware, health_router, request_id
from hub.schema import check_schema, head_revision
from hub.settings import Settings
from hub.taxii.media import TAXII
from hub.taxii.routes import router as taxii_router
from hub.trust.routes import router as admin_router

log = logging.getLogger("hub")


def _error(status: int, title: str, description: str = "", headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"title": title, "http_status": str(status)}
    if description:
        body["description"] = description
    return Response(orjson.dumps(body), status_code=status, media_type=TAXII, headers=headers)


def create_app(settings: Settings | None = None, *, sessionmaker: Any = None) -> FastAPI:
    """Build the hub. The engine is made in the lifespan, unless a session factory is given (tests)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = None
        if not settings.secret_key.get_secret_value() and not settings.database_url.startswith("sqlite"):
            log.warning(
                "HUB_SECRET_KEY is not set: page tokens are signed with a key derived from the database "
                "URL. Set the same random HUB_SECRET_KEY on every replica."
            )
        checkpointer = None
        if sessionmaker is None:
            engine = make_engine(
                settings.database_url, pool_size=settings.pool_size, background_checkpoints=True
            )
            check_schema(engine)
            metrics.POOLS.watch(engine)
            app.state.sessionmaker = make_sessionmaker(engine)
            path = engine.url.database if engine.dialect.name == "sqlite" else None
            if path and path != ":memory:":
                checkpointer = SqliteCheckpointer(path).start()
        try:
            yield
        finally:
            if checkpointer is not None:
                checkpointer.stop()
            if engine is not None:
                engine.dispose()

    app = FastAPI(title=settings.title, lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.schema_head = head_revision()
    if sessionmaker is not None:
        app.state.sessionmaker = sessionmaker
    app.include_router(taxii_router)
    app.include_router(admin_router)
    app.include_router(health_router)
    app.add_middleware(ObservabilityMiddleware)

    @app.exception_handler(HubError)
    async def hub_error(_request: Request, exc: HubError) -> Response:
        return _error(exc.http_status, exc.title, exc.description, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(400, "Bad request", f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        titles = {404: "Not found", 405: "Method not allowed"}
        return _error(exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail or ""))

    @app.exception_handler(OperationalError)
    async def database_busy(request: Request, exc: OperationalError) -> Response:
        # the database is unreachable or, on SQLite, locked past busy_timeout: retrying is the remedy
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc.orig)
        return _error(
            503,
            "Service unavailable",
            "The database is busy or unreachable; retry shortly.",
            headers={"Retry-After": "2"},
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
        )

    return app
