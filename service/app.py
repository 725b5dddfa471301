"""The FastAPI application factory.

    app = create_app(load_settings())           # uvicorn service.app:app_from_env --factory

Routes live in ``service/api``; this module wires settings, the database, the
summarizer, metrics, limits and the mapping of domain errors to HTTP statuses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ingest.errors import HopwatchError
from service.settings import Settings

API_DESCRIPTION = """Alerts, campaigns and summaries of lateral movement found by hopwatch.

Every route except `/health` needs an API key (`Authorization: Bearer <key>` or
`X-API-Key: <key>`), created with `hopwatch apikey create --name N --scope read|write|admin`.
"""


def _error(status: int, detail: Any) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    from service.queries.errors import InvalidInput, NotFound, TimedOut, Unavailable

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(InvalidInput)
    async def _invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        loc = ["body", exc.field] if exc.field in ("events", "xml") else ["query", exc.field]
        return _error(422, [{"loc": loc, "msg": exc.message, "type": "value_error"}])

    @app.exception_handler(Unavailable)
    async def _unavailable(_: Request, exc: Unavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(TimedOut)
    async def _timeout(_: Request, exc: TimedOut) -> JSONResponse:
        return _error(504, str(exc))

    @app.exception_handler(OperationalError)
    async def _db_down(_: Request, exc: OperationalError) -> JSONResponse:
        return JSONResponse(
            {"detail": "database unavailable"}, status_code=503, headers={"Retry-After": "5"}
        )

    @app.exception_handler(PoolTimeout)
    async def _db_busy(_: Request, exc: PoolTimeout) -> JSONResponse:
        return JSONResponse(
            {"detail": "database busy: no free connection"},
            status_code=503,
            headers={"Retry-After": "1"},
        )


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    summarizer: Any = None,
    migrate_db: bool = True,
    key_cache_ttl: float = 5.0,
) -> FastAPI:
    """Build the API.

    Args:
        settings: the validated settings tree.
        engine: an open engine (default: one for ``settings.database.url``, disposed at exit).
        summarizer: the summary engine (default: built from ``settings.llm``), started
            and closed with the app.
        migrate_db: bring the database to the latest schema at start-up.
        key_cache_ttl: seconds a verified API key is remembered (0: always look up).
    """
    from detections.store import migrate, open_engine, session_factory
    from service.api import alerts, campaigns, events, system, triage
    from service.api.keycache import KeyCache
    from service.api.metrics import Metrics, MetricsMiddleware
    from service.queries.summaries import build_summarizer

    own_engine = engine is None
    engine = engine or open_engine(settings.database.url, pool_size=settings.database.pool_size)
    if migrate_db:
        migrate(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.summarizer is None:
            app.state.summarizer = build_summarizer(settings.llm.to_config())
        start = getattr(app.state.summarizer, "start", None)
        if start is not None:
            try:
                await start()
            except Exception as exc:  # the API must come up even when the LLM cannot
                import logging

                from service.queries.summaries import TemplateSummarizer

                logging.getLogger("hopwatch.api").warning(
                    "summarizer failed to start (%s); using template summaries", exc
                )
                app.state.summarizer = TemplateSummarizer()
        try:
            yield
        finally:
            close = getattr(app.state.summarizer, "aclose", None)
            if close is not None:
                await close()
            if own_engine:
                engine.dispose()

    docs = settings.api.docs
    app = FastAPI(
        title="hopwatch",
        version="0.1.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.read_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
    app.state.sessions = session_factory(engine)
    app.state.summarizer = summarizer
    app.state.key_cache = KeyCache(ttl=key_cache_ttl)
    app.state.metrics = Metrics()
    _install_error_handlers(app)
    for module in (alerts, campaigns, events, system, triage):
        app.include_router(module.router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.api.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app


class BodyLimitMiddleware:
    """Reject request bodies over ``max_bytes`` with 413, whether or not
    Content-Length is given (chunked bodies are counted as they stream)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = True
                if too_big:
                    await _too_large(send, self.max_bytes)
                    return
        seen = 0

        async def limited() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge:
            await _too_large(send, self.max_bytes)


class _BodyTooLarge(HopwatchError):
    pass


async def _too_large(send: Any, limit: int) -> None:
    body = f'{{"detail":"request body over {limit} bytes"}}'.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def app_from_env() -> FastAPI:
    """The app configured from the environment / ``HOPWATCH_CONFIG`` (uvicorn ``--factory``)."""
    from service.settings import load_settings

    return create_app(load_settings())
