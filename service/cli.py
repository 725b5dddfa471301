"""The `hopwatch` command line.

Each command group lives in its own module under ``service/commands`` and adds
itself through ``register(app, groups)``; heavy libraries (torch, xgboost,
transformers) are imported inside the command functions so ``--help`` is fast.
"""

from __future__ import annotations

import importlib

import typer

COMMAND_MODULES = (
    "simulate",
    "ingest_lanl",
    "ingest_windows",
    "ingest_splunk",
    "rules",
    "detect",
    "explain",
    "summarize",
    "serve",
    "demo",
)


def build_app() -> typer.Typer:
    """The root Typer app with every command group registered."""
    app = typer.Typer(
        name="hopwatch",
        help="Find lateral movement in authentication logs and explain it.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    groups = {
        "ingest": typer.Typer(help="Read a source into a data directory.", no_args_is_help=True),
        "rules": typer.Typer(help="Declarative lateral-movement rules.", no_args_is_help=True),
        "worker": typer.Typer(help="Background workers that claim jobs.", no_args_is_help=True),
        "apikey": typer.Typer(help="Manage API keys.", no_args_is_help=True),
    }

    @app.callback()
    def root() -> None:
        """Find lateral movement in authentication logs and explain it."""

    @app.command()
    def version() -> None:
        """Print the hopwatch version."""
        from importlib.metadata import version as dist_version

        typer.echo(dist_version("hopwatch"))

    for name in COMMAND_MODULES:
        module = importlib.import_module(f"service.commands.{name}")
        module.register(app, groups)
    for name, group in groups.items():
        if group.registered_commands or group.registered_groups:
            app.add_typer(group, name=name)
    return app


def main() -> None:
    """Console-script entry point."""
    build_app()()


if __name__ == "__main__":
    main()
