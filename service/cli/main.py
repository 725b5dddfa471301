"""The ``hopwatch`` command line, built from one table.

Each command is a module-level function of a module in :mod:`service.cli` (one module per
command group); :data:`COMMANDS` registers them, :data:`GROUPS` names the groups. Heavy
libraries (torch, xgboost, transformers) are imported inside the command functions, so
``--help`` is fast. A :class:`~ingest.errors.HopwatchError` that reaches :func:`main`
becomes one line on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from typing import NamedTuple

import typer

from ingest.errors import HopwatchError
from service.cli import demo, detect, ingest, rules, serve, simulate, summarize


class Command(NamedTuple):
    """One command: its group (``None``: the root), its name and its function."""

    group: str | None
    name: str
    function: Callable[..., None]


def version() -> None:
    """Print the hopwatch version."""
    from importlib.metadata import version as dist_version

    typer.echo(dist_version("hopwatch"))


GROUPS: dict[str, str] = {
    "ingest": "Read a source into a data directory.",
    "rules": "Lateral-movement rules in Sigma (run, check, list, export to Splunk).",
    "worker": "Background workers that claim jobs.",
    "apikey": "Manage API keys.",
}

COMMANDS: tuple[Command, ...] = (
    Command(None, "version", version),
    Command(None, "simulate", simulate.simulate),
    Command("ingest", "lanl", ingest.lanl),
    Command("ingest", "windows", ingest.windows),
    Command("ingest", "splunk", ingest.splunk),
    Command("rules", "run", rules.rules_run),
    Command("rules", "check", rules.rules_check),
    Command("rules", "list", rules.rules_list),
    Command("rules", "export", rules.rules_export),
    Command(None, "train", detect.train),
    Command(None, "score", detect.score),
    Command(None, "evaluate", detect.evaluate),
    Command(None, "explain", detect.explain),
    Command(None, "summarize", summarize.summarize),
    Command(None, "serve", serve.serve),
    Command("worker", "ingest", serve.worker_ingest),
    Command("worker", "score", serve.worker_score),
    Command("worker", "summarize", serve.worker_summarize),
    Command("apikey", "create", serve.apikey_create),
    Command("apikey", "revoke", serve.apikey_revoke),
    Command(None, "demo", demo.demo),
)


def build_app() -> typer.Typer:
    """The root Typer app with every command of :data:`COMMANDS` registered."""
    app = typer.Typer(
        name="hopwatch",
        help="Find lateral movement in authentication logs and explain it.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    groups = {name: typer.Typer(help=text, no_args_is_help=True) for name, text in GROUPS.items()}
    for command in COMMANDS:
        target = app if command.group is None else groups[command.group]
        target.command(command.name)(command.function)
    for name, group in groups.items():
        app.add_typer(group, name=name)
    return app


def main() -> None:
    """Console-script entry point: run the app; a hopwatch error is one line and exit 1."""
    app = build_app()
    try:
        app()
    except HopwatchError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    finally:
        # The process ends now: the interpreter's last garbage collection would only walk
        # what is still alive (Polars', pyarrow's, torch's modules: 0.1 s after an ingest).
        gc.freeze()
