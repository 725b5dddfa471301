"""``hopwatch serve``, ``hopwatch worker ingest|score|summarize``, ``hopwatch apikey create``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

ConfigOpt = typer.Option(None, "--config", help="TOML/YAML settings file (or HOPWATCH_CONFIG).")


class WorkerKind(StrEnum):
    """Kinds of worker."""

    ingest = "ingest"
    score = "score"
    summarize = "summarize"


class Scope(StrEnum):
    """API key scopes."""

    read = "read"
    write = "write"
    admin = "admin"


def _settings(config: Path | None, **overrides: object):
    from service.settings import SettingsError, load_settings

    try:
        return load_settings(config, **overrides)
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def serve(
    host: str = typer.Option(None, "--host", help="Bind address (default: api.host)."),
    port: int = typer.Option(None, "--port", help="Port (default: api.port)."),
    workers: int = typer.Option(
        1,
        "--workers",
        help="uvicorn worker processes (2 on a 2-core box doubles read capacity; "
        "each loads its own summarizer).",
    ),
    config: Path | None = ConfigOpt,
) -> None:
    """Serve the REST API (OpenAPI docs at /docs)."""
    import uvicorn

    from detections.store import migrate, open_engine
    from service.app import create_app

    settings = _settings(config)
    engine = open_engine(settings.database.url)
    migrate(engine)
    engine.dispose()
    host = host or settings.api.host
    port = port or settings.api.port
    typer.echo(f"serving on http://{host}:{port} (docs: http://{host}:{port}/docs)")
    if workers > 1:
        if config is not None:  # the worker processes load settings from the environment
            import os

            os.environ["HOPWATCH_CONFIG"] = str(config.resolve())
        uvicorn.run("service.app:app_from_env", factory=True, host=host, port=port, workers=workers)
    else:
        uvicorn.run(create_app(settings, migrate_db=False), host=host, port=port)


def worker_ingest(
    once: bool = typer.Option(False, "--once", help="Exit when no job is pending."),
    config: Path | None = ConfigOpt,
) -> None:
    """Claim and run ingest jobs until SIGTERM (graceful)."""
    _run_worker(WorkerKind.ingest, once, config)


def worker_score(
    once: bool = typer.Option(False, "--once", help="Exit when no job is pending."),
    config: Path | None = ConfigOpt,
) -> None:
    """Claim and run score jobs until SIGTERM (graceful)."""
    _run_worker(WorkerKind.score, once, config)


def worker_summarize(
    once: bool = typer.Option(False, "--once", help="Exit when no job is pending."),
    config: Path | None = ConfigOpt,
) -> None:
    """Claim and run summarize jobs until SIGTERM (graceful)."""
    _run_worker(WorkerKind.summarize, once, config)


def apikey_create(
    name: str = typer.Option(..., "--name", help="Who or what uses the key."),
    scope: Scope = typer.Option(Scope.read, "--scope", help="read, write or admin."),
    config: Path | None = ConfigOpt,
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from detections.store import migrate, open_engine, session_factory
    from service.queries import apikeys
    from service.queries.errors import InvalidInput

    settings = _settings(config)
    engine = open_engine(settings.database.url)
    migrate(engine)
    try:
        with session_factory(engine)() as session, session.begin():
            _, key = apikeys.create(session=session, name=name, scope=scope.value)
    except InvalidInput as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    typer.echo(key)


def apikey_revoke(
    name: str = typer.Option(..., "--name", help="Name of the key to revoke."),
    config: Path | None = ConfigOpt,
) -> None:
    """Revoke an API key."""
    from detections.store import open_engine, session_factory
    from service.queries import apikeys

    settings = _settings(config)
    engine = open_engine(settings.database.url)
    with session_factory(engine)() as session, session.begin():
        found = apikeys.revoke(session=session, name=name)
    engine.dispose()
    if not found:
        typer.echo(f"no API key named {name!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {name}")


def _run_worker(kind: str, once: bool, config: Path | None) -> None:
    import asyncio
    import logging

    from detections.store import migrate, open_engine, session_factory
    from service.queries.summaries import build_summarizer
    from service.workers import Worker, context_from_settings, run_summarize_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = _settings(config)
    engine = open_engine(settings.database.url, pool_size=2)
    migrate(engine)
    summarizer = build_summarizer(settings.llm.to_config()) if kind == "summarize" else None
    ctx = context_from_settings(settings, sessions=session_factory(engine), summarizer=summarizer)
    worker = Worker(
        kind,
        ctx,
        lease_seconds=settings.worker.lease_seconds,
        poll_seconds=settings.worker.poll_seconds,
        max_attempts=settings.worker.max_attempts,
    )
    worker.install_signal_handlers()
    try:
        if kind == "summarize":
            done = asyncio.run(run_summarize_worker(worker, exit_when_idle=once))
        else:
            done = worker.run(exit_when_idle=once)
    finally:
        engine.dispose()
    typer.echo(f"{kind} worker {worker.name}: {done} jobs done")
