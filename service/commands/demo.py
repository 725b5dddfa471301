"""``hopwatch demo``: the main job on embedded defaults.

Simulates a small enterprise, ingests it into a data directory and prints a
summary. Later stages (detectors, alerts, summaries, the API) extend it.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

DEMO_DAYS = 7
DEMO_HOSTS = 300
DEMO_USERS = 240
DEMO_SEED = 7
DEMO_CAMPAIGNS = 3


def run_foundation(work: Path, *, seed: int = DEMO_SEED) -> dict:
    """Simulate and ingest a small enterprise under ``work``; return the ingest summary."""
    from ingest.lanl import ingest_lanl
    from ingest.sim_config import SimConfig
    from ingest.simulate import simulate, write_lanl

    config = SimConfig(
        days=DEMO_DAYS, hosts=DEMO_HOSTS, users=DEMO_USERS, seed=seed, campaigns=DEMO_CAMPAIGNS
    )
    files = write_lanl(simulate(config), work / "sim")
    result = ingest_lanl(files["auth"], work / "data", redteam=files["redteam"])
    return {"sim": str(work / "sim"), "data": str(work / "data"), **result.summary()}


def register(app: typer.Typer, groups: dict[str, typer.Typer]) -> None:
    """Add ``demo`` to the root app."""

    @app.command("demo")
    def demo_cmd(
        work: Path = typer.Option(Path("runs/demo"), "--work", help="Folder for demo outputs."),
        seed: int = typer.Option(DEMO_SEED, "--seed", help="Simulator seed."),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON summary last."),
    ) -> None:
        """Simulate a small enterprise, ingest it and print the summary."""
        from rich.console import Console
        from rich.table import Table

        work.mkdir(parents=True, exist_ok=True)
        console = Console(stderr=as_json)
        with console.status("simulating and ingesting a small enterprise"):
            summary = run_foundation(work, seed=seed)
        table = Table(title="hopwatch demo: ingest")
        table.add_column("what")
        table.add_column("value", justify="right")
        for key, value in summary.items():
            table.add_row(key, str(value))
        console.print(table)
        if as_json:
            typer.echo(json.dumps(summary))
